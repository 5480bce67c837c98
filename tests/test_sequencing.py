"""Running a plan: an open waits for its close to fill, a failed leg stops what follows, an
exit cancels the router's resting orders (and, when asked, everyone's), fills are counted."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from router_paper.broker import PaperBroker

from router_core import hookimpl
from router_core.journal import ClaimOutcome
from router_core.models import (
    Instrument,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Side,
)
from router_core.normalize import normalize
from router_core.plugins import make_plugin_manager
from router_core.router import Router

D = Decimal


class SlowBroker(PaperBroker):
    """A paper venue whose orders rest until looked up ``fill_after`` times (``None``: never
    fill), like a market order a venue acknowledges before it executes."""

    name = "slow"
    fill_after: int | None = 2
    reject_closes = False

    def __init__(self, config, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self.pending: dict[str, tuple[Order, int]] = {}
        self.cancelled: list[str] = []

    async def submit_order(self, order: Order) -> OrderResult:
        if self.reject_closes and order.reduce_only:
            from router_core import InvalidOrder

            raise InvalidOrder("slow: close refused by the venue", from_venue=True)
        if order.order_type is OrderType.MARKET and not order.reduce_only:
            return await super().submit_order(order)  # opens fill at once
        self.pending[order.client_order_id] = (order, 0)
        return OrderResult(OrderStatus.ACCEPTED, order.client_order_id, "SLOW-1",
                           quantity=order.quantity)

    async def find_order(self, client_order_id: str, instrument: Instrument):  # type: ignore[no-untyped-def]
        if client_order_id not in self.pending:
            return await super().find_order(client_order_id, instrument)
        order, seen = self.pending[client_order_id]
        seen += 1
        self.pending[client_order_id] = (order, seen)
        if self.fill_after is not None and seen >= self.fill_after:
            del self.pending[client_order_id]
            filled = await super().submit_order(order)  # executes now
            return filled
        return OrderResult(OrderStatus.ACCEPTED, client_order_id, "SLOW-1",
                           quantity=order.quantity, filled_quantity=D(0))

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        if client_order_id in self.pending:
            del self.pending[client_order_id]
            self.cancelled.append(client_order_id)
            return OrderResult(OrderStatus.CANCELED, client_order_id, "SLOW-1")
        return await super().cancel_order(client_order_id, instrument)


class SlowPlugin:
    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register(SlowBroker)


CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.slow]
broker = "slow"
fill_price = "100"
close_fill_timeout_seconds = 0.3
"""


async def make_router(tmp_path: Path, toml: str = CONFIG) -> Router:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(toml)
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(["paper"], extra=[("slow", SlowPlugin())])
    )
    await router.start()
    return router


async def route(router: Router, alert: dict):  # type: ignore[no-untyped-def]
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


def legs(report) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(leg.purpose.value, leg.side.value if leg.side else None, leg.result.status.value)
            for leg in report.legs]


@pytest.fixture(autouse=True)
def reset_slow_broker():  # type: ignore[no-untyped-def]
    yield
    SlowBroker.fill_after = 2
    SlowBroker.reject_closes = False


async def instrument(router: Router) -> Instrument:
    return await router.brokers["slow"].resolve(normalize("BTCUSD"))


async def test_the_open_waits_until_the_close_has_filled(tmp_path: Path) -> None:
    router = await make_router(tmp_path)
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        report = await route(router, {"ticker": "BTCUSD", "action": "sell", "quantity": "1",
                                      "sentiment": "short"})
        assert legs(report) == [("close", "sell", "filled"), ("open", "sell", "filled")]
        assert report.ok
        position = report.positions[0]
        assert (position.before, position.after, position.target) == (D(2), D(-1), D(-1))
        assert (await router.brokers["slow"].position(await instrument(router))).quantity == -1
    finally:
        await router.close()


async def test_a_close_that_does_not_fill_in_time_is_cancelled_and_nothing_opens(
    tmp_path: Path,
) -> None:
    SlowBroker.fill_after = None
    router = await make_router(tmp_path)
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        report = await route(router, {"ticker": "BTCUSD", "action": "sell", "quantity": "1",
                                      "sentiment": "short"})
        assert legs(report) == [("close", "sell", "canceled"), ("open", "sell", "denied")]
        assert not report.ok
        assert "did not fill within 0.3 s (cancelled); nothing opened" in (
            report.legs[1].result.reason or "")
        assert router.brokers["slow"].cancelled == [report.legs[0].result.client_order_id]
        assert report.positions[0].after == D(2)  # still long, as before
    finally:
        await router.close()


