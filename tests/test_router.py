"""The data path end to end on paper accounts: fan-out, reverse, sizing, refusals, recovery."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router_core import hookimpl
from router_core.journal import AlertState, ClaimOutcome
from router_core.models import OrderStatus
from router_core.normalize import normalize
from router_core.orders import client_order_id
from router_core.plugins import make_plugin_manager
from router_core.router import Router

TWO_PAPER = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "paper"
fill_price = "50000"

[accounts.bob]
broker = "paper"
multiplier = "2"
lot_size = "0.001"
"""


def make_router(tmp_path: Path, toml: str = TWO_PAPER, extra=()) -> Router:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return Router.from_config_file(path, plugins=make_plugin_manager(["paper"], extra=extra))


async def route(router: Router, alert: dict, **kw):
    acceptance = router.accept(json.dumps(alert).encode(), "application/json", **kw)
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


@pytest.fixture
async def router(tmp_path):
    router = make_router(tmp_path)
    await router.start()
    yield router
    await router.close()


def legs(report):
    return [
        (
            leg.account,
            leg.purpose.value,
            leg.side.value if leg.side else None,
            leg.result.status.value,
            str(leg.result.quantity),
        )
        for leg in report.legs
    ]


async def test_one_alert_fans_out_to_two_accounts(router):
    report = await route(
        router, {"ticker": "BTCUSD", "action": "buy", "quantity": "0.5", "price": "40000"}
    )
    assert legs(report) == [
        ("alice", "open", "buy", "filled", "0.5"),
        ("bob", "open", "buy", "filled", "1.0"),
    ]  # multiplier 2
    assert report.ok


async def test_reverse_on_a_long_gives_close_then_open(router):
    await route(
        router,
        {
            "ticker": "BTCUSD",
            "action": "buy",
            "quantity": "1",
            "price": "100",
            "accounts": ["alice"],
        },
    )
    report = await route(
        router,
        {
            "ticker": "BTCUSD",
            "action": "sell",
            "sentiment": "short",
            "quantity": "2",
            "price": "110",
            "accounts": ["alice"],
        },
    )
    assert legs(report) == [
        ("alice", "close", "sell", "filled", "1"),
        ("alice", "open", "sell", "filled", "2"),
    ]
    alice = router.brokers["alice"]
    position = await alice.position(await alice.resolve(normalize("BTCUSD")))
    assert position.quantity == Decimal(-2)


async def test_dollar_amount_is_rounded_down_to_the_lot(router):
    report = await route(
        router,
        {
            "ticker": "ETHUSD",
            "action": "buy",
            "quantity": "1000",
            "quantityType": "dollar_amount",
            "price": "3000",
            "accounts": ["bob"],
        },
    )
    # 1000 / 3000 = 0.3333.. x multiplier 2 = 0.6666.. -> lot 0.001 -> 0.666
    assert legs(report) == [("bob", "open", "buy", "filled", "0.666")]


async def test_client_order_ids_are_deterministic(router):
    report = await route(
        router,
        {
            "ticker": "BTCUSD",
            "action": "buy",
            "quantity": "1",
            "id": "strategy-7-bar-1",
            "accounts": ["alice"],
        },
    )
    assert report.legs[0].result.client_order_id == client_order_id(
        "strategy-7-bar-1", "alice", report.legs[0].purpose
    )


async def test_resent_body_is_a_duplicate_and_same_id_other_body_a_conflict(router):
    body = json.dumps(
        {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "x1", "accounts": ["alice"]}
    ).encode()
    first = router.accept(body, "application/json")
    await router.execute(first.alert_id)
    again = router.accept(body, "application/json")
    assert (again.outcome, again.alert_id) == (ClaimOutcome.DUPLICATE, first.alert_id)
    other = json.dumps(
        {"ticker": "BTCUSD", "action": "buy", "quantity": "3", "id": "x1", "accounts": ["alice"]}
    ).encode()
    assert router.accept(other, "application/json").outcome is ClaimOutcome.CONFLICT
    assert router.brokers["alice"].ledger.count_orders() == 1


async def test_refired_alert_with_new_timenow_is_a_duplicate(router):
    base = {
        "ticker": "BTCUSD",
        "action": "buy",
        "quantity": "1",
        "strategy": "s",
        "time": "2026-11-26T10:00:00Z",
        "accounts": ["alice"],
    }
    first = router.accept(json.dumps({**base, "timenow": "2026-11-26T10:00:01Z"}).encode(), None)
    second = router.accept(json.dumps({**base, "timenow": "2026-11-26T10:00:09Z"}).encode(), None)
    assert second.outcome is ClaimOutcome.DUPLICATE and second.alert_id == first.alert_id


