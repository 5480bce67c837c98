"""The order-semantics examples end to end on the paper venue.

Every example row of the table in docs/order-semantics.md ("Examples") routed through the real
``Router`` to paper accounts of each kind: ``net`` (the futures rows), ``cash`` (a spot wallet,
``wallet`` seeding coins the router did not buy) and ``margin`` (spot margin: positions only
with leverage). Each test checks the orders that reached the venue (a spy on the submit hook
sees every order before the paper broker does), the paper position afterwards, and the report.

The paper venue has no single-order flip, so every reversal is a close then an open; market and
limit orders fill at once, stop orders rest (there is no price feed to trigger them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from router_core import InvalidOrder, hookimpl
from router_core.journal import ClaimOutcome
from router_core.models import ExecutionReport, LegPurpose, Order, OrderStatus, Plan, Side
from router_core.normalize import normalize
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import FakeClock

D = Decimal
TICKER = "BTCUSD"

PAPER_TOML = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.net]
broker = "paper"
fill_price = "50000"
close_fill_timeout_seconds = 0.5

[accounts.cash]
broker = "paper"
account_kind = "cash"
fill_price = "50000"
wallet = {{ BTC = "{wallet}" }}

[accounts.margin]
broker = "paper"
account_kind = "margin"
fill_price = "50000"

[accounts.margin_lev]
broker = "paper"
account_kind = "margin"
fill_price = "50000"
leverage = "2"

[accounts.net_capped]
broker = "paper"
fill_price = "50000"

[accounts.net_capped.risk]
max_order_notional = "10000"

[accounts.cash_capped]
broker = "paper"
account_kind = "cash"
fill_price = "50000"

[accounts.cash_capped.risk]
max_order_notional = "1000"
"""


@dataclass
class VenueSpy:
    """Sees every order on its way to the paper broker; ``reject`` makes the venue refuse the
    next order of that purpose (as a venue would: a rejection, not a denial)."""

    orders: list[Order] = field(default_factory=list)
    reject: LegPurpose | None = None

    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Order) -> None:
        self.orders.append(order)
        if self.reject is not None and order.purpose is self.reject:
            self.reject = None
            raise InvalidOrder("paper: insufficient margin to place the order", from_venue=True)


Sent = tuple[str, str, Decimal, str, Decimal | None, bool, Decimal | None]


