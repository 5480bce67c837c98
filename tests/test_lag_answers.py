"""``[server] max_lag_seconds`` is checked when the alert arrives: a late alert, or one that does
not say when it fired, is answered 422 with the reason and the fix (and journaled as a refused
delivery), never accepted with 200 and refused later. Alerts accepted before a restart are
checked again when they are finally executed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.cli import main
from router_core.errors import AlertError
from router_core.journal import AlertState, ClaimOutcome
from router_core.risk import check_lag, check_recovered_lag
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import FakeClock, SubmitSpy

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "lag-test-passphrase-0123456"
JSON = {"Content-Type": "application/json"}
CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1

[server]
max_lag_seconds = 60

[accounts.paper]
broker = "paper"
fill_price = 100
"""
NOW = 1_764_151_200.0  # 2025-11-26T10:00:00Z


def iso(seconds_ago: float, now: float = NOW) -> str:
    moment = datetime.fromtimestamp(now - seconds_ago, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def body(**fields: Any) -> bytes:
    alert = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
             "passphrase": PASSPHRASE, "id": "lag-1"}
    alert.update(fields)
    return json.dumps({k: v for k, v in alert.items() if v is not None}).encode()


def build(tmp_path: Path, clock: FakeClock, config: str = CONFIG) -> tuple[Router, SubmitSpy]:
    path = tmp_path / "router.toml"
    path.write_text(config)
    spy = SubmitSpy()
    plugins = make_plugin_manager(["paper"], extra=[("spy", spy)])
    return Router.from_config_file(path, plugins=plugins, clock=clock), spy


class Site:
    def __init__(self, router: Router, spy: SubmitSpy, clock: FakeClock,
                 client: httpx.AsyncClient) -> None:
        self.router, self.spy, self.clock, self.client = router, spy, clock, client

    async def settle(self) -> None:
        while self.router._tasks:
            await self.router._tasks.pop()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    clock = FakeClock(NOW)
    router, spy = build(tmp_path, clock)
    app = create_app(router, WebhookSettings(passphrase=SecretStr(PASSPHRASE)))
    transport = httpx.ASGITransport(app=app, client=("52.89.214.238", 40000))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://router"
    ) as client:
        yield Site(router, spy, clock, client)


# -- the webhook's answers --------------------------------------------------------------------


async def test_an_alert_without_timenow_is_answered_422_with_the_fix(site: Site) -> None:
    answer = await site.client.post("/webhook", content=body(), headers=JSON)
    assert answer.status_code == 422
    [error] = answer.json()
    assert error["field"] == "timenow"
    assert 'add "timenow": "{{timenow}}" to the alert message' in error["reason"]
    assert "TradingView fills it in" in error["reason"]
    assert "max_lag_seconds (60 s)" in error["reason"]
    assert site.router.journal.recent_alerts(10) == []  # nothing claimed
    await site.settle()
    assert site.spy.orders == []

    await site.router.journal.flush()
    [row] = site.router.journal.refused_deliveries()
    assert (row.status, row.peer) == (422, "52.89.214.238")
    assert row.reason.startswith("timenow: required while [server] max_lag_seconds")
    assert PASSPHRASE not in row.reason


async def test_a_late_alert_is_answered_422_saying_how_late_and_why(site: Site) -> None:
    answer = await site.client.post("/webhook", content=body(timenow=iso(95)), headers=JSON)
    assert answer.status_code == 422
    [error] = answer.json()
    assert error["field"] == "timenow"
    reason = error["reason"]
    assert "fired 95 s before it arrived" in reason
    assert f"timenow {iso(95)}" in reason
    assert "max_lag_seconds (60 s)" in reason
    assert "TradingView may queue alerts" in reason
    assert "nothing was placed" in reason
    assert site.router.journal.recent_alerts(10) == []
    await site.router.journal.flush()
    assert site.router.journal.refused_deliveries()[0].reason == f"timenow: {reason}"


async def test_an_old_bar_time_without_timenow_points_at_timenow(site: Site) -> None:
    answer = await site.client.post("/webhook", content=body(time=iso(4 * 3600)), headers=JSON)
    assert answer.status_code == 422
    [error] = answer.json()
    assert error["field"] == "time"
    assert "4.0 h old" in error["reason"]
    assert "when the bar opened" in error["reason"]
    assert 'add "timenow": "{{timenow}}"' in error["reason"]


