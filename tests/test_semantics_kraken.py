"""The order-semantics examples end to end on the Kraken fakes.

Every example row of the table in docs/order-semantics.md ("Examples"), routed through the
real ``Router`` (in-process, over ``httpx.ASGITransport``) to the loopback fakes of Kraken
Futures and Kraken spot. Each test checks three things: the orders the fake actually received
(side, size, type, price, reduceOnly, leverage), what the venue holds afterwards (position or
balances), and the report (ok, leg statuses, the denial naming the rule, positions before/after).

The clock is a ``FakeClock``: every wait the router makes (polling a close until it fills, the
reconcile window) returns at once, so the file runs in a few seconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_kraken_futures.fake import FAKE_API_KEY as FUTURES_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as FUTURES_SECRET
from router_kraken_futures.fake import FakeKrakenFutures, FakeOrder
from router_kraken_spot.fake import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake import FAKE_API_SECRET as SPOT_SECRET
from router_kraken_spot.fake import FakeKraken

from router_core import make_plugin_manager
from router_core.journal import ClaimOutcome
from router_core.models import ExecutionReport, Plan
from router_core.router import Router
from router_core.testing import FakeClock

D = Decimal
PF = "PF_XBTUSD"  # what XBTUSD.P resolves to on Kraken Futures
PAIR = "XXBTZUSD"  # what XBTUSD resolves to on Kraken spot
RESTING_STATES = ("ENTERED_BOOK", "TRIGGER_PLACED")


class SteppedClock(FakeClock):
    """A FakeClock that runs ``on_sleep`` after every sleep: the market moving while the
    router waits (a resting close that fills during the wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_sleep: Callable[[], None] | None = None

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        if self.on_sleep is not None:
            self.on_sleep()


async def _route(router: Router, alert: dict[str, Any]) -> ExecutionReport:
    body = {"id": str(uuid.uuid4()), **alert}  # every alert its own intent
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


def legs(report: ExecutionReport) -> list[tuple[str, str | None, str, Decimal | None]]:
    """(purpose, side, status, quantity) of every leg, in order."""
    return [(leg.purpose.value, leg.side.value if leg.side else None, leg.result.status.value,
             leg.result.quantity) for leg in report.legs]


def reasons(report: ExecutionReport) -> list[str]:
    return [leg.result.reason or "" for leg in report.legs]


def before_after(report: ExecutionReport) -> tuple[Decimal | None, Decimal | None]:
    (position,) = report.positions
    return position.before, position.after


def target(report: ExecutionReport) -> Decimal | None:
    (position,) = report.positions
    return position.target


# -- Kraken Futures --------------------------------------------------------------------------

FUTURES_TOML = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.futures]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
{mode}
close_fill_timeout_seconds = 0.5
{extra}
"""


@dataclass
class Futures:
    router: Router
    fake: FakeKrakenFutures
    clock: SteppedClock

    async def route(self, **alert: Any) -> ExecutionReport:
        return await _route(self.router, {"ticker": "XBTUSD.P", **alert})

    @property
    def position(self) -> Decimal:
        return self.fake.exchange.positions.get(PF, D(0))

    def hold(self, quantity: str) -> None:
        """Start from this net position at the venue (the router did not open it)."""
        self.fake.exchange.positions[PF] = D(quantity)

    def orders(self, since: int = 0) -> list[tuple[str, str, Decimal, Decimal | None, bool]]:
        """(orderType, side, size, limitPrice, reduceOnly) of every sendorder received."""
        return [(p["orderType"], p["side"], D(p["size"]),
                 D(p["limitPrice"]) if "limitPrice" in p else None,
                 p.get("reduceOnly") == "true") for p in self.fake.sendorders[since:]]

    def endpoints(self, since: int = 0) -> list[str]:
        """The private order endpoints called, in order."""
        return [r.endpoint for r in self.fake.requests[since:]
                if r.endpoint in ("sendorder", "cancelorder")]

    def resting(self) -> list[FakeOrder]:
        return [o for o in self.fake.orders if o.state in RESTING_STATES]


MakeFutures = Callable[..., Awaitable[Futures]]


@pytest_asyncio.fixture
async def make_futures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MakeFutures]:
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", FUTURES_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", FUTURES_SECRET)
    routers: list[Router] = []

    async def build(mode: str | None = "two_legs", extra: str = "") -> Futures:
        """``mode`` is the account's reverse_mode; ``None`` leaves it to the default."""
        clock = SteppedClock()
        fake = FakeKrakenFutures(clock=clock)
        path = tmp_path / f"futures-{len(routers)}.toml"
        state = tmp_path / f"state-{len(routers)}"
        setting = f'reverse_mode = "{mode}"' if mode else ""
        path.write_text(FUTURES_TOML.format(state=state, mode=setting, extra=extra))
        router = Router.from_config_file(
            path, clock=clock, transport=httpx.ASGITransport(app=fake),
            plugins=make_plugin_manager(["kraken-futures"]),
        )
        routers.append(router)
        assert await router.start() == []
        return Futures(router, fake, clock)

    yield build
    for router in routers:
        await router.close()


