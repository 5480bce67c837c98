"""One alert, many prop-firm accounts: per-account sizes and rules, outcomes in one report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from router_propfirms.fake.projectx import FAKE_API_KEY, FAKE_USERNAME, FakeProjectX
from router_propfirms.fake.projectx_kit import HostTransport, route, started_router

from router_core import OrderStatus
from router_core.testing import FakeClock

START = datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("America/Chicago")).timestamp()
NQ = "CON.F.US.ENQ.Z26"
EVALUATIONS = 20
BREAKER = 7  # this account's rules refuse the alert


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECTX_USERNAME", FAKE_USERNAME)
    monkeypatch.setenv("PROJECTX_API_KEY", FAKE_API_KEY)


def evaluation_accounts() -> str:
    """Twenty ProjectX evaluation accounts of one login, each with its own multiplier and
    rules; account 7 allows one contract per symbol and gets three."""
    tables = []
    for n in range(1, EVALUATIONS + 1):
        per_symbol = 1 if n == BREAKER else 5
        tables.append(f"""
[accounts.eval-{n:02d}]
broker = "projectx"
gateway = "custom"
base_url = "https://gateway.invalid"
account_name = "EVAL-{n:02d}"
multiplier = "{1 + n % 3}"

[accounts.eval-{n:02d}.rules]
daily_loss_limit = {1000 + 50 * n}
trailing_drawdown = 2000
max_contracts_per_symbol = {per_symbol}
flatten_at = "15:10"
""")
    return '[router]\nstate_dir = "{state}"\nreconcile_window_seconds = 0.05\n' + \
        "".join(tables)


async def test_one_alert_to_twenty_evaluation_accounts(tmp_path: Path) -> None:
    clock = FakeClock(START)
    fake = FakeProjectX(clock=clock, accounts=EVALUATIONS)
    router = await started_router(tmp_path, evaluation_accounts(), clock=clock,
                                  transport=httpx.ASGITransport(app=fake))
    try:
        report = await route(router, {"ticker": "NQ1!", "action": "buy", "quantity": "1"})
    finally:
        await router.close()
    by_account = {leg.account: leg for leg in report.legs}
    assert sorted(by_account) == [f"eval-{n:02d}" for n in range(1, EVALUATIONS + 1)]
    breaker = by_account.pop(f"eval-{BREAKER:02d}")
    assert breaker.result.status is OrderStatus.DENIED  # refused here, never sent
    assert breaker.result.reason == (
        "risk: prop rule max_contracts_per_symbol: CON.F.US.ENQ.Z26 would hold 2 contracts "
        "(now 0), over the limit 1 for NQ")
    for name, leg in by_account.items():
        n = int(name.removeprefix("eval-"))
        assert (leg.result.status, leg.result.filled_quantity) == (
            OrderStatus.FILLED, Decimal(1 + n % 3)), name
        assert fake.account(f"EVAL-{n:02d}").positions[NQ].size == 1 + n % 3
    assert NQ not in fake.account(f"EVAL-{BREAKER:02d}").positions
    assert not report.ok  # one account was refused, and the report says which
    assert fake.logins == 1  # the twenty accounts of one login share its session
    assert len(report.positions) == EVALUATIONS


async def test_one_alert_to_projectx_and_kraken_futures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # another first-party distribution: skipped where only this one is installed
    kf = pytest.importorskip("router_kraken_futures.fake")
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", kf.FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", kf.FAKE_API_SECRET)
    clock = FakeClock(START)
    projectx = FakeProjectX(clock=clock)
    kraken = kf.FakeKrakenFutures(clock=clock)
    config = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.topstep]
broker = "projectx"
gateway = "custom"
base_url = "https://gateway.invalid"
multiplier = "2"
symbol_overrides = { "XBTUSD.P" = "MBT1!" }

[accounts.topstep.rules]
max_contracts = 10

[accounts.kraken]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
timeout_seconds = 0.5
"""
    transport = HostTransport({"gateway.invalid": projectx, "127.0.0.1": kraken})
    router = await started_router(tmp_path, config, clock=clock, transport=transport,
                                  plugins=("propfirms", "kraken-futures"))
    try:
        report = await route(router, {"ticker": "XBTUSD.P", "action": "buy", "quantity": "1",
                                      "price": "95000"})
    finally:
        await router.close()
    legs = {leg.account: leg for leg in report.legs}
    assert report.ok, report.to_dict()
    assert legs["topstep"].symbol == "CON.F.US.MBT.Z26"  # December's MBT trades to the 24th
    assert legs["topstep"].result.filled_quantity == Decimal(2)
    assert projectx.account("EVAL-01").positions["CON.F.US.MBT.Z26"].size == 2
    assert legs["kraken"].symbol == "PF_XBTUSD"
    assert legs["kraken"].result.status.is_success
    assert kraken.sendorders[-1]["size"] == "1"


async def test_one_alert_to_projectx_and_tradovate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from router_propfirms.fake import tradovate as tv
    from router_propfirms.fake.tradovate_kit import ENV as TRADOVATE_ENV

    for name, value in TRADOVATE_ENV.items():
        monkeypatch.setenv(name, value)
    clock = FakeClock(START)
    projectx, tradovate = FakeProjectX(clock=clock), tv.FakeTradovate(clock=clock)
    config = f"""
[router]
state_dir = "{{state}}"
reconcile_window_seconds = 0.05

[accounts.topstep]
broker = "projectx"
gateway = "custom"
base_url = "https://gateway.invalid"
multiplier = "3"

[accounts.topstep.rules]
max_contracts = 10

[accounts.tradovate]
broker = "tradovate"
app_id = "{tv.FAKE_APP_ID}"
base_url = "https://tradovate.invalid/v1"
"""
    transport = HostTransport({"gateway.invalid": projectx, "tradovate.invalid": tradovate})
    router = await started_router(tmp_path, config, clock=clock, transport=transport)
    try:
        report = await route(router, {"ticker": "CME_MINI:MNQ1!", "action": "buy",
                                      "quantity": "2"})
    finally:
        await router.close()
    assert report.ok, report.to_dict()
    legs = {leg.account: leg for leg in report.legs}
    assert (legs["topstep"].symbol, legs["topstep"].result.filled_quantity) == (
        "CON.F.US.MNQ.Z26", Decimal(6))
    assert projectx.account("EVAL-01").positions["CON.F.US.MNQ.Z26"].size == 6
    assert legs["tradovate"].symbol == "MNQZ6"
    assert tradovate.position_of("MNQZ6") == 2