@dataclass
class Paper:
    router: Router
    spy: VenueSpy

    async def route(self, account: str, **alert: Any) -> ExecutionReport:
        body = {"id": str(uuid.uuid4()), "ticker": TICKER, "accounts": [account], **alert}
        acceptance = self.router.accept(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW
        return await self.router.execute(acceptance.alert_id)

    def sent(self, since: int = 0) -> list[Sent]:
        """(account, side, quantity, order type, limit or stop price, reduce-only, leverage)."""
        return [(o.account, o.side.value, o.quantity, o.order_type.value,
                 o.limit_price or o.stop_price, o.reduce_only, o.leverage)
                for o in self.spy.orders[since:]]

    async def position(self, account: str) -> Decimal:
        """The paper venue's position (a cash account: the wallet's whole BTC balance)."""
        broker = self.router.brokers[account]
        return (await broker.position(await broker.resolve(normalize(TICKER)))).quantity

    async def held_by_router(self, account: str) -> Decimal | None:
        """The position the router would plan the next sell on (a dry run reads it)."""
        alert = self.router.parse(json.dumps({"ticker": TICKER, "action": "sell",
                                              "accounts": [account]}).encode(),
                                  "application/json")
        (plan,) = await self.router.preview(alert)
        assert isinstance(plan, Plan), plan
        return plan.position_before.quantity if plan.position_before else None

    async def order_status(self, account: str, client_order_id: str) -> OrderStatus | None:
        broker = self.router.brokers[account]
        found = await broker.find_order(client_order_id, await broker.resolve(normalize(TICKER)))
        return found.status if found else None


MakePaper = Callable[..., Awaitable[Paper]]


@pytest_asyncio.fixture
async def make_paper(tmp_path: Path) -> AsyncIterator[MakePaper]:
    routers: list[Router] = []

    async def build(wallet: str = "2.5") -> Paper:
        spy = VenueSpy()
        path = tmp_path / f"paper-{len(routers)}.toml"
        path.write_text(PAPER_TOML.format(state=tmp_path / f"state-{len(routers)}",
                                          wallet=wallet))
        router = Router.from_config_file(
            path, clock=FakeClock(),
            plugins=make_plugin_manager(["paper"], extra=[("venue-spy", spy)]),
        )
        routers.append(router)
        assert await router.start() == []
        return Paper(router, spy)

    yield build
    for router in routers:
        await router.close()


def legs(report: ExecutionReport) -> list[tuple[str, str | None, str, Decimal | None]]:
    return [(leg.purpose.value, leg.side.value if leg.side else None, leg.result.status.value,
             leg.result.quantity) for leg in report.legs]


def reasons(report: ExecutionReport) -> list[str]:
    return [leg.result.reason or "" for leg in report.legs]


def positions(report: ExecutionReport) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    (position,) = report.positions
    return position.before, position.after, position.target


async def _long_2(p: Paper, account: str = "net") -> None:
    opened = await p.route(account, action="buy", quantity="2")
    assert opened.ok, opened.to_dict()
    assert await p.position(account) == D(2)


# -- net: the futures rows --------------------------------------------------------------------

async def test_net_flat_buy_2_opens_a_long_of_2(make_paper: MakePaper) -> None:
    p = await make_paper()
    report = await p.route("net", action="buy", quantity="2")
    assert p.sent() == [("net", "buy", D(2), "market", None, False, None)]
    assert await p.position("net") == D(2)
    assert report.ok, report.to_dict()
    assert legs(report) == [("open", "buy", "filled", D(2))]
    assert positions(report) == (D(0), D(2), D(2))


async def test_net_long_2_sell_2_sentiment_short_closes_then_opens(make_paper: MakePaper) -> None:
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", sentiment="short", quantity="2")
    assert p.sent(1) == [("net", "sell", D(2), "market", None, True, None),
                         ("net", "sell", D(2), "market", None, False, None)]
    assert await p.position("net") == D(-2)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(2)), ("open", "sell", "filled", D(2))]
    assert positions(report) == (D(2), D(-2), D(-2))


async def test_net_long_2_sell_1_is_a_partial_exit(make_paper: MakePaper) -> None:
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", quantity="1")
    assert p.sent(1) == [("net", "sell", D(1), "market", None, True, None)]
    assert await p.position("net") == D(1)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(1))]
    assert positions(report) == (D(2), D(1), D(1))


async def test_net_long_2_sell_sentiment_flat_closes_all(make_paper: MakePaper) -> None:
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", sentiment="flat")
    assert p.sent(1) == [("net", "sell", D(2), "market", None, True, None)]
    assert await p.position("net") == D(0)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(2))]
    assert positions(report) == (D(2), D(0), D(0))


async def test_net_flat_reduce_only_sell_sends_nothing(make_paper: MakePaper) -> None:
    p = await make_paper()
    report = await p.route("net", action="sell", quantity="1", reduceOnly=True)
    assert p.sent() == []
    assert await p.position("net") == D(0)
    assert not report.ok
    assert legs(report) == [("close", "sell", "denied", D(1))]
    assert "reduceOnly: nothing to reduce" in reasons(report)[0]
    assert positions(report)[:2] == (D(0), D(0))


async def test_net_limit_reversal_closes_with_a_limit_at_the_alerts_price(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", sentiment="short", quantity="2",
                           orderType="limit", limitPrice="61000")
    assert p.sent(1) == [("net", "sell", D(2), "limit", D(61000), True, None),
                         ("net", "sell", D(2), "limit", D(61000), False, None)]
    assert await p.position("net") == D(-2)  # paper limits fill at once: short 2 when filled
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(2)), ("open", "sell", "filled", D(2))]
    assert [leg.result.average_price for leg in report.legs] == [D(61000), D(61000)]
    assert positions(report) == (D(2), D(-2), D(-2))


