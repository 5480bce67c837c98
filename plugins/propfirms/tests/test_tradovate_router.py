"""Tradovate accounts through the router: the prop-firm rules, and one alert to three venues."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from router_propfirms.fake.projectx import FAKE_API_KEY, FAKE_USERNAME, FakeProjectX
from router_propfirms.fake.projectx_kit import HostTransport, route, started_router
from router_propfirms.fake.tradovate import FAKE_APP_ID, FakeTradovate
from router_propfirms.fake.tradovate_kit import ENV
from router_propfirms.rules import watch_flatten

from router_core import OrderStatus
from router_core.testing import FakeClock

CHICAGO = ZoneInfo("America/Chicago")
START = datetime(2026, 12, 4, 9, 0, tzinfo=CHICAGO).timestamp()  # a Friday morning
BUY = {"ticker": "MNQ1!", "action": "buy", "quantity": "2"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def config(rules: str) -> str:
    return f"""
[router]
state_dir = "{{state}}"
reconcile_window_seconds = 0.05

[accounts.eval]
broker = "tradovate"
app_id = "{FAKE_APP_ID}"
base_url = "https://tradovate.invalid/v1"

[accounts.eval.rules]
{rules}
"""


@pytest_asyncio.fixture
async def make(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    routers: list[Any] = []

    async def build(rules: str) -> tuple[Any, FakeTradovate, FakeClock]:
        clock = FakeClock(START)
        fake = FakeTradovate(clock=clock)
        router = await started_router(
            tmp_path / str(len(routers)), config(rules), clock=clock,
            transport=HostTransport({"tradovate.invalid": fake}))
        routers.append(router)
        return router, fake, clock

    yield build
    for router in routers:
        await router.close()


def only_leg(report: Any) -> Any:
    (leg,) = report.legs
    return leg


async def test_entry_refused_after_the_daily_loss_limit(make: Callable[..., Any]) -> None:
    router, fake, _ = await make("daily_loss_limit = 100")
    assert only_leg(await route(router, BUY)).result.status is OrderStatus.FILLED
    fake.set_price("MNQZ6", "20970")  # 30 points x 2 USD x 2 contracts: 120 down
    leg = only_leg(await route(router, BUY))
    assert leg.result.status is OrderStatus.DENIED
    assert leg.result.reason.startswith(
        "risk: prop rule daily_loss_limit: the account is down 120.00 USD")
    assert fake.position_of("MNQZ6") == 2  # nothing more was bought
    exit_leg = only_leg(await route(router, {"ticker": "MNQ1!", "action": "exit"}))
    assert exit_leg.result.status is OrderStatus.FILLED  # closing is never refused
    assert fake.position_of("MNQZ6") == 0


async def test_flatten_at_the_configured_time_closes_and_cancels(
    make: Callable[..., Any]
) -> None:
    router, fake, clock = await make('flatten_at = "15:10"')
    await route(router, BUY)
    resting = {**BUY, "order_type": "limit", "price": "20000", "quantity": "1"}
    assert only_leg(await route(router, resting)).result.status is OrderStatus.ACCEPTED
    clock.advance(datetime(2026, 12, 4, 15, 11, tzinfo=CHICAGO).timestamp() - START)
    await watch_flatten(clock, rounds=1)
    assert fake.position_of("MNQZ6") == 0
    assert [o.status for o in fake.orders.values() if o.order_type == "Limit"] == ["Canceled"]
    leg = only_leg(await route(router, BUY))
    assert leg.result.status is OrderStatus.DENIED
    assert "prop rule flatten_at" in leg.result.reason


async def test_one_alert_to_projectx_tradovate_and_kraken_futures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kf = pytest.importorskip("router_kraken_futures.fake")  # another distribution
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", kf.FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", kf.FAKE_API_SECRET)
    monkeypatch.setenv("PROJECTX_USERNAME", FAKE_USERNAME)
    monkeypatch.setenv("PROJECTX_API_KEY", FAKE_API_KEY)
    clock = FakeClock(START)
    projectx, tradovate = FakeProjectX(clock=clock), FakeTradovate(clock=clock)
    kraken = kf.FakeKrakenFutures(clock=clock)
    text = f"""
[router]
state_dir = "{{state}}"
reconcile_window_seconds = 0.05

[accounts.topstep]
broker = "projectx"
gateway = "custom"
base_url = "https://gateway.invalid"
multiplier = "2"
symbol_overrides = {{ "XBTUSD.P" = "MBT1!" }}

[accounts.tradovate]
broker = "tradovate"
app_id = "{FAKE_APP_ID}"
base_url = "https://tradovate.invalid/v1"
multiplier = "3"
symbol_overrides = {{ "XBTUSD.P" = "MBT1!" }}

[accounts.kraken]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
timeout_seconds = 0.5
"""
    transport = HostTransport({"gateway.invalid": projectx, "tradovate.invalid": tradovate,
                               "127.0.0.1": kraken})
    router = await started_router(tmp_path, text, clock=clock, transport=transport,
                                  plugins=("propfirms", "kraken-futures"))
    try:
        report = await route(router, {"ticker": "XBTUSD.P", "action": "buy", "quantity": "1",
                                      "price": "95000"})
    finally:
        await router.close()
    assert report.ok, report.to_dict()
    legs = {leg.account: leg for leg in report.legs}
    assert (legs["topstep"].symbol, legs["topstep"].result.filled_quantity) == (
        "CON.F.US.MBT.Z26", Decimal(2))
    assert (legs["tradovate"].symbol, legs["tradovate"].result.filled_quantity) == (
        "MBTZ6", Decimal(3))
    assert tradovate.position_of("MBTZ6") == 3
    assert tradovate.placed[-1]["isAutomated"] is True
    assert legs["kraken"].symbol == "PF_XBTUSD" and legs["kraken"].result.status.is_success
    assert kraken.sendorders[-1]["size"] == "1"
