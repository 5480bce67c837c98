"""Property tests of the order semantics end to end: random sequences of alerts through the real
``Router`` to paper accounts of every kind, checking the money-safety invariants after each.

tests/test_planning_properties.py checks the planner alone; here the same principles
(docs/order-semantics.md, router_core/planning.py) are checked on what reaches the venue and
on what the router reports and journals, across sequences where earlier alerts left positions,
holdings and resting orders behind:

* ``cash``: a paper spot wallet seeded with 2.5 BTC the router did not buy;
* ``net``: a paper futures account (close then open: the paper venue has no single-order flip);
* ``margin``: paper spot margin with ``leverage = 2`` on the account.

Market orders fill at ``fill_price``; stop orders rest (the paper venue has no price feed), so
a stop reversal's close never fills and the open is never sent. The clock is the real one; the
close-fill timeout is a few milliseconds so those reversals stay fast.

The invariants (checked after every alert, on the account it was routed to):

1. cash: the wallet's own coins are never sold: the venue's balance never drops below the seed
   and is always the seed plus the router's holdings; no alert sells more than the router held
   before it.
2. reduceOnly never increases |position| (nor flips it), on any kind of account.
3. an explicit quantity caps every OPEN leg; no CLOSE leg exceeds the position it closes.
4. net: a ``report.ok`` buy/sell with a directional sentiment leaves the position on the
   sentiment's side (counting the alert's own resting orders as filled).
5. after an ok full ``exit``, none of the router's earlier resting orders for that account and
   symbol is left (``journal.open_legs``), at the venue either.
6. the report's positions agree with the venue (net, margin) or the router's holdings (cash),
   before and after; the other accounts are untouched.

7. on a wallet the router's resting sells never add up to more than it holds (the last test).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from router_core import hookimpl
from router_core.journal import ClaimOutcome
from router_core.models import (
    ExecutionReport,
    Instrument,
    LegPurpose,
    LegReport,
    Order,
    OrderStatus,
    Sentiment,
    Side,
)
from router_core.normalize import normalize
from router_core.plugins import make_plugin_manager
from router_core.router import Router

D = Decimal
ZERO = D(0)
TICKER = "BTCUSD"
SEED = D("2.5")  # the cash wallet's coins the router did not buy
LOT = D("0.0001")  # the paper venue's default lot size
DEFAULT_QUANTITY = D(1)  # the accounts' default quantity (an alert without one)
ACCOUNTS = ("cash", "net", "margin")

CONFIG = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.cash]
broker = "paper"
account_kind = "cash"
wallet = {{ BTC = "2.5" }}
fill_price = "50000"

[accounts.net]
broker = "paper"
account_kind = "net"
fill_price = "50000"
close_fill_timeout_seconds = 0.005

[accounts.margin]
broker = "paper"
account_kind = "margin"
leverage = 2
fill_price = "50000"
close_fill_timeout_seconds = 0.005
"""


@dataclass
class VenueSpy:
    """Sees every order on its way to the paper broker (it answers nothing itself)."""

    orders: list[Order] = field(default_factory=list)

    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Order) -> None:
        self.orders.append(order)


# -- alerts ------------------------------------------------------------------------------------

# Small sizes on the lot, with the round ones that meet earlier positions exactly.
QUANTITIES = st.sampled_from([D("0.0001"), D("0.5"), D(1), D("1.5"), D(2), D("2.5"), D(3)]) | (
    st.integers(1, 30_000).map(lambda n: n * LOT))
SENTIMENTS = st.sampled_from([s.value for s in Sentiment])


ACTIONS = ("buy", "buy", "sell", "sell", "exit", "exit", "reverse", "add", "cancel")


@st.composite
def alerts(draw: st.DrawFn, accounts: tuple[str, ...] = ACCOUNTS,
           actions: tuple[str, ...] = ACTIONS,
           sentiments: st.SearchStrategy[str | None] = st.none() | st.none() | SENTIMENTS,
           ) -> dict[str, Any]:
    """One alert body for one of ``accounts`` (its ``id`` is added when it is sent)."""
    account = draw(st.sampled_from(accounts))
    action = draw(st.sampled_from(actions))
    body: dict[str, Any] = {"ticker": TICKER, "action": action, "accounts": [account]}
    if action == "cancel":
        return body  # a cancel takes no size
    sizing = draw(st.sampled_from(["none", "fixed", "fixed", "percent"]))
    if sizing == "percent" and action in ("buy", "sell", "exit"):
        body["quantity"] = str(draw(st.integers(1, 100)))
        body["quantityType"] = "percent_of_position"
    elif sizing != "none":
        body["quantity"] = format(draw(QUANTITIES), "f")
    sentiment = draw(sentiments)
    if sentiment is not None:
        body["sentiment"] = sentiment
    if draw(st.integers(0, 4)) == 0:
        body["reduceOnly"] = True
    if draw(st.integers(0, 3)) == 0:  # rests on paper: no price feed to trigger it
        body["orderType"] = "stop"
        body["stopPrice"] = draw(st.sampled_from(["48000", "52000"]))
    return body