async def test_net_stop_reversal_whose_close_does_not_fill_in_time_opens_nothing(
    make_paper: MakePaper,
) -> None:
    # A stop alert closes with a stop; on paper it rests (no price feed), so the close never
    # fills within close_fill_timeout_seconds (0.5): it is cancelled and nothing opens.
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", sentiment="short", quantity="2",
                           orderType="stop", stopPrice="48000")
    assert p.sent(1) == [("net", "sell", D(2), "stop", D(48000), True, None)]
    assert await p.position("net") == D(2)  # still long
    assert not report.ok
    assert legs(report) == [("close", "sell", "canceled", D(2)), ("open", "sell", "denied", D(2))]
    assert "did not fill within 0.5 s" in reasons(report)[1]
    close_id = report.legs[0].result.client_order_id
    assert await p.order_status("net", close_id) is OrderStatus.CANCELED  # nothing resting
    assert positions(report) == (D(2), D(2), D(-2))


async def test_net_exit_cancels_resting_take_profit_and_stop_loss_then_closes(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _long_2(p)
    # the router's own resting exits: a stop loss at 48,000 and a take profit triggered at
    # 55,000 (paper limits fill at once, so the take profit is a stop-limit above the market)
    stop_loss = await p.route("net", action="sell", quantity="2", reduceOnly=True,
                              orderType="stop", stopPrice="48000")
    take_profit = await p.route("net", action="sell", quantity="2", reduceOnly=True,
                                orderType="stop_limit", stopPrice="55000", limitPrice="55000")
    resting = [stop_loss.legs[0].result, take_profit.legs[0].result]
    assert [r.status for r in resting] == [OrderStatus.ACCEPTED, OrderStatus.ACCEPTED]
    sent = len(p.spy.orders)

    report = await p.route("net", action="exit")
    assert p.sent(sent) == [("net", "sell", D(2), "market", None, True, None)]
    assert await p.position("net") == D(0)
    for result in resting:  # flat and quiet
        assert await p.order_status("net", result.client_order_id) is OrderStatus.CANCELED
    assert report.ok, report.to_dict()
    assert legs(report) == [("cancel", "sell", "canceled", D(2)),
                            ("cancel", "sell", "canceled", D(2)),
                            ("close", "sell", "filled", D(2))]
    assert [leg.result.client_order_id for leg in report.legs[:2]] == [
        r.client_order_id for r in resting]
    assert positions(report) == (D(2), D(0), D(0))


async def test_net_exit_while_flat_still_cancels_the_routers_resting_orders(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _long_2(p)
    stop_loss = await p.route("net", action="sell", quantity="2", reduceOnly=True,
                              orderType="stop", stopPrice="48000")
    assert stop_loss.legs[0].result.status is OrderStatus.ACCEPTED
    broker = p.router.brokers["net"]  # the long is closed by hand at the venue
    await broker.submit_order(Order("by-hand", "net", await broker.resolve(normalize(TICKER)),
                                    Side.SELL, D(2), reference_price=D(50000)))
    assert await p.position("net") == D(0)
    report = await p.route("net", action="exit")
    assert await p.order_status("net", stop_loss.legs[0].result.client_order_id) \
        is OrderStatus.CANCELED  # exit means flat and quiet
    assert [leg[0] for leg in legs(report)] == ["cancel"]


async def test_net_long_2_sell_50_percent_of_position_sells_1(make_paper: MakePaper) -> None:
    p = await make_paper()
    await _long_2(p)
    report = await p.route("net", action="sell", quantity="50",
                           quantityType="percent_of_position")
    assert p.sent(1) == [("net", "sell", D(1), "market", None, True, None)]
    assert await p.position("net") == D(1)
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D(1))]
    assert positions(report) == (D(2), D(1), D(1))