def _fill_resting(fake: FakeKrakenFutures, order: FakeOrder, price: Decimal) -> None:
    """The market reached a resting order's price: it fills in full (the fake's own engine
    never re-matches resting orders)."""
    now = fake.clock.time()
    fake.exchange._execute(order, order.quantity - order.filled, price, now)
    order.state = "FULLY_EXECUTED"
    order.closed_at = now


async def test_futures_flat_buy_2_opens_a_long_of_2(make_futures: MakeFutures) -> None:
    f = await make_futures()
    report = await f.route(action="buy", quantity="2")
    assert f.orders() == [("mkt", "buy", D(2), None, False)]
    assert f.position == D(2)
    assert report.ok, report.to_dict()
    assert legs(report) == [("open", "buy", "filled", D(2))]
    assert before_after(report) == (D(0), D(2)) and target(report) == D(2)


@pytest.mark.parametrize("mode", ["single_order", "two_legs"])
async def test_futures_long_2_sell_2_sentiment_short_reverses_to_short_2(
    make_futures: MakeFutures, mode: str
) -> None:
    f = await make_futures(mode)
    f.hold("2")
    report = await f.route(action="sell", sentiment="short", quantity="2")
    if mode == "single_order":  # the venue nets positions: one order closes and opens
        assert f.orders() == [("mkt", "sell", D(4), None, False)]
        assert legs(report) == [("flip", "sell", "filled", D(4))]
    else:  # a reduce-only close, then the open once the close has filled
        assert f.orders() == [("mkt", "sell", D(2), None, True), ("mkt", "sell", D(2), None, False)]
        assert legs(report) == [("close", "sell", "filled", D(2)), ("open", "sell", "filled", D(2))]
    assert f.position == D(-2)
    assert report.ok, report.to_dict()
    assert before_after(report) == (D(2), D(-2)) and target(report) == D(-2)


async def test_futures_default_reverse_mode_flips_in_one_order(make_futures: MakeFutures) -> None:
    # no reverse_mode in the account: Kraken Futures' default, "single_order"
    f = await make_futures(None)
    f.hold("2")
    report = await f.route(action="sell", sentiment="short", quantity="2")
    assert f.orders() == [("mkt", "sell", D(4), None, False)]
    assert legs(report) == [("flip", "sell", "filled", D(4))]
    assert f.position == D(-2) and report.ok


async def test_futures_long_2_sell_1_is_a_partial_exit(make_futures: MakeFutures) -> None:
    f = await make_futures()
    f.hold("2")
    report = await f.route(action="sell", quantity="1")
    assert f.orders() == [("mkt", "sell", D(1), None, True)]
    assert f.position == D(1)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(1))]
    assert before_after(report) == (D(2), D(1)) and target(report) == D(1)