def sequences(max_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Alerts to all three accounts, or (more often) to one, so that an alert meets what the
    alerts before it left on its account: positions, holdings, resting orders."""
    focus = st.sampled_from([ACCOUNTS, ("cash",), ("net",), ("margin",)])
    return focus.flatmap(
        lambda accounts: st.lists(alerts(accounts), min_size=1, max_size=max_size))


# -- the paper router --------------------------------------------------------------------------

@dataclass
class Paper:
    router: Router
    spy: VenueSpy
    instruments: dict[str, Instrument] = field(default_factory=dict)

    async def instrument(self, account: str) -> Instrument:
        if account not in self.instruments:
            broker = self.router.brokers[account]
            self.instruments[account] = await broker.resolve(normalize(TICKER))
        return self.instruments[account]

    async def venue(self, account: str) -> Decimal:
        """The paper venue's position (cash: the wallet's whole BTC balance, seed included)."""
        broker = self.router.brokers[account]
        return (await broker.position(await self.instrument(account))).quantity

    async def held(self, account: str) -> Decimal:
        """The position the router acts on: the venue's (net, margin), else its holdings."""
        if account == "cash":
            return self.router.journal.holdings(account, (await self.instrument(account)).symbol)
        return await self.venue(account)

    async def promised(self, account: str) -> Decimal:
        symbol = (await self.instrument(account)).symbol
        return self.router.journal.resting_sells(account, symbol)

    async def resting(self, account: str) -> set[str]:
        symbol = (await self.instrument(account)).symbol
        return {leg.client_order_id for leg in self.router.journal.open_legs(account, symbol)}

    async def status(self, account: str, client_order_id: str) -> OrderStatus | None:
        broker = self.router.brokers[account]
        found = await broker.find_order(client_order_id, await self.instrument(account))
        return found.status if found else None

    async def route(self, body: dict[str, Any]) -> ExecutionReport:
        raw = json.dumps({**body, "id": str(uuid.uuid4())}).encode()
        acceptance = self.router.accept(raw, "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW, acceptance
        return await self.router.execute(acceptance.alert_id)


Check = Callable[[Paper, dict[str, Any]], Awaitable[None]]


def sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


def signed(side: Side | None, quantity: Decimal | None) -> Decimal:
    if side is None or quantity is None:
        return ZERO
    return quantity if side is Side.BUY else -quantity


def filled(leg: LegReport) -> Decimal:
    """The signed quantity a leg of the report is known to have filled."""
    if leg.purpose is LegPurpose.CANCEL:
        return ZERO
    result = leg.result
    quantity = result.filled_quantity
    if quantity is None:
        quantity = result.quantity if result.status is OrderStatus.FILLED else ZERO
    return signed(leg.side, quantity)


def resting_legs(report: ExecutionReport) -> list[LegReport]:
    """The orders the alert placed that rest at the venue (stop orders, on paper)."""
    return [leg for leg in report.legs if leg.purpose is not LegPurpose.CANCEL
            and leg.result.status is OrderStatus.ACCEPTED]


# -- the invariants ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Before:
    venue: dict[str, Decimal]
    held: Decimal
    resting: set[str]
    promised: Decimal = ZERO  # cash: what the router's resting sells may still sell


async def check(p: Paper, body: dict[str, Any], before: Before, report: ExecutionReport,
                sent: list[Order]) -> None:
    account = body["accounts"][0]
    kind = account  # each account is named after its kind
    what = json.dumps(report.to_dict(), indent=1, default=str)
    context = f"alert {body}\nheld before {before.held}\nreport {what}"
    venue_after = await p.venue(account)
    held_after = await p.held(account)
    held_before = before.held
    reduce_only = bool(body.get("reduceOnly"))
    action = body["action"]

    # Every order reached the venue for this account, and each one is in the report.
    assert all(order.account == account for order in sent), context
    ids = {leg.result.client_order_id for leg in report.legs}
    assert all(order.client_order_id in ids for order in sent), context
    # The other accounts are untouched.
    for other in ACCOUNTS:
        if other != account:
            assert await p.venue(other) == before.venue[other], (other, context)
    # What filled is what moved the position the router acts on.
    moved = sum((filled(leg) for leg in report.legs), ZERO)
    assert held_after - held_before == moved, context

    # (1) cash: the wallet's own coins are never sold.
    if kind == "cash":
        assert venue_after >= SEED, context
        assert venue_after == SEED + held_after, context
        assert held_after >= 0, context
        sells = [order for order in sent if order.side is Side.SELL]
        assert sum((order.quantity for order in sells), ZERO) <= held_before, context
        assert all(order.reduce_only for order in sells), context
        assert not any(leg.side is Side.SELL and leg.result.status.is_success
                       and (leg.result.quantity or ZERO) > held_before
                       for leg in report.legs if leg.purpose is not LegPurpose.CANCEL), context

    # (2) reduceOnly never grows the position, nor turns it around.
    if reduce_only:
        assert abs(held_after) <= abs(held_before), context
        assert sign(held_after) in (0, sign(held_before)), context
        if action != "cancel":
            assert all(order.reduce_only for order in sent), context
            assert not any(order.purpose is LegPurpose.OPEN for order in sent), context

    # (3) an explicit quantity caps every OPEN leg (multiplier 1); a CLOSE never exceeds the
    # position it closes.
    if "quantity" in body and "quantityType" not in body:
        cap = D(body["quantity"])
        for leg in report.legs:  # refused ones too: they say what would have been sent
            if leg.purpose is LegPurpose.OPEN and leg.result.quantity is not None:
                assert leg.result.quantity <= cap, context
        assert all(order.quantity <= cap for order in sent
                   if order.purpose is LegPurpose.OPEN), context
    assert all(order.quantity <= abs(held_before) for order in sent
               if order.purpose is LegPurpose.CLOSE), context

    # (4) net: ok means on the sentiment's side (the alert's resting orders counted as filled).
    sentiment = Sentiment(body["sentiment"]) if "sentiment" in body else None
    if (kind == "net" and report.ok and action in ("buy", "sell") and not reduce_only
            and sentiment is not None and sentiment.direction != 0):
        direction = 1 if action == "buy" else -1
        aimed = held_after + sum((signed(leg.side, leg.result.quantity)
                                  for leg in resting_legs(report)), ZERO)
        percent = body.get("quantityType") == "percent_of_position"
        if sentiment.direction == direction:
            if not (percent and sign(held_before) == -direction):
                # percent_of_position against the position is a partial close whatever the
                # sentiment (docs/order-semantics.md, rule 2): the account stays on its side;
                # only its report is checked (invariant 6)
                assert sign(aimed) == direction, context
        else:  # "sell, sentiment long": the strategy stays long, only smaller
            assert sign(held_before) == sentiment.direction, context
            assert sign(aimed) in (0, sentiment.direction), context
            if aimed == 0:  # closed all only when the alert asked for all of it or more
                if percent:
                    asked = abs(held_before) * D(body["quantity"]) / 100
                else:
                    asked = D(body.get("quantity", DEFAULT_QUANTITY))
                assert asked >= abs(held_before), context

    # (5) an ok full exit leaves none of the router's earlier resting orders.
    if action == "exit" and report.ok:
        if "quantity" not in body:
            full = True
        elif "quantityType" in body:
            full = D(body["quantity"]) == 100
        else:
            full = D(body["quantity"]) >= abs(held_before)
        if full:
            left = await p.resting(account)
            assert not (left & before.resting), (left & before.resting, context)
            own = {leg.result.client_order_id for leg in resting_legs(report)}
            assert left <= own, (left - own, context)
            for cid in before.resting:
                assert await p.status(account, cid) is not OrderStatus.ACCEPTED, (cid, context)

    # (6) the report's positions are the venue's (net, margin) or the holdings (cash).
    if action == "cancel":
        assert report.positions == (), context
    for position in report.positions:
        assert position.account == account, context
        if kind == "cash":
            # the position a cash plan acts on is what the router holds less what its resting
            # sells may still sell (all of it again once an exit has cancelled them)
            sellable = max(held_before - before.promised, ZERO)
            if position.before is not None:  # a plain buy on a wallet reads no position
                assert position.before in (held_before, sellable), context
            if position.before is not None and position.after is not None:
                assert position.after == position.before + moved, context
        else:
            if position.before is not None:
                assert position.before == held_before, context
            if position.after is not None:
                assert position.after == held_after, context
                assert position.after == venue_after, context
            if report.ok and position.target is not None:
                pending = sum((signed(leg.side, leg.result.quantity)
                               for leg in resting_legs(report)), ZERO)
                assert position.target == position.after + pending, context


async def resting_sells_within_holdings(p: Paper, body: dict[str, Any]) -> None:
    """cash: the sells the router leaves resting at the venue (stop losses, take profits)
    never add up to more than it holds; else, once they trigger, they sell the wallet's coins
    (a spot venue has no reduce-only: nothing caps them at what the router bought)."""
    symbol = (await p.instrument("cash")).symbol
    resting = sum((D(leg.order["quantity"]) for leg in p.router.journal.open_legs("cash", symbol)
                   if leg.order.get("side") == "sell"), ZERO)
    held = await p.held("cash")
    assert resting <= held, (f"after {body}: the router holds {held} and leaves sells of "
                             f"{resting} resting on the wallet")


async def run_sequence(bodies: list[dict[str, Any]], *extra: Check) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        spy = VenueSpy()
        path = root / "paper.toml"
        path.write_text(CONFIG.format(state=root / "state"))
        router = Router.from_config_file(
            path, plugins=make_plugin_manager(["paper"], extra=[("venue-spy", spy)]))
        try:
            assert await router.start() == []
            p = Paper(router, spy)
            for body in bodies:
                account = body["accounts"][0]
                before = Before(
                    venue={name: await p.venue(name) for name in ACCOUNTS},
                    held=await p.held(account),
                    resting=await p.resting(account),
                    promised=await p.promised(account),
                )
                since = len(spy.orders)
                report = await p.route(body)
                await check(p, body, before, report, spy.orders[since:])
                for more in extra:
                    await more(p, body)
        finally:
            await router.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(8))