async def test_net_close_of_a_reversal_rejected_opens_nothing_and_stays_long(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _long_2(p)
    p.spy.reject = LegPurpose.CLOSE
    report = await p.route("net", action="sell", sentiment="short", quantity="2")
    assert p.sent(1) == [("net", "sell", D(2), "market", None, True, None)]  # no open leg
    assert await p.position("net") == D(2)  # still long
    assert not report.ok
    assert legs(report) == [("close", "sell", "rejected", D(2)), ("open", "sell", "denied", D(2))]
    assert "insufficient margin" in reasons(report)[0]
    assert "the close leg ended rejected" in reasons(report)[1]
    assert positions(report) == (D(2), D(2), D(-2))


async def test_net_max_order_notional_bounds_opens_not_closes(make_paper: MakePaper) -> None:
    p = await make_paper()
    # a long of 2 (100,000 USD) the router did not open: placed at the venue directly
    broker = p.router.brokers["net_capped"]
    instrument = await broker.resolve(normalize(TICKER))
    await broker.submit_order(Order("seed", "net_capped", instrument, Side.BUY, D(2),
                                    reference_price=D(50000)))
    assert await p.position("net_capped") == D(2)
    closing = await p.route("net_capped", action="exit")  # 100,000 USD: a close, not bounded
    assert closing.ok, closing.to_dict()
    assert p.sent() == [("net_capped", "sell", D(2), "market", None, True, None)]
    assert await p.position("net_capped") == D(0)
    opening = await p.route("net_capped", action="buy", quantity="1")  # 50,000 USD
    assert len(p.spy.orders) == 1
    assert not opening.ok
    assert legs(opening) == [("open", "buy", "denied", D(1))]
    assert "exceeds max_order_notional 10000" in reasons(opening)[0]


# -- cash: the spot wallet rows ---------------------------------------------------------------

async def _router_buys(p: Paper, quantity: str, account: str = "cash") -> None:
    bought = await p.route(account, action="buy", quantity=quantity)
    assert bought.ok, bought.to_dict()
    assert p.sent()[-1] == (account, "buy", D(quantity), "market", None, False, None)


@pytest.mark.parametrize("wallet", ["2.4", "2.5"])
async def test_cash_sell_without_size_sells_only_what_the_router_bought(
    make_paper: MakePaper, wallet: str
) -> None:
    # "router bought 0.1 BTC; wallet 2.5 BTC": 2.4 of the user's plus the router's 0.1 (the
    # table's reading: 2.4 left), or 2.5 of the user's plus 0.1; either way the wallet ends as
    # it was before the router bought.
    p = await make_paper(wallet)
    await _router_buys(p, "0.1")
    assert await p.position("cash") == D(wallet) + D("0.1")
    report = await p.route("cash", action="sell")
    assert p.sent(1) == [("cash", "sell", D("0.1"), "market", None, True, None)]
    assert await p.position("cash") == D(wallet)  # the user's coins untouched
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D("0.1"))]
    assert positions(report) == (D("0.1"), D(0), D(0))
    assert "what this router bought" in (report.positions[0].source or "")
    assert await p.held_by_router("cash") == D(0)


async def test_cash_sell_less_than_held_leaves_the_rest(make_paper: MakePaper) -> None:
    p = await make_paper()
    await _router_buys(p, "0.1")
    report = await p.route("cash", action="sell", quantity="0.05")
    assert p.sent(1) == [("cash", "sell", D("0.05"), "market", None, True, None)]
    assert await p.position("cash") == D("2.55")
    assert report.ok, report.to_dict()
    assert legs(report) == [("close", "sell", "filled", D("0.05"))]
    assert positions(report) == (D("0.1"), D("0.05"), D("0.05"))
    assert await p.held_by_router("cash") == D("0.05")  # the router holds 0.05


async def test_cash_sell_with_nothing_held_sends_nothing(make_paper: MakePaper) -> None:
    p = await make_paper()  # 2.5 BTC in the wallet, none bought by the router
    report = await p.route("cash", action="sell", quantity="0.2")
    assert p.sent() == []
    assert await p.position("cash") == D("2.5")
    assert not report.ok
    assert legs(report) == [("open", "sell", "denied", D("0.2"))]
    assert "spot cash cannot short" in reasons(report)[0]
    assert positions(report)[:2] == (D(0), D(0))