async def test_a_close_left_resting_when_configured(tmp_path: Path) -> None:
    SlowBroker.fill_after = None
    router = await make_router(tmp_path, CONFIG + 'on_close_timeout = "leave"\n')
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        report = await route(router, {"ticker": "BTCUSD", "action": "sell", "quantity": "1",
                                      "sentiment": "short"})
        assert legs(report) == [("close", "sell", "accepted"), ("open", "sell", "denied")]
        assert "left resting" in (report.legs[1].result.reason or "")
        assert router.brokers["slow"].cancelled == []
    finally:
        await router.close()


async def test_a_rejected_close_stops_the_open_and_the_report_says_still_long(
    tmp_path: Path,
) -> None:
    SlowBroker.reject_closes = True
    router = await make_router(tmp_path)
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        report = await route(router, {"ticker": "BTCUSD", "action": "sell", "quantity": "2",
                                      "sentiment": "short"})
        assert legs(report) == [("close", "sell", "rejected"), ("open", "sell", "denied")]
        assert "skipped: the close leg ended rejected" in (report.legs[1].result.reason or "")
        assert not report.ok
        assert report.positions[0].after == D(2)
    finally:
        await router.close()


async def test_an_exit_cancels_the_routers_resting_orders_first(tmp_path: Path) -> None:
    router = await make_router(tmp_path)
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        resting = await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                                       "orderType": "limit", "limitPrice": "90"})
        assert legs(resting) == [("open", "buy", "accepted")]
        report = await route(router, {"ticker": "BTCUSD", "action": "exit"})
        # nothing waits on the close, so the report has the venue's answer (acknowledged)
        assert legs(report) == [("cancel", "buy", "canceled"), ("close", "sell", "accepted")]
        assert report.ok
        assert [leg.purpose for leg in router.journal.open_legs("slow", "BTCUSD")] == ["close"]
    finally:
        await router.close()


async def test_a_partial_exit_leaves_resting_orders_alone(tmp_path: Path) -> None:
    router = await make_router(tmp_path)
    try:
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                             "orderType": "limit", "limitPrice": "90"})
        report = await route(router, {"ticker": "BTCUSD", "action": "exit", "quantity": "1"})
        assert legs(report) == [("close", "sell", "accepted")]
        assert report.legs[0].result.quantity == 1
        # the limit entry still rests (and the close, not looked up yet)
        assert len(router.journal.open_legs("slow", "BTCUSD")) == 2
    finally:
        await router.close()


async def test_foreign_orders_are_cancelled_only_when_asked(tmp_path: Path) -> None:
    for asked in (False, True):
        toml = CONFIG + ("cancel_foreign_orders = true\n" if asked else "")
        router = await make_router(tmp_path / str(asked), toml)
        try:
            broker = router.brokers["slow"]
            inst = await instrument(router)
            await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
            # an order placed by hand, straight at the paper venue: not in the journal
            by_hand = Order("by-hand", "slow", inst, Side.SELL, D(1), OrderType.STOP,
                            stop_price=D(80))
            await PaperBroker.submit_order(broker, by_hand)
            report = await route(router, {"ticker": "BTCUSD", "action": "exit"})
            cancels = [leg for leg in report.legs if leg.purpose.value == "cancel"]
            left = [o.client_order_id for o in await broker.open_orders(inst)]
            if asked:
                assert [c.result.status for c in cancels] == [OrderStatus.CANCELED]
                assert "not placed by this router" in (cancels[0].result.reason or "")
                assert left == []
            else:
                assert cancels == [] and left == ["by-hand"]
        finally:
            await router.close()


async def test_fills_count_into_the_holdings_once(tmp_path: Path) -> None:
    router = await make_router(tmp_path)
    try:
        journal = router.journal
        inst = await instrument(router)
        assert journal.holdings("slow", inst.symbol) == 0
        await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2"})
        await journal.flush()
        assert journal.holdings("slow", inst.symbol) == D(2)
        leg = journal.open_legs("slow", inst.symbol) or journal.legs_for_alert(
            journal.recent_alerts(1)[0].alert_id)
        cid = leg[0].client_order_id
        result = leg[0].result
        assert result is not None
        journal.record_outcome(cid, result)  # the same fill seen again
        assert journal.holdings("slow", inst.symbol) == D(2)
    finally:
        await router.close()