def test_random_alert_sequences_keep_the_money_safety_invariants(
    bodies: list[dict[str, Any]],
) -> None:
    asyncio.run(run_sequence(bodies))


# Sequences that start from a position on every account, so that closes, partial exits,
# reversals and resting orders are exercised from the first alert on.
OPENING = [
    {"ticker": TICKER, "action": "buy", "quantity": "1.5", "accounts": ["cash"]},
    {"ticker": TICKER, "action": "buy", "quantity": "2", "accounts": ["net"]},
    {"ticker": TICKER, "action": "sell", "quantity": "1", "accounts": ["margin"]},
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(6))
def test_sequences_from_open_positions_keep_the_money_safety_invariants(
    bodies: list[dict[str, Any]],
) -> None:
    asyncio.run(run_sequence(OPENING + bodies))


# Signals on the net account: mostly a buy or sell with a directional sentiment (invariant 4).
SIGNAL = alerts(("net",), ("buy", "sell"), st.sampled_from(["long", "short", "bullish",
                                                            "bearish"]))
SIGNALS = st.lists(st.one_of(SIGNAL, SIGNAL, alerts(("net",))), min_size=1, max_size=8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SIGNALS)
def test_net_signal_sequences_keep_the_money_safety_invariants(
    bodies: list[dict[str, Any]],
) -> None:
    asyncio.run(run_sequence(bodies))


# -- a cash account's resting sells never outgrow what the router holds ------------------------
# (after buy 1 and a resting stop sell of 1, a market sell of 0.5 finds nothing left to sell:
# the stop already promises all of it; an exit cancels the stop first and sells the 1)

BOUGHT_1_STOP_1_SELL_HALF = [
    {"ticker": TICKER, "action": "buy", "quantity": "1", "accounts": ["cash"]},
    {"ticker": TICKER, "action": "sell", "quantity": "1", "reduceOnly": True,
     "orderType": "stop", "stopPrice": "48000", "accounts": ["cash"]},
    {"ticker": TICKER, "action": "sell", "quantity": "0.5", "accounts": ["cash"]},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(BOUGHT_1_STOP_1_SELL_HALF)
@given(st.lists(alerts(("cash",)), min_size=1, max_size=8))
def test_cash_resting_sells_never_exceed_what_the_router_holds(
    bodies: list[dict[str, Any]],
) -> None:
    asyncio.run(run_sequence(bodies, resting_sells_within_holdings))