async def test_cash_sell_sentiment_short_sells_the_holding_and_refuses_the_short(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _router_buys(p, "0.1")
    report = await p.route("cash", action="sell", sentiment="short", quantity="0.1")
    assert p.sent(1) == [("cash", "sell", D("0.1"), "market", None, True, None)]
    assert await p.position("cash") == D("2.5")  # flat for the router; the wallet untouched
    assert not report.ok  # the short part refused and reported
    assert legs(report) == [("close", "sell", "filled", D("0.1")),
                            ("open", "sell", "denied", D("0.1"))]
    assert "spot cash cannot short" in reasons(report)[1]
    assert positions(report)[:2] == (D("0.1"), D(0))
    assert await p.held_by_router("cash") == D(0)


async def test_cash_refuses_a_perpetual_ticker(make_paper: MakePaper) -> None:
    p = await make_paper()
    report = await p.route("cash", ticker="BTCUSD.P", action="buy", quantity="0.1")
    assert p.sent() == []
    assert not report.ok
    assert [(purpose, status) for purpose, _, status, _ in legs(report)] == [("open", "denied")]
    assert "perpetual ticker" in reasons(report)[0]


async def test_cash_max_order_notional_bounds_opens_not_the_closing_sale(
    make_paper: MakePaper,
) -> None:
    p = await make_paper()
    await _router_buys(p, "0.02", "cash_capped")  # 1,000 USD at 50,000: at the limit
    await _router_buys(p, "0.02", "cash_capped")
    report = await p.route("cash_capped", action="sell")  # 0.04, 2,000 USD: a close
    assert p.sent(2) == [("cash_capped", "sell", D("0.04"), "market", None, True, None)]
    assert report.ok, report.to_dict()
    assert await p.position("cash_capped") == D(0)
    oversize = await p.route("cash_capped", action="buy", quantity="0.1")  # 5,000 USD
    assert len(p.spy.orders) == 3
    assert not oversize.ok
    assert legs(oversize) == [("open", "buy", "denied", D("0.1"))]
    assert "exceeds max_order_notional 1000" in reasons(oversize)[0]


# -- margin: the spot margin rows -------------------------------------------------------------

async def test_margin_sell_without_leverage_is_refused(make_paper: MakePaper) -> None:
    p = await make_paper()
    report = await p.route("margin", action="sell", quantity="0.1")
    assert p.sent() == []
    assert await p.position("margin") == D(0)
    assert not report.ok
    assert legs(report) == [("open", "sell", "denied", D("0.1"))]
    assert "a margin short needs leverage" in reasons(report)[0]
    assert positions(report)[:2] == (D(0), D(0))


@pytest.mark.parametrize("account, alert_leverage", [("margin", {"leverage": "2"}),
                                                     ("margin_lev", {})])
async def test_margin_sell_with_leverage_2_opens_a_short(
    make_paper: MakePaper, account: str, alert_leverage: dict[str, str]
) -> None:
    p = await make_paper()
    report = await p.route(account, action="sell", quantity="0.1", **alert_leverage)
    assert p.sent() == [(account, "sell", D("0.1"), "market", None, False, D(2))]
    assert await p.position(account) == D("-0.1")
    assert report.ok, report.to_dict()
    assert legs(report) == [("open", "sell", "filled", D("0.1"))]
    assert positions(report) == (D(0), D("-0.1"), D("-0.1"))


async def test_margin_close_of_a_reversal_rejected_opens_nothing(make_paper: MakePaper) -> None:
    p = await make_paper()
    opened = await p.route("margin", action="buy", quantity="0.1", leverage="2")
    assert opened.ok, opened.to_dict()
    p.spy.reject = LegPurpose.CLOSE
    report = await p.route("margin", action="sell", sentiment="short", quantity="0.1",
                           leverage="2")
    assert p.sent(1) == [("margin", "sell", D("0.1"), "market", None, True, D(2))]
    assert await p.position("margin") == D("0.1")  # still long
    assert not report.ok
    assert legs(report) == [("close", "sell", "rejected", D("0.1")),
                            ("open", "sell", "denied", D("0.1"))]
    assert "the close leg ended rejected" in reasons(report)[1]
    assert positions(report)[:2] == (D("0.1"), D("0.1"))