async def test_halt_refuses_and_is_journaled(router):
    router.halt("maintenance")
    report = await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
    assert report.legs == () and "halted" in report.refused and not report.ok
    assert router.journal.get_alert(report.alert_id).state is AlertState.REFUSED
    router.resume()
    report = await route(
        router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2", "price": "100"}
    )
    assert report.ok


async def test_risk_limit_denies_with_the_numbers(tmp_path):
    router = make_router(
        tmp_path, TWO_PAPER + '\n[accounts.alice.risk]\nmax_order_notional = "1000"\n'
    )
    await router.start()
    try:
        report = await route(
            router,
            {
                "ticker": "BTCUSD",
                "action": "buy",
                "quantity": "1",
                "price": "50000",
                "accounts": ["alice"],
            },
        )
        (leg,) = report.legs
        assert leg.result.status is OrderStatus.DENIED
        assert "50000" in leg.result.reason and "max_order_notional 1000" in leg.result.reason
        assert router.brokers["alice"].ledger.count_orders() == 0
    finally:
        await router.close()


async def test_short_on_an_account_that_cannot_short_is_denied(tmp_path):
    router = make_router(tmp_path, TWO_PAPER + "can_short = false\n")
    await router.start()
    try:
        report = await route(
            router,
            {
                "ticker": "BTCUSD",
                "action": "sell",
                "quantity": "1",
                "price": "10",
                "accounts": ["bob"],
            },
        )
        (leg,) = report.legs
        assert leg.result.status is OrderStatus.DENIED and "short" in leg.result.reason
    finally:
        await router.close()


async def test_unknown_account_is_refused_with_the_names(router):
    report = await route(
        router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "accounts": ["carol"]}
    )
    assert report.legs == () and "carol" in report.refused and "alice" in report.refused


async def test_plugin_check_plan_denial_and_isolated_observers(tmp_path):
    seen = []

    class Guard:
        @hookimpl
        def router_check_plan(self, plan):
            return "no DOGE here" if plan.symbol.startswith("DOGE") else None

    class Broken:
        @hookimpl
        def router_execution_finished(self, report):
            raise RuntimeError("observer bug")

    class Recorder:
        @hookimpl
        async def router_execution_finished(self, report):
            seen.append(report.alert_id)

    router = make_router(
        tmp_path, extra=[("guard", Guard()), ("broken", Broken()), ("recorder", Recorder())]
    )
    await router.start()
    try:
        report = await route(
            router,
            {
                "ticker": "DOGEUSD",
                "action": "buy",
                "quantity": "5",
                "price": "0.1",
                "accounts": ["alice"],
            },
        )
        assert report.legs[0].result.status is OrderStatus.DENIED
        assert "no DOGE here" in report.legs[0].result.reason
        assert seen == [report.alert_id]  # the broken observer did not hide the report
    finally:
        await router.close()


async def test_answered_but_unexecuted_alert_is_executed_at_start(tmp_path):
    router = make_router(tmp_path)
    acceptance = router.accept(
        json.dumps(
            {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "accounts": ["alice"]}
        ).encode(),
        None,
    )
    await router.close()  # "crash" after the 2xx, before execution
    restarted = make_router(tmp_path)
    await restarted.start()
    try:
        record = restarted.journal.get_alert(acceptance.alert_id)
        assert record.state is AlertState.DONE
        assert restarted.brokers["alice"].ledger.count_orders() == 1
    finally:
        await restarted.close()


async def test_cancel_cancels_resting_orders_placed_by_the_router(router):
    await route(
        router,
        {
            "ticker": "BTCUSD",
            "action": "buy",
            "quantity": "1",
            "orderType": "stop",
            "stopPrice": "60000",
            "accounts": ["alice"],
        },
    )
    report = await route(router, {"ticker": "BTCUSD", "action": "cancel", "accounts": ["alice"]})
    assert [leg.result.status for leg in report.legs] == [OrderStatus.CANCELED]


async def test_exit_with_a_quantity_closes_part_of_the_position(router):
    await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "3", "price": "100",
                         "accounts": ["alice"]})
    report = await route(router, {"ticker": "BTCUSD", "action": "exit", "quantity": "50",
                                  "quantityType": "percent_of_position", "accounts": ["alice"]})
    assert legs(report) == [("alice", "close", "sell", "filled", "1.5")]


async def test_partial_exit_that_cannot_be_sized_closes_nothing(router):
    await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "2", "price": "100",
                         "accounts": ["bob"]})
    report = await route(router, {"ticker": "BTCUSD", "action": "exit", "quantity": "100",
                                  "quantityType": "dollar_amount", "accounts": ["bob"]})
    (leg,) = report.legs
    assert leg.result.status is OrderStatus.DENIED and "price" in leg.result.reason
    assert router.brokers["bob"].ledger.count_orders() == 1  # the buy only


