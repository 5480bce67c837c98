"""The planner's shortcuts for the common leg: the alert's own price is used without asking
the venue, a flat position is made once per symbol, and a plan is checked only when a limit
or a plugin can refuse it. Each shortcut must plan exactly what the long way plans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from router_core import account_plan
from router_core.account_plan import alert_price
from router_core.alert import Alert
from router_core.models import Position
from router_core.normalize import normalize
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import FakeClock

TOML = """
[router]
state_dir = "{state}"
plugins = ["paper"]

[accounts.cash]
broker = "paper"
account_kind = "cash"
"""


@pytest_asyncio.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    path = tmp_path / "router.toml"
    path.write_text(TOML.format(state=tmp_path / "state"))
    router = Router.from_config_file(path, clock=FakeClock(),
                                     plugins=make_plugin_manager(["paper"]))
    assert await router.start() == []
    yield router
    await router.close()


def alert(**fields: Any) -> Alert:
    return Alert.model_validate({"ticker": "XBTUSD", "action": "buy", "quantity": "0.5",
                                 "id": "fast-paths", **fields})


async def plan_for(router: Router, a: Alert) -> Any:
    broker = router.brokers["cash"]
    instrument = await broker.resolve(normalize(a.ticker))
    return await router.planner.plan(a, "ik-1", router.config.accounts["cash"], broker,
                                     instrument, Decimal(1))


def test_alert_price_takes_the_first_price_the_alert_gives() -> None:
    assert alert_price(alert()) is None
    assert alert_price(alert(orderType="stop", stopPrice="90")) == Decimal("90")
    assert alert_price(alert(orderType="stop", signalPrice="95", stopPrice="90")) == Decimal(
        "95")
    assert alert_price(alert(orderType="limit", limitPrice="99", signalPrice="95")) == Decimal(
        "99")
    assert alert_price(alert(price="100", orderType="limit", limitPrice="99")) == Decimal("100")


async def test_an_alert_with_a_price_never_asks_the_venue(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = router.brokers["cash"]
    asked: list[str] = []

    async def reference_price(instrument: Any) -> Decimal:
        asked.append(instrument.symbol)
        return Decimal("40000")

    monkeypatch.setattr(broker, "reference_price", reference_price)
    limit = await plan_for(router, alert(orderType="limit", limitPrice="39000"))
    assert asked == []
    assert limit.legs[0].order.reference_price == Decimal("39000")
    market = await plan_for(router, alert())
    assert asked == [market.symbol]
    assert market.legs[0].order.reference_price == Decimal("40000")


async def test_a_plain_buy_plans_from_one_shared_flat_position(router: Router) -> None:
    first = await plan_for(router, alert(orderType="limit", limitPrice="39000"))
    second = await plan_for(router, alert(orderType="limit", limitPrice="39000"))
    assert first == second
    assert first.position_before is None  # not read from the venue: not reported
    flat = router.planner._flat(first.symbol)
    assert flat == Position(first.symbol, Decimal(0))
    assert router.planner._flat(first.symbol) is flat


def test_flat_positions_are_forgotten_all_at_once_when_full(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_plan, "FLAT_POSITIONS_KEPT", 2)
    planner = router.planner
    planner._flat_positions.clear()
    a, b = planner._flat("A"), planner._flat("B")
    assert planner._flat("A") is a and planner._flat("B") is b
    c = planner._flat("C")
    assert list(planner._flat_positions) == ["C"]
    assert c == Position("C", Decimal(0))


async def test_a_risk_limit_still_refuses_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text(TOML.format(state=tmp_path / "state") + "risk.max_order_notional = 100\n")
    router = Router.from_config_file(path, clock=FakeClock(),
                                     plugins=make_plugin_manager(["paper"]))
    assert await router.start() == []
    try:
        plan = await plan_for(router, alert(orderType="limit", limitPrice="39000"))
    finally:
        await router.close()
    assert plan.legs[0].denied_reason is not None
    assert plan.legs[0].denied_reason.startswith("risk: ")