async def test_a_timely_alert_is_accepted_and_executed(site: Site) -> None:
    answer = await site.client.post("/webhook?wait=true", content=body(timenow=iso(3)),
                                    headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "done"
    assert answer.json()["report"]["legs"][0]["status"] == "filled"
    await site.router.journal.flush()
    assert site.router.journal.refused_deliveries() == []


async def test_the_passphrase_is_checked_before_the_time(site: Site) -> None:
    answer = await site.client.post("/webhook", content=body(passphrase="wrong"), headers=JSON)
    assert answer.status_code == 401  # a stranger learns nothing about the lag limit


async def test_a_late_redelivery_of_an_accepted_alert_is_still_a_duplicate(site: Site) -> None:
    fired = iso(2)
    first = await site.client.post("/webhook?wait=true", content=body(timenow=fired),
                                   headers=JSON)
    assert first.status_code == 200
    site.clock.advance(120)  # the same body again, long after: nothing new, the first outcome
    again = await site.client.post("/webhook", content=body(timenow=fired), headers=JSON)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["alert_id"] == first.json()["alert_id"]
    assert again.json()["state"] == "done"
    await site.settle()
    assert len(site.spy.orders) == 1
    # a different alert as late as that is refused
    other = await site.client.post("/webhook", content=body(timenow=fired, id="lag-2"),
                                   headers=JSON)
    assert other.status_code == 422


# -- acceptance and execution in the router ---------------------------------------------------


async def test_an_alert_accepted_in_time_is_not_refused_for_lag_at_execution(tmp_path):
    clock = FakeClock(NOW)
    router, spy = build(tmp_path, clock)
    try:
        await router.start()
        acceptance = router.accept(body(timenow=iso(59)), None)
        assert acceptance.outcome is ClaimOutcome.NEW
        clock.advance(30)  # a slow start of the execution does not turn a 200 into a refusal
        report = await router.execute(acceptance.alert_id)
        assert report.refused is None
        assert [leg.result.status.value for leg in report.legs] == ["filled"]
        assert len(spy.orders) == 1
    finally:
        await router.close()


async def test_halt_is_still_checked_at_execution(tmp_path):
    clock = FakeClock(NOW)
    router, spy = build(tmp_path, clock)
    try:
        await router.start()
        acceptance = router.accept(body(timenow=iso(1)), None)
        router.halt("maintenance")
        report = await router.execute(acceptance.alert_id)
        assert report.refused is not None and "halted (maintenance)" in report.refused
        assert spy.orders == []
    finally:
        await router.close()


async def test_an_alert_recovered_after_a_restart_is_checked_again(tmp_path):
    clock = FakeClock(NOW)
    router, _ = build(tmp_path, clock)
    await router.start()
    stale = router.accept(body(timenow=iso(10), id="stale"), None).alert_id
    await router.close()  # stopped before executing it

    clock.advance(300)  # the router was down for five minutes
    router, spy = build(tmp_path, clock)
    try:
        assert await router.start() == []
        record = router.journal.get_alert(stale)
        assert record is not None and record.state is AlertState.REFUSED
        assert "not executed before the router stopped" in (record.reason or "")
        assert "5 min old" in (record.reason or "")
        assert f"timenow {iso(310, NOW + 300)}" in (record.reason or "")
        assert spy.orders == []
    finally:
        await router.close()


async def test_an_alert_that_had_begun_executing_resumes_whatever_its_age(tmp_path):
    clock = FakeClock(NOW)
    router, _ = build(tmp_path, clock)
    await router.start()
    alert_id = router.accept(body(timenow=iso(10)), None).alert_id
    # it had journaled a leg when the router stopped: the venue may have that order
    router.journal.record_intent(
        client_order_id="sent-before-the-stop", alert_id=alert_id, account="paper",
        broker="paper", symbol="BTCUSD", purpose="open", side="buy", quantity="1",
        notional=None, order={"ticker": "BTCUSD", "quantity": "1"})
    await router.close()

    clock.advance(300)
    router, _ = build(tmp_path, clock)
    try:
        await router.start()
        record = router.journal.get_alert(alert_id)
        assert record is not None and record.state is AlertState.DONE
        assert "not executed before the router stopped" not in (record.reason or "")
    finally:
        await router.close()


async def test_an_alert_recovered_in_time_executes(tmp_path):
    clock = FakeClock(NOW)
    router, _ = build(tmp_path, clock)
    await router.start()
    alert_id = router.accept(body(timenow=iso(5)), None).alert_id
    await router.close()

    clock.advance(20)
    router, spy = build(tmp_path, clock)
    try:
        await router.start()
        record = router.journal.get_alert(alert_id)
        assert record is not None and record.state is AlertState.DONE
        assert len(spy.orders) == 1
    finally:
        await router.close()


async def test_a_recovered_alert_without_timenow_counts_from_its_arrival(tmp_path):
    clock = FakeClock(NOW)
    no_lag = CONFIG.replace("max_lag_seconds = 60", "")
    router, _ = build(tmp_path, clock, no_lag)  # accepted while no limit was set
    await router.start()
    alert_id = router.accept(body(), None).alert_id
    await router.close()

    clock.advance(90)
    router, spy = build(tmp_path, clock)  # restarted with the limit
    try:
        await router.start()
        record = router.journal.get_alert(alert_id)
        assert record is not None and record.state is AlertState.REFUSED
        assert f"received {iso(0)}" in (record.reason or "")
        assert "90 s old" in (record.reason or "")
        assert spy.orders == []
    finally:
        await router.close()


def test_without_a_limit_nothing_is_checked():
    now = datetime.fromtimestamp(NOW, UTC)
    assert check_lag(None, None, now, None) is None
    assert check_lag(now - timedelta(days=3), None, now, None) is None
    assert check_recovered_lag(None, now - timedelta(days=3), now, None) is None


def test_the_limit_itself_is_in_time():
    now = datetime.fromtimestamp(NOW, UTC)
    assert check_lag(now - timedelta(seconds=60), None, now, 60) is None
    assert check_lag(None, now - timedelta(seconds=60), now, 60) is None
    assert check_lag(now - timedelta(seconds=61), None, now, 60) is not None
    # timenow wins over the bar time when both are there
    assert check_lag(now - timedelta(seconds=1), now - timedelta(hours=1), now, 60) is None


# -- alert-router send --------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, 'timenow: required while [server] max_lag_seconds (60 s) is set: add "timenow": '
         '"{{timenow}}" to the alert message'),
    ({"timenow": "late"}, "timenow: the alert fired"),
])
def test_send_prints_the_same_reason_and_exits_2(tmp_path, capsys, fields, expected):
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    if fields.get("timenow") == "late":
        fields = {"timenow": iso(600, time.time())}
    alert = tmp_path / "alert.json"
    alert.write_text(body(passphrase=None, **fields).decode())
    assert main(["send", "--config", str(config), str(alert)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err
    assert "Traceback" not in captured.err


def test_send_of_a_timely_alert_still_works(tmp_path, capsys):
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    alert = tmp_path / "alert.json"
    alert.write_text(body(passphrase=None, timenow=iso(1, time.time())).decode())
    assert main(["send", "--config", str(config), str(alert)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_accept_raises_an_alert_error_naming_the_field(tmp_path):
    router, _ = build(tmp_path, FakeClock(NOW))
    try:
        with pytest.raises(AlertError) as caught:
            router.accept(body(), None)
        assert caught.value.field == "timenow"
    finally:
        router.journal.close()


# -- the example configs ----------------------------------------------------------------------


def test_example_configs_enable_the_lag_check_only_with_a_hint_about_timenow():
    import tomllib

    for path in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        server = tomllib.loads(text).get("server", {})
        # A first user's alerts (README, docs) carry no timenow: the example must not refuse
        # every one of them.
        assert "max_lag_seconds" not in server, path.name
        for line in text.splitlines():
            if "max_lag_seconds" in line:
                assert line.lstrip().startswith("#"), (path.name, line)
        if "max_lag_seconds" in text:
            assert '"timenow": "{{timenow}}"' in text, path.name