async def test_daily_loss_limit_counts_realised_losses_and_survives_a_restart(tmp_path):
    toml = TWO_PAPER + '\n[accounts.bob.risk]\ndaily_loss_limit = "150"\n'
    router = make_router(tmp_path, toml)
    await router.start()
    await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
                         "accounts": ["bob"]})  # 2 with bob's multiplier
    await route(router, {"ticker": "BTCUSD", "action": "exit", "price": "20",
                         "accounts": ["bob"]})  # realises 2 x (20 - 100) = -160
    await router.close()
    restarted = make_router(tmp_path, toml)
    await restarted.start()
    try:
        report = await route(restarted, {"ticker": "ETHUSD", "action": "buy", "quantity": "1",
                                         "price": "10", "accounts": ["bob"]})
        (leg,) = report.legs
        assert leg.result.status is OrderStatus.DENIED
        assert "daily loss limit reached: realised -160" in leg.result.reason
    finally:
        await restarted.close()


def test_realised_pnl_of_linear_and_inverse_closes():
    from router_core.models import Instrument, InstrumentKind, Order, OrderResult, Position, Side
    from router_core.risk import realised_pnl

    linear = Instrument("PF_XBTUSD", "BTC", "USD", InstrumentKind.PERPETUAL, Decimal("0.5"),
                        Decimal("0.001"))
    inverse = Instrument("PI_XBTUSD", "BTC", "USD", InstrumentKind.PERPETUAL, Decimal("0.5"),
                         Decimal("1"), inverse=True)
    fill = OrderResult(OrderStatus.FILLED, "c", filled_quantity=Decimal(2),
                       average_price=Decimal(110))
    short = Position("X", Decimal(-2), Decimal(100))
    assert realised_pnl(short, Order("c", "a", linear, Side.BUY, Decimal(2)), fill) == -20
    long_ = Position("X", Decimal(2), Decimal(100))
    pnl = realised_pnl(long_, Order("c", "a", inverse, Side.SELL, Decimal(2)), fill)
    assert pnl == 2 * (Decimal(1) / 100 - Decimal(1) / 110)
    opening = Order("c", "a", linear, Side.BUY, Decimal(2))
    assert realised_pnl(long_, opening, fill) is None  # adding to a long realises nothing


async def test_a_stub_account_is_denied_while_the_paper_account_fills(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[accounts.paper]\nbroker = "paper"\n\n'
                    '[accounts.prop]\nbroker = "rithmic"\n'
                    'gateway_url = "wss://rithmic.example/gateway"\n'
                    'system_name = "Rithmic Paper Trading"\napp_name = "alert-router"\n')
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper", "propfirms"]))
    await router.start()
    try:
        report = await route(router, {"ticker": "NQ1!", "action": "buy", "quantity": "1",
                                      "price": "20000", "accounts": ["paper", "prop"]})
        by_account = {leg.account: leg.result for leg in report.legs}
        assert by_account["paper"].status is OrderStatus.FILLED
        assert by_account["prop"].status is OrderStatus.DENIED
        assert by_account["prop"].reason.startswith("rithmic: ")
        assert "is not implemented yet (stub)" in by_account["prop"].reason
    finally:
        await router.close()


async def test_a_plugin_bug_denies_its_account_and_the_other_account_still_fills(tmp_path):
    from router_core import Broker, Instrument, InstrumentKind

    class BuggyBroker(Broker):
        name = "buggy"

        async def resolve(self, symbol):
            return Instrument(symbol.ticker, "BTC", "USD", InstrumentKind.SPOT,
                              Decimal("0.01"), Decimal("0.001"))

        async def balance(self, currency=None):
            raise KeyError("result")  # an answer the plugin did not expect

        async def position(self, instrument):
            raise KeyError("result")

        async def submit_order(self, order):
            raise AssertionError("nothing may be sent after a failure while planning")

    class BuggyPlugin:
        @hookimpl
        def router_register_brokers(self, register):
            register(BuggyBroker)

    path = tmp_path / "config.toml"
    path.write_text('[accounts.paper]\nbroker = "paper"\n\n[accounts.bug]\nbroker = "buggy"\n')
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(["paper"], extra=[("buggy", BuggyPlugin())]))
    await router.start()
    try:
        report = await route(router, {"ticker": "BTCUSD", "action": "buy",
                                      "quantityType": "percent_of_equity", "quantity": "10",
                                      "price": "50000", "accounts": ["paper", "bug"]})
        by_account = {leg.account: leg.result for leg in report.legs}
        assert by_account["paper"].status is OrderStatus.FILLED
        assert by_account["bug"].status is OrderStatus.DENIED
        assert "buggy failed with KeyError while planning the order" in by_account["bug"].reason
        assert router.journal.get_alert(report.alert_id).state is AlertState.DONE
    finally:
        await router.close()