async def test_futures_long_2_sell_sentiment_flat_closes_all(make_futures: MakeFutures) -> None:
    f = await make_futures()
    f.hold("2")
    report = await f.route(action="sell", sentiment="flat")
    assert f.orders() == [("mkt", "sell", D(2), None, True)]
    assert f.position == D(0)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(2))]
    assert before_after(report) == (D(2), D(0)) and target(report) == D(0)


async def test_futures_flat_reduce_only_sell_sends_nothing(make_futures: MakeFutures) -> None:
    f = await make_futures()
    report = await f.route(action="sell", quantity="1", reduceOnly=True)
    assert f.orders() == []
    assert f.position == D(0)
    assert not report.ok
    assert legs(report) == [("close", "sell", "denied", D(1))]
    assert "reduceOnly: nothing to reduce" in reasons(report)[0]
    assert before_after(report) == (D(0), D(0))


async def test_futures_limit_reversal_in_one_order_rests_then_fills_short_2(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures("single_order")
    f.hold("2")
    report = await f.route(action="sell", sentiment="short", quantity="2", orderType="limit",
                           limitPrice="61000")
    assert f.orders() == [("lmt", "sell", D(4), D(61000), False)]
    assert legs(report) == [("flip", "sell", "accepted", D(4))]
    assert report.ok, report.to_dict()
    assert before_after(report) == (D(2), D(2)) and target(report) == D(-2)
    (flip,) = f.resting()
    assert f.position == D(2)  # nothing has filled yet
    _fill_resting(f.fake, flip, D(61000))
    assert f.position == D(-2)  # short 2 when filled


async def test_futures_limit_reversal_in_two_legs_opens_once_the_limit_close_fills(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures("two_legs")
    f.hold("2")

    def market_reaches_61000() -> None:
        f.fake.exchange.marks[PF] = D(61000)
        for order in f.resting():
            _fill_resting(f.fake, order, D(61000))

    f.clock.on_sleep = market_reaches_61000
    report = await f.route(action="sell", sentiment="short", quantity="2", orderType="limit",
                           limitPrice="61000")
    # the close has the alert's order type and price, not market
    assert f.orders() == [("lmt", "sell", D(2), D(61000), True),
                          ("lmt", "sell", D(2), D(61000), False)]
    assert legs(report) == [("close", "sell", "filled", D(2)), ("open", "sell", "filled", D(2))]
    assert f.position == D(-2)
    assert report.ok, report.to_dict()
    assert before_after(report) == (D(2), D(-2)) and target(report) == D(-2)


async def test_futures_limit_close_not_filled_in_time_is_cancelled_and_nothing_opens(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures("two_legs")  # close_fill_timeout_seconds = 0.5
    f.hold("2")
    report = await f.route(action="sell", sentiment="short", quantity="2", orderType="limit",
                           limitPrice="61000")
    assert f.orders() == [("lmt", "sell", D(2), D(61000), True)]  # no open was sent
    assert f.endpoints() == ["sendorder", "cancelorder"]
    (close,) = f.fake.orders
    assert close.state == "CANCELLED" and f.resting() == []
    assert f.position == D(2)  # still long
    assert not report.ok
    assert legs(report) == [("close", "sell", "canceled", D(2)), ("open", "sell", "denied", D(2))]
    assert "did not fill within 0.5 s" in reasons(report)[1]
    assert "nothing opened" in reasons(report)[1]
    assert before_after(report) == (D(2), D(2))


async def test_futures_exit_cancels_resting_take_profit_and_stop_loss_then_closes(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures()
    entry = await f.route(action="buy", quantity="2", price="50000",
                          stopLoss={"stopPrice": "48000"}, takeProfit={"limitPrice": "55000"})
    assert entry.ok, entry.to_dict()
    assert f.position == D(2)
    brackets = {o.cli_ord_id: o for o in f.resting()}
    assert sorted((o.order_type, o.side, o.quantity, o.reduce_only) for o in brackets.values()) \
        == [("lmt", "sell", D(2), True), ("stp", "sell", D(2), True)]
    sent, requests = len(f.fake.sendorders), len(f.fake.requests)

    report = await f.route(action="exit")
    assert f.endpoints(requests) == ["cancelorder", "cancelorder", "sendorder"]
    cancelled = [r.params["cliOrdId"] for r in f.fake.requests[requests:]
                 if r.endpoint == "cancelorder"]
    assert sorted(cancelled) == sorted(brackets)
    assert f.orders(sent) == [("mkt", "sell", D(2), None, True)]
    assert f.position == D(0)
    assert f.resting() == []  # flat and quiet
    assert report.ok, report.to_dict()
    assert legs(report) == [("cancel", "sell", "canceled", None),
                            ("cancel", "sell", "canceled", None),
                            ("close", "sell", "filled", D(2))]
    assert before_after(report) == (D(2), D(0)) and target(report) == D(0)


@pytest.mark.parametrize("mode", ["single_order", "two_legs"])
async def test_futures_reversal_cancels_resting_take_profit_and_stop_loss_first(
    make_futures: MakeFutures, mode: str
) -> None:
    f = await make_futures(mode)
    await f.route(action="buy", quantity="2", price="50000",
                  stopLoss={"stopPrice": "48000"}, takeProfit={"limitPrice": "55000"})
    brackets = sorted(o.cli_ord_id for o in f.resting())
    assert len(brackets) == 2
    sent, requests = len(f.fake.sendorders), len(f.fake.requests)
    report = await f.route(action="sell", sentiment="short", quantity="2")
    calls = f.endpoints(requests)
    assert calls[:2] == ["cancelorder", "cancelorder"] and "cancelorder" not in calls[2:]
    assert sorted(r.params["cliOrdId"] for r in f.fake.requests[requests:]
                  if r.endpoint == "cancelorder") == brackets
    assert [o[:3] for o in f.orders(sent)] == (
        [("mkt", "sell", D(4))] if mode == "single_order"
        else [("mkt", "sell", D(2)), ("mkt", "sell", D(2))])
    assert f.position == D(-2) and f.resting() == []
    assert report.ok, report.to_dict()
    assert [leg[0] for leg in legs(report)][:2] == ["cancel", "cancel"]


async def test_futures_exit_while_flat_still_cancels_resting_take_profit_and_stop_loss(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures()
    await f.route(action="buy", quantity="2", price="50000",
                  stopLoss={"stopPrice": "48000"}, takeProfit={"limitPrice": "55000"})
    assert len(f.resting()) == 2
    f.hold("0")  # the long was closed at the venue (the stop hit, or by hand)
    report = await f.route(action="exit")
    assert f.resting() == []  # exit means flat and quiet
    assert [leg[0] for leg in legs(report)] == ["cancel", "cancel"]


async def test_futures_single_order_flip_sizes_its_brackets_at_the_new_position(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures("single_order")
    f.hold("2")
    report = await f.route(action="sell", sentiment="short", quantity="2", price="50000",
                           stopLoss={"stopPrice": "52000"}, takeProfit={"limitPrice": "45000"})
    assert report.ok, report.to_dict()
    assert f.position == D(-2)
    flip, *brackets = f.orders()
    assert flip == ("mkt", "sell", D(4), None, False)
    assert sorted(brackets) == [("lmt", "buy", D(2), D(45000), True),
                                ("stp", "buy", D(2), None, True)]


async def test_futures_long_2_sell_50_percent_of_position_sells_1(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures()
    f.hold("2")
    report = await f.route(action="sell", quantity="50", quantityType="percent_of_position")
    assert f.orders() == [("mkt", "sell", D(1), None, True)]
    assert f.position == D(1)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(1))]
    assert before_after(report) == (D(2), D(1)) and target(report) == D(1)


@pytest.mark.parametrize("mode", ["single_order", "two_legs"])
async def test_futures_close_of_a_reversal_rejected_opens_nothing_and_stays_long(
    make_futures: MakeFutures, mode: str
) -> None:
    f = await make_futures(mode)
    f.hold("2")
    f.fake.script("sendorder", status="wouldNotReducePosition")  # the venue refuses the close
    report = await f.route(action="sell", sentiment="short", quantity="2")
    assert len(f.fake.sendorders) == 1  # the refused close (or flip) only: no open leg
    assert f.fake.exchange.rejected and f.fake.orders == []
    assert f.position == D(2)  # still long
    assert not report.ok
    if mode == "single_order":
        assert legs(report) == [("flip", "sell", "rejected", D(4))]
    else:
        assert legs(report) == [("close", "sell", "rejected", D(2)),
                                ("open", "sell", "denied", D(2))]
        assert "the close leg ended rejected" in reasons(report)[1]
    assert "wouldNotReducePosition" in reasons(report)[0]
    assert before_after(report) == (D(2), D(2))


async def test_futures_max_order_notional_bounds_opens_not_closes(
    make_futures: MakeFutures,
) -> None:
    f = await make_futures(extra='[accounts.futures.risk]\nmax_order_notional = "10000"')
    f.hold("2")  # 100,000 USD at the 50,000 mark: ten times the limit
    closing = await f.route(action="exit")
    assert f.orders() == [("mkt", "sell", D(2), None, True)]
    assert closing.ok, closing.to_dict()
    assert f.position == D(0)
    opening = await f.route(action="buy", quantity="1")  # 50,000 USD: beyond the limit
    assert len(f.fake.sendorders) == 1  # nothing more sent
    assert not opening.ok
    assert legs(opening) == [("open", "buy", "denied", D(1))]
    assert "exceeds max_order_notional 10000" in reasons(opening)[0]
    assert f.position == D(0)


# -- Kraken spot: a cash account and a margin account ----------------------------------------

SPOT_TOML = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.spot]
broker = "kraken-spot"
base_url = "http://127.0.0.1"
{spot_extra}

[accounts.margin]
broker = "kraken-spot"
base_url = "http://127.0.0.1"
margin = true
"""


@dataclass
class Spot:
    router: Router
    fake: FakeKraken

    async def route(self, account: str = "spot", **alert: Any) -> ExecutionReport:
        return await _route(self.router, {"ticker": "XBTUSD", "accounts": [account], **alert})

    def orders(self, since: int = 0) -> list[dict[str, str]]:
        """The fields of every AddOrder received (nonce and deadline left out)."""
        calls = [c for c in self.fake.calls if c.method == "AddOrder"][since:]
        return [{k: v for k, v in c.fields.items() if k in ("type", "ordertype", "volume",
                                                            "price", "leverage", "reduce_only")}
                for c in calls]

    @property
    def btc(self) -> Decimal:
        return self.fake.account.balances.get("XXBT", D(0))

    @property
    def margin_position(self) -> Decimal:
        total = D(0)
        for position in self.fake.account.positions.values():
            if position["pair"] == PAIR:
                size = D(position["vol"]) - D(position["vol_closed"])
                total += size if position["type"] == "buy" else -size
        return total

    async def held_by_router(self, account: str = "spot") -> Decimal | None:
        """The position the router would plan the next sell on (a dry run reads it)."""
        (plan,) = await self.router.preview(
            self.router.parse(json.dumps({"ticker": "XBTUSD", "action": "sell",
                                          "accounts": [account]}).encode(),
                              "application/json"))
        assert isinstance(plan, Plan), plan
        return plan.position_before.quantity if plan.position_before else None


MakeSpot = Callable[..., Awaitable[Spot]]


@pytest_asyncio.fixture
async def make_spot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MakeSpot]:
    monkeypatch.setenv("KRAKEN_API_KEY", SPOT_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", SPOT_SECRET)
    routers: list[Router] = []

    async def build(spot_extra: str = "") -> Spot:
        clock = FakeClock()
        fake = FakeKraken(clock=clock)
        path = tmp_path / f"spot-{len(routers)}.toml"
        state = tmp_path / f"spot-state-{len(routers)}"
        path.write_text(SPOT_TOML.format(state=state, spot_extra=spot_extra))
        router = Router.from_config_file(
            path, clock=clock, transport=fake.transport(),
            plugins=make_plugin_manager(["kraken-spot"]),
        )
        routers.append(router)
        assert await router.start() == []
        return Spot(router, fake)

    yield build
    for router in routers:
        await router.close()


async def _router_buys(s: Spot, quantity: str) -> None:
    """The router buys ``quantity`` BTC at market on the cash account (the fake fills it)."""
    bought = await s.route(action="buy", quantity=quantity)
    assert bought.ok, bought.to_dict()
    assert s.orders()[-1] == {"type": "buy", "ordertype": "market", "volume": quantity}


@pytest.mark.parametrize("wallet", ["2.4", "2.5"])
async def test_spot_cash_sell_without_size_sells_only_what_the_router_bought(
    make_spot: MakeSpot, wallet: str
) -> None:
    # "router bought 0.1 BTC; wallet 2.5 BTC": 2.4 of the user's + the router's 0.1 (the
    # table's reading, 2.4 left), or 2.5 of the user's + 0.1 (2.5 left); either way the
    # wallet ends as it was before the router bought.
    s = await make_spot()
    s.fake.set_balance("XXBT", wallet)
    await _router_buys(s, "0.1")
    assert s.btc == D(wallet) + D("0.1")
    report = await s.route(action="sell")
    assert s.orders(1) == [{"type": "sell", "ordertype": "market", "volume": "0.1"}]
    assert s.btc == D(wallet)  # as before the router; the user's coins untouched
    assert report.ok, report.to_dict()
    assert [(p, side, status in ("accepted", "filled"), q) for p, side, status, q in legs(report)] \
        == [("close", "sell", True, D("0.1"))]
    assert report.positions[0].before == D("0.1") and target(report) == D(0)
    assert "what this router bought" in (report.positions[0].source or "")
    assert await s.held_by_router() == D(0)


async def test_spot_cash_sell_less_than_held_leaves_the_rest(make_spot: MakeSpot) -> None:
    s = await make_spot()
    start = s.btc
    await _router_buys(s, "0.1")
    report = await s.route(action="sell", quantity="0.05")
    assert s.orders(1) == [{"type": "sell", "ordertype": "market", "volume": "0.05"}]
    assert s.btc == start + D("0.05")
    assert report.ok, report.to_dict()
    assert [(p, side, q) for p, side, _, q in legs(report)] == [("close", "sell", D("0.05"))]
    assert report.positions[0].before == D("0.1") and target(report) == D("0.05")
    assert await s.held_by_router() == D("0.05")  # the router holds 0.05


async def test_spot_cash_sell_with_nothing_held_sends_nothing(make_spot: MakeSpot) -> None:
    s = await make_spot()
    start = s.btc  # the wallet holds 2 BTC, none of them bought by the router
    assert start > D("0.2")
    report = await s.route(action="sell", quantity="0.2")
    assert s.orders() == []
    assert s.btc == start
    assert not report.ok
    assert legs(report) == [("open", "sell", "denied", D("0.2"))]
    assert "spot cash cannot short" in reasons(report)[0]
    assert before_after(report) == (D(0), D(0))


async def test_spot_cash_sell_sentiment_short_sells_the_holding_and_refuses_the_short(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    start = s.btc
    await _router_buys(s, "0.1")
    report = await s.route(action="sell", sentiment="short", quantity="0.1")
    assert s.orders(1) == [{"type": "sell", "ordertype": "market", "volume": "0.1"}]
    assert s.btc == start  # flat: what the router bought is sold, nothing more
    assert not report.ok  # the short part is refused and reported
    (close, opened) = legs(report)
    assert close[:2] == ("close", "sell") and close[2] in ("accepted", "filled")
    assert close[3] == D("0.1")
    assert opened == ("open", "sell", "denied", D("0.1"))
    assert "spot cash cannot short" in reasons(report)[1]
    assert report.positions[0].before == D("0.1")
    assert await s.held_by_router() == D(0)


async def test_spot_cash_refuses_a_perpetual_ticker(make_spot: MakeSpot) -> None:
    s = await make_spot()
    report = await s.route(ticker="XBTUSD.P", action="buy", quantity="0.1")
    assert s.orders() == []
    assert not report.ok
    assert [(p, status) for p, _, status, _ in legs(report)] == [("open", "denied")]
    reason = reasons(report)[0]
    assert "XBTUSD.P is a perpetual ticker" in reason and "trades spot" in reason


async def test_spot_cash_max_order_notional_bounds_opens_not_the_closing_sale(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot('[accounts.spot.risk]\nmax_order_notional = "1000"')
    start = s.btc
    await _router_buys(s, "0.02")  # 1,000 USD at 50,000: at the limit
    await _router_buys(s, "0.02")
    report = await s.route(action="sell")  # closes 0.04, 2,000 USD: a close, not bounded
    assert s.orders(2) == [{"type": "sell", "ordertype": "market", "volume": "0.04"}]
    assert report.ok, report.to_dict()
    assert s.btc == start
    oversize = await s.route(action="buy", quantity="0.1")  # 5,000 USD: an open beyond it
    assert len(s.orders()) == 3
    assert not oversize.ok
    assert legs(oversize) == [("open", "buy", "denied", D("0.1"))]
    assert "exceeds max_order_notional 1000" in reasons(oversize)[0]


async def test_spot_margin_sell_without_leverage_is_refused(make_spot: MakeSpot) -> None:
    s = await make_spot()
    start = s.btc
    report = await s.route(account="margin", action="sell", quantity="0.1")
    assert s.orders() == []
    assert s.margin_position == D(0) and s.btc == start  # never turned into a cash sale
    assert not report.ok
    assert legs(report) == [("open", "sell", "denied", D("0.1"))]
    assert "a margin short needs leverage" in reasons(report)[0]
    assert before_after(report) == (D(0), D(0))


async def test_spot_margin_sell_with_leverage_2_opens_a_short(make_spot: MakeSpot) -> None:
    s = await make_spot()
    start = s.btc
    report = await s.route(account="margin", action="sell", quantity="0.1", leverage="2")
    assert s.orders() == [{"type": "sell", "ordertype": "market", "volume": "0.1",
                           "leverage": "2"}]
    assert s.margin_position == D("-0.1")
    assert s.btc == start  # a margin position, not a cash sale
    assert report.ok, report.to_dict()
    assert [(p, side, q) for p, side, _, q in legs(report)] == [("open", "sell", D("0.1"))]
    assert report.positions[0].before == D(0) and target(report) == D("-0.1")


async def test_spot_margin_close_of_a_reversal_rejected_opens_nothing(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    s.fake.set_position(PAIR, "buy", "0.1", "50000", leverage=2)
    s.fake.fail_next("AddOrder", "EOrder:Insufficient margin")
    report = await s.route(account="margin", action="sell", sentiment="short", quantity="0.1",
                           leverage="2")
    assert s.orders() == [{"type": "sell", "ordertype": "market", "volume": "0.1",
                           "leverage": "2", "reduce_only": "true"}]  # the close only
    assert s.margin_position == D("0.1")  # still long
    assert not report.ok
    assert legs(report) == [("close", "sell", "rejected", D("0.1")),
                            ("open", "sell", "denied", D("0.1"))]
    assert "Insufficient margin" in reasons(report)[0]
    assert "the close leg ended rejected" in reasons(report)[1]
    assert before_after(report) == (D("0.1"), D("0.1"))


@pytest.mark.parametrize("row", ["cash sell all", "margin short"])
async def test_spot_report_after_shows_the_filled_market_order(
    make_spot: MakeSpot, row: str
) -> None:
    s = await make_spot()
    if row == "cash sell all":
        await _router_buys(s, "0.1")
        report = await s.route(action="sell")
        assert s.fake.orders and all(o["status"] == "closed" for o in s.fake.orders.values())
        expected = (D("0.1"), D(0))
    else:
        report = await s.route(account="margin", action="sell", quantity="0.1", leverage="2")
        assert s.margin_position == D("-0.1")
        expected = (D(0), D("-0.1"))
    assert report.ok
    assert before_after(report) == expected  # the fake filled it: the report should say so
