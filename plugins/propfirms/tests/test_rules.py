"""Prop-firm rules through the router on ProjectX accounts (fake venue, injected clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError
from router_propfirms.fake.projectx import FAKE_API_KEY, FAKE_USERNAME, FakeProjectX
from router_propfirms.fake.projectx_kit import route, started_router
from router_propfirms.rules import watch_flatten
from router_propfirms.rules_config import PropRules

from router_core import OrderStatus
from router_core.testing import FakeClock

CHICAGO = ZoneInfo("America/Chicago")
NQ = "CON.F.US.ENQ.Z26"


def chicago(day: int, hour: int, minute: int = 0) -> float:
    """Unix time of 2026-12-<day> hour:minute in Chicago (4 December is a Friday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=CHICAGO).timestamp()


def config(rules: str) -> str:
    return f"""
[router]
state_dir = "{{state}}"
reconcile_window_seconds = 0.05

[accounts.eval]
broker = "projectx"
gateway = "custom"
base_url = "https://gateway.invalid"

[accounts.eval.rules]
{rules}
"""


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECTX_USERNAME", FAKE_USERNAME)
    monkeypatch.setenv("PROJECTX_API_KEY", FAKE_API_KEY)


@pytest_asyncio.fixture
async def make(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    routers: list[Any] = []

    async def build(rules: str, start: float = chicago(4, 9)) -> tuple[Any, FakeProjectX,
                                                                        FakeClock]:
        clock = FakeClock(start)
        fake = FakeProjectX(clock=clock)
        router = await started_router(tmp_path / str(len(routers)), config(rules), clock=clock,
                                      transport=httpx.ASGITransport(app=fake))
        routers.append(router)
        return router, fake, clock

    yield build
    for router in routers:
        await router.close()


def outcome(report: Any) -> list[tuple[str, str, str | None]]:
    return [(leg.purpose.value, leg.result.status.value, leg.result.reason)
            for leg in report.legs]


def denied(report: Any) -> str:
    (leg,) = report.legs
    assert leg.result.status is OrderStatus.DENIED, outcome(report)
    return str(leg.result.reason)


BUY = {"ticker": "NQ1!", "action": "buy", "quantity": "1"}
EXIT = {"ticker": "NQ1!", "action": "exit"}


async def test_entry_refused_after_the_daily_loss_limit(make: Callable[..., Any]) -> None:
    router, fake, clock = await make("daily_loss_limit = 500")
    assert outcome(await route(router, BUY))[0][1] == "filled"
    fake.set_price(NQ, "20970")  # 30 points x 20 USD: 600 down
    closed = await route(router, EXIT)  # an exit is never refused by the rules
    assert outcome(closed)[0][:2] == ("close", "filled")
    reason = denied(await route(router, BUY))
    assert reason.startswith("risk: prop rule daily_loss_limit: the account is down 600.00 USD")
    assert "the day began at 50,000.00" in reason and "limit 500.00" in reason
    assert len(fake.orders) == 2  # nothing more reached the venue
    clock.advance(chicago(4, 17, 1) - clock.time())  # the next trading day opens at 17:00 CT
    assert outcome(await route(router, BUY))[0][1] == "filled"


async def test_flatten_at_the_configured_time(make: Callable[..., Any]) -> None:
    router, fake, clock = await make('flatten_at = "15:10"')
    await route(router, {**BUY, "quantity": "2"})
    resting = await route(router, {"ticker": "NQ1!", "action": "buy", "quantity": "1",
                                   "orderType": "limit", "limitPrice": "20000"})
    assert outcome(resting)[0][1] == "accepted"
    account = next(iter(fake.accounts.values()))
    fake.orders[0].custom_tag = None  # stands for an order placed by hand: left alone
    clock.advance(chicago(4, 15, 9) - clock.time())
    await watch_flatten(clock, rounds=1)
    assert account.positions[NQ].size == 2  # not yet
    clock.advance(120)  # 15:11 CT
    await watch_flatten(clock, rounds=1)
    assert account.positions[NQ].size == 0
    assert [o.status for o in fake.orders if o.limit_price == Decimal(20000)] == [3]
    reason = denied(await route(router, BUY))
    assert "prop rule flatten_at: it is 15:11 America/Chicago, after the flatten time 15:10" \
        in reason and "opens at 17:00" in reason
    clock.advance(chicago(4, 17, 0) - clock.time())
    assert outcome(await route(router, BUY))[0][1] == "filled"


async def test_after_the_flatten_time_entries_wait_and_exits_go(
        make: Callable[..., Any]) -> None:
    # The check places nothing itself (it also runs for dry runs): an entry is refused, an
    # exit closes as always.
    router, fake, clock = await make('flatten_at = "15:10"')
    await route(router, {**BUY, "quantity": "3"})
    clock.advance(chicago(4, 15, 30) - clock.time())
    assert "after the flatten time" in denied(await route(router, BUY))
    assert next(iter(fake.accounts.values())).positions[NQ].size == 3
    assert outcome(await route(router, EXIT))[0][:2] == ("close", "filled")
    assert next(iter(fake.accounts.values())).positions[NQ].size == 0


async def test_trailing_drawdown_follows_the_high_water_mark(make: Callable[..., Any]) -> None:
    router, fake, _clock = await make(
        'trailing_drawdown = 1000\ndrawdown_mode = "intraday"\nstarting_balance = 50000')
    await route(router, {**BUY, "quantity": "3"})
    fake.set_price(NQ, "21025")  # +25 x 20 x 3 = +1500
    await route(router, EXIT)  # balance 51500: the mark follows it up
    await route(router, BUY)
    fake.set_price(NQ, "20970")  # -55 x 20: balance 50400, under the floor 50500
    await route(router, EXIT)
    reason = denied(await route(router, BUY))
    assert ("prop rule trailing_drawdown: equity 50,400.00 is at or under the floor 50,500.00 "
            "(intraday high-water mark 51,500.00 less 1,000.00)") in reason


async def test_end_of_day_drawdown_moves_only_at_the_close(make: Callable[..., Any]) -> None:
    router, fake, clock = await make('trailing_drawdown = 1000\nstarting_balance = 50000')
    await route(router, {**BUY, "quantity": "3"})
    fake.set_price(NQ, "21025")
    await route(router, EXIT)  # 51500, but the mark moves only at the day's close
    await route(router, BUY)
    fake.set_price(NQ, "20970")
    await route(router, EXIT)  # 50400: above the end-of-day floor 49000
    assert outcome(await route(router, BUY))[0][1] == "filled"
    await route(router, EXIT)
    clock.advance(chicago(4, 18) - clock.time())  # next day: the mark is the close, 50400
    fake.set_price(NQ, "20950")
    await route(router, BUY)
    fake.set_price(NQ, "20920")  # -30 x 20: 49800, still above the new floor 49400
    await route(router, EXIT)
    assert outcome(await route(router, BUY))[0][1] == "filled"
    fake.set_price(NQ, "20900")  # -20 x 20 = -400 more: 49400, at the floor
    await route(router, EXIT)
    assert "floor 49,400.00 (end_of_day high-water mark 50,400.00" in denied(
        await route(router, BUY))


async def test_max_contracts_per_symbol_and_in_total(make: Callable[..., Any]) -> None:
    router, _fake, _clock = await make(
        "max_contracts_per_symbol = 3\nmax_contracts = 4\nmax_contracts_by_root = { MNQ = 10 }")
    await route(router, {**BUY, "quantity": "3"})
    reason = denied(await route(router, BUY))
    assert reason == ("risk: prop rule max_contracts_per_symbol: CON.F.US.ENQ.Z26 would hold 4 "
                      "contracts (now 3), over the limit 3 for NQ")
    reason = denied(await route(router, {"ticker": "MNQ1!", "action": "buy", "quantity": "2"}))
    assert "prop rule max_contracts: the account would hold 5 contracts (3 on other symbols, " \
        "2 on CON.F.US.MNQ.Z26), over the limit 4" in reason
    assert outcome(await route(router, {"ticker": "MNQ1!", "action": "buy",
                                        "quantity": "1"}))[0][1] == "filled"
    # reducing is never refused, even above a limit
    assert outcome(await route(router, {"ticker": "NQ1!", "action": "sell",
                                        "quantity": "1"}))[0][1] == "filled"


async def test_blackout_windows_inline_and_from_the_users_file(
        make: Callable[..., Any], tmp_path: Path) -> None:
    news = tmp_path / "news.toml"
    news.write_text('[[blackout]]\nname = "CPI"\nstart = 2026-12-04T07:25:00\n'
                    'end = 2026-12-04T07:40:00\nroots = ["ES", "NQ"]\n')
    router, _fake, clock = await make(
        f'blackout_file = "{news}"\n'
        '[[accounts.eval.rules.blackouts]]\nname = "FOMC"\n'
        'start = 2026-12-04T13:00:00\nend = 2026-12-04T13:30:00\n',
        start=chicago(4, 7, 30))
    reason = denied(await route(router, BUY))
    assert reason == ("risk: prop rule blackouts: CPI from 2026-12-04 07:25 to 07:40 "
                      "America/Chicago (now 07:30); no new entries in the window")
    assert outcome(await route(router, {"ticker": "CL1!", "action": "buy",
                                        "quantity": "1"}))[0][1] == "filled"  # not its root
    clock.advance(chicago(4, 13, 5) - clock.time())
    assert "FOMC" in denied(await route(router, BUY))
    assert outcome(await route(router, {"ticker": "CL1!", "action": "exit"}))[0][1] == "filled"
    news.write_text("[[blackout]]\nname = 3\n")  # the user's file breaks: fail closed
    clock.advance(chicago(4, 14) - clock.time())
    assert "blackout_file" in denied(await route(router, BUY))


def test_rules_are_validated_with_errors_naming_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        PropRules.model_validate({"daily_loss_limit": "-5"})
    assert caught.value.errors()[0]["loc"] == ("daily_loss_limit",)
    with pytest.raises(ValidationError, match="unknown time zone 'Central'"):
        PropRules.model_validate({"timezone": "Central"})
    with pytest.raises(ValidationError, match="end must be after start"):
        PropRules.model_validate({"blackouts": [{"start": "2026-12-04T08:00:00",
                                                 "end": "2026-12-04T07:00:00"}]})
    with pytest.raises(ValidationError) as extra:
        PropRules.model_validate({"daily_los_limit": 5})
    assert extra.value.errors()[0]["type"] == "extra_forbidden"


def test_trading_day_starts_at_the_session_open() -> None:
    rules = PropRules(flatten_at="15:10")  # type: ignore[arg-type]
    assert rules.trading_day(chicago(4, 16, 59)).isoformat() == "2026-12-04"
    assert rules.trading_day(chicago(4, 17, 0)).isoformat() == "2026-12-05"
    assert rules.after_flatten(chicago(4, 15, 10)) and rules.after_flatten(chicago(4, 16, 59))
    assert not rules.after_flatten(chicago(4, 17)) and not rules.after_flatten(chicago(4, 15, 9))
    # daylight saving: 15:10 Chicago is 21:10 UTC in December and 20:10 UTC in July
    july = datetime(2026, 7, 1, 20, 10, tzinfo=UTC).timestamp()
    assert rules.after_flatten(july)


async def test_router_startup_starts_the_flatten_watcher(tmp_path: Path) -> None:
    import asyncio

    from router_core import make_plugin_manager

    if not hasattr(make_plugin_manager([]).hook, "router_startup"):
        pytest.skip("this core has no router_startup hook: the flatten runs at the next alert")
    from router_propfirms.fake.projectx import FakePosition

    clock = FakeClock(chicago(4, 15, 20))
    fake = FakeProjectX(clock=clock)
    account = next(iter(fake.accounts.values()))
    account.positions[NQ] = FakePosition(2, Decimal(21000))  # left open while it was down
    router = await started_router(tmp_path, config('flatten_at = "15:10"'), clock=clock,
                                  transport=httpx.ASGITransport(app=fake))
    try:
        for _ in range(100):  # the watcher's first round runs as soon as the loop turns
            await asyncio.sleep(0)
            if account.positions[NQ].size == 0:
                break
        assert account.positions[NQ].size == 0
        assert "after the flatten time" in denied(await route(router, BUY))
    finally:
        await router.close()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    from router_propfirms.rules import Exposure, Figures, RulesLedger

    rules = PropRules(daily_loss_limit=Decimal(500), trailing_drawdown=Decimal(1000),
                      drawdown_mode="intraday")
    path = tmp_path / "propfirm-rules" / "eval.json"
    first = RulesLedger(rules, path)
    first.observe(Figures(Decimal(50000), None, {}), chicago(4, 9))
    first.observe(Figures(Decimal(51200), None, {}), chicago(4, 10))
    again = RulesLedger(rules, path)  # a restarted router reads what the first one saw
    assert (again.state.high_water, again.state.day_start_balance) == ("51200", "50000")
    entry = Exposure(NQ, "NQ", Decimal(0), Decimal(1))
    reason = again.check(entry, Figures(Decimal(49450), None, {}), chicago(4, 11))
    assert reason is not None and reason.startswith("prop rule daily_loss_limit: the account "
                                                    "is down 550.00 USD today")
