"""The dashboard without a browser: login, sessions, CSRF, the lock-out delay, escaping,
masking, per-account halts and profit and loss, through the ASGI app with a real Router,
a real journal and the paper venue (the browser tests are tests/test_dashboard_browser.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.cli import main
from router_core.config import DashboardConfig
from router_core.dashboard import DashboardSettings, auth, pnl
from router_core.dashboard.app import _event, _safe_next
from router_core.dashboard.feed import ChangeFeed
from router_core.dashboard.masking import MASK, mask, masked_config
from router_core.errors import ConfigError
from router_core.journal import AlertState
from router_core.journal_views import Fill
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import SubmitSpy

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "correct horse battery staple"
ADMIN = "admin-token-0123456789"
PASSWORD = "dashboard-password-0123"
XSS = "<script>alert('xss')</script>"

CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[dashboard]
password_env = "TEST_DASHBOARD_PASSWORD"
[accounts.paper]
broker = "paper"
fill_price = 100
[accounts.other]
broker = "paper"
fill_price = 100
"""


def build_router(tmp_path: Path, config: str = CONFIG) -> Router:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "router.toml"
    path.write_text(config)
    plugins = make_plugin_manager(["paper"], extra=[("spy", SubmitSpy())])
    return Router.from_config_file(path, plugins=plugins)


def webhook_settings(**overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {"passphrase": SecretStr(PASSPHRASE),
                              "admin_token": SecretStr(ADMIN)}
    values.update(overrides)
    return WebhookSettings(**values)


class Client:
    def __init__(self, router: Router, http: httpx.AsyncClient) -> None:
        self.router = router
        self.http = http

    async def login(self, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post("/ui/login", data={"password": password, "next": "/ui/"})

    async def csrf(self) -> str:
        page = await self.http.get("/ui/controls")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    async def send(self, **fields: Any) -> dict[str, Any]:
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
                "passphrase": PASSPHRASE, **fields}
        body = {key: value for key, value in body.items() if value is not None}
        answer = await self.http.post("/webhook?wait=true", content=json.dumps(body),
                                      headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.setenv("TEST_DASHBOARD_PASSWORD", PASSWORD)
    router = build_router(tmp_path)
    app = create_app(router, webhook_settings())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
            yield Client(router, http)


# -- on or off ----------------------------------------------------------------------------------


def _settings(tmp_path: Path, env: dict[str, str], config: str = CONFIG,
              **webhook: Any) -> DashboardSettings:
    router = build_router(tmp_path, config)
    try:
        return DashboardSettings.from_config(router.config, webhook_settings(**webhook),
                                             environ=env)
    finally:
        router.journal.close()


async def test_without_a_password_the_dashboard_is_off_and_says_how_to_enable_it(
    tmp_path: Path
) -> None:
    config = CONFIG.replace('password_env = "TEST_DASHBOARD_PASSWORD"', "")
    off = _settings(tmp_path, {}, config, admin_token=None)
    assert not off.enabled and off.off_reason and "password_env" in off.off_reason

    router = build_router(tmp_path / "b", config)
    app = create_app(router, webhook_settings(admin_token=None))
    async with app_client(app) as http:
        home = await http.get("/")
        assert home.status_code == 200 and "dashboard is off" in home.text
        assert "[dashboard] password_env" in home.text
        assert (await http.get("/ui/")).status_code == 404
        login = await http.post("/ui/login", data={"password": PASSPHRASE})
        assert login.status_code in (404, 405)


def test_the_admin_token_opens_it_when_no_password_is_configured(tmp_path: Path) -> None:
    config = CONFIG.replace('password_env = "TEST_DASHBOARD_PASSWORD"', "")
    on = _settings(tmp_path, {}, config)
    assert on.enabled and on.secret and on.secret.value.get_secret_value() == ADMIN


def test_a_password_equal_to_the_passphrase_or_too_short_keeps_it_off(tmp_path: Path) -> None:
    same = _settings(tmp_path, {"TEST_DASHBOARD_PASSWORD": PASSPHRASE})
    assert not same.enabled and "passphrase" in str(same.off_reason)
    assert PASSPHRASE not in str(same.off_reason)
    short = _settings(tmp_path / "b", {"TEST_DASHBOARD_PASSWORD": "short"})
    assert not short.enabled and "12 characters" in str(short.off_reason)


def test_a_password_variable_that_is_not_set_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, {})
    assert caught.value.key == "dashboard.password_env"
    assert "TEST_DASHBOARD_PASSWORD" in str(caught.value)


def test_dashboard_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        DashboardConfig.model_validate({"session_hours": 0})
    with pytest.raises(ValueError):
        DashboardConfig.model_validate({"password": "inline secrets are not keys"})


# -- login, sessions, lock-out --------------------------------------------------------------------


async def test_pages_need_a_login_and_the_cookie_is_strict(client: Client) -> None:
    for path in ("/ui/", "/ui/accounts", "/ui/pnl", "/ui/refused", "/ui/controls",
                 "/ui/config"):
        answer = await client.http.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
    assert (await client.http.get("/ui/events")).status_code == 401
    answer = await client.login()
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert PASSWORD not in answer.headers["set-cookie"]
    page = await client.http.get("/ui/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(tmp_path: Path,
                                                               monkeypatch: Any) -> None:
    from router_core.security import parse_networks

    monkeypatch.setenv("TEST_DASHBOARD_PASSWORD", PASSWORD)
    router = build_router(tmp_path)
    settings = webhook_settings(trusted_proxies=parse_networks(["127.0.0.1"], "x"))
    app = create_app(router, settings)
    async with app_client(app) as http:
        answer = await http.post("/ui/login", data={"password": PASSWORD},
                                 headers={"X-Forwarded-Proto": "https",
                                          "Origin": "https://router.example",
                                          "X-Forwarded-Host": "router.example"})
        assert "secure" in answer.headers["set-cookie"].lower()
        foreign = await http.post("/ui/login", data={"password": PASSWORD},
                                  headers={"Origin": "https://evil.test",
                                           "X-Forwarded-Host": "router.example"})
        assert foreign.status_code == 403


async def test_neither_the_passphrase_nor_a_wrong_password_opens_it(client: Client) -> None:
    for wrong in (PASSPHRASE, "wrong password", ""):
        answer = await client.login(wrong)
        assert answer.status_code == 401 and "Wrong password" in answer.text
        assert "set-cookie" not in answer.headers
    assert (await client.http.get("/ui/")).status_code == 303


async def test_repeated_failures_lock_the_address_out(client: Client) -> None:
    for _ in range(auth.FREE_FAILURES):
        assert (await client.login("wrong")).status_code == 401
    delayed = await client.login("wrong")
    assert delayed.status_code == 401 and "next try is possible in 2 s" in delayed.text
    locked = await client.login()  # the right password, not even checked while locked
    assert locked.status_code == 429 and "set-cookie" not in locked.headers


def test_the_lock_out_delay_grows_and_a_success_clears_it() -> None:
    now = [1000.0]
    throttle = auth.LoginThrottle(clock=lambda: now[0])
    delays = [throttle.failed("10.0.0.1") for _ in range(auth.FREE_FAILURES + 4)]
    assert delays[:auth.FREE_FAILURES] == [0.0] * auth.FREE_FAILURES
    assert delays[auth.FREE_FAILURES:] == [2.0, 4.0, 8.0, 16.0]
    assert throttle.wait_seconds("10.0.0.1") == 16.0
    assert throttle.wait_seconds("10.0.0.2") == 0.0  # per address
    now[0] += 16.0
    assert throttle.wait_seconds("10.0.0.1") == 0.0
    throttle.succeeded("10.0.0.1")
    assert throttle.failed("10.0.0.1") == 0.0


def test_sessions_expire_and_end() -> None:
    now = [0.0]
    sessions = auth.Sessions(60.0, clock=lambda: now[0])
    session = sessions.create()
    assert sessions.get(session.session_id) is session
    assert session.csrf_token != session.session_id
    now[0] = 61.0
    assert sessions.get(session.session_id) is None
    other = sessions.create()
    sessions.end(other.session_id)
    assert sessions.get(other.session_id) is None
    assert sessions.get(None) is None and sessions.get("made-up") is None


async def test_logout_ends_the_session(client: Client) -> None:
    await client.login()
    token = await client.csrf()
    answer = await client.http.post("/ui/logout", data={"csrf_token": token})
    assert answer.status_code == 303
    assert (await client.http.get("/ui/controls")).status_code == 303


def test_after_login_only_paths_of_this_dashboard_are_followed() -> None:
    assert _safe_next({"next": "/ui/pnl"}) == "/ui/pnl"
    for evil in ("https://evil.test/", "//evil.test/ui/", "/webhook", "/ui/\\evil", ""):
        assert _safe_next({"next": evil}) == "/ui/"


# -- CSRF ---------------------------------------------------------------------------------------


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(client: Client) -> None:
    await client.login()
    token = await client.csrf()
    for form, headers in (({}, {}), ({"csrf_token": "wrong"}, {}),
                          ({"csrf_token": token}, {"Origin": "http://evil.test"})):
        answer = await client.http.post("/ui/controls/halt", data={**form, "reason": "x"},
                                        headers=headers)
        assert answer.status_code == 403
    assert client.router.journal.get_flag("halt") is None  # nothing changed
    done = await client.http.post("/ui/controls/halt", data={"csrf_token": token,
                                                              "reason": "test"})
    assert done.status_code == 303
    assert client.router.journal.get_flag("halt").startswith("test, since ")
    by_header = await client.http.post("/ui/controls/resume", headers={"X-CSRF-Token": token})
    assert by_header.status_code == 303 and client.router.journal.get_flag("halt") is None


async def test_a_post_without_a_session_is_refused(client: Client) -> None:
    answer = await client.http.post("/ui/controls/halt", data={"csrf_token": "x"})
    assert answer.status_code == 401
    assert client.router.journal.get_flag("halt") is None


# -- escaping and masking -------------------------------------------------------------------------


async def test_a_script_in_an_alert_is_escaped_everywhere(client: Client) -> None:
    sent = await client.send(id="xss", strategy=XSS, extras={"comment": XSS})
    refused = await client.http.post("/webhook", content=json.dumps(
        {"ticker": "BTCUSD", "action": "buy", "passphrase": PASSPHRASE, XSS: 1}))
    assert refused.status_code == 422
    await client.login()
    for path in (f"/ui/alerts/{sent['alert_id']}", "/ui/refused", "/ui/pnl", "/ui/"):
        page = await client.http.get(path)
        assert page.status_code == 200
        assert XSS not in page.text and "<script>alert" not in page.text
    detail = await client.http.get(f"/ui/alerts/{sent['alert_id']}")
    assert "&lt;script&gt;alert(" in detail.text
    assert PASSPHRASE not in detail.text


async def test_the_config_page_masks_every_secret(client: Client) -> None:
    await client.login()
    page = await client.http.get("/ui/config")
    assert page.status_code == 200
    for secret in (PASSPHRASE, ADMIN, PASSWORD):
        assert secret not in page.text
    assert "TEST_DASHBOARD_PASSWORD" in page.text  # a variable's name is not a secret


def test_mask_hides_secret_values_and_keeps_variable_names() -> None:
    data = {"api_secret": "s3cr3t", "api_key_env": "KRAKEN_KEY", "token": "t",
            "nested": {"password": "p", "url": "https://venue.test"},
            "secret_str": SecretStr("hidden"), "note": "loaded-secret-value",
            "hmac_secrets_env": ["A", "B"], "count": 3, "flag": True}
    masked = mask(data, {"loaded-secret-value"})
    assert masked["api_secret"] == MASK and masked["token"] == MASK
    assert masked["nested"] == {"password": MASK, "url": "https://venue.test"}
    assert masked["secret_str"] == MASK and masked["note"] == MASK
    assert masked["api_key_env"] == "KRAKEN_KEY" and masked["hmac_secrets_env"] == ["A", "B"]
    assert masked["count"] == "3" and masked["flag"] is True


def test_masked_config_covers_every_section(tmp_path: Path) -> None:
    router = build_router(tmp_path)
    try:
        view = masked_config(router.config, [PASSPHRASE])
    finally:
        router.journal.close()
    assert {"router", "server", "dashboard", "defaults", "accounts"} <= set(view)
    assert view["dashboard"]["password_env"] == "TEST_DASHBOARD_PASSWORD"
    assert set(view["accounts"]) == {"paper", "other"}


# -- pages and controls ---------------------------------------------------------------------------


async def test_the_alert_list_filters_by_account_symbol_and_outcome(client: Client) -> None:
    await client.send(id="a1", accounts=["paper"])
    await client.send(id="a2", ticker="ETHUSD", accounts=["other"])
    client.router.halt("test")
    await client.send(id="a3", ticker="SOLUSD", accounts=["paper"])
    client.router.resume()
    await client.login()

    async def tickers(query: str) -> set[str]:
        page = await client.http.get("/ui/?" + query)
        rows = re.findall(r"<tr data-alert-id=.*?</tr>", page.text, re.S)
        return {t for row in rows for t in ("BTCUSD", "ETHUSD", "SOLUSD") if t in row}

    assert await tickers("") == {"BTCUSD", "ETHUSD", "SOLUSD"}
    assert await tickers("account=other") == {"ETHUSD"}
    assert await tickers("symbol=eth") == {"ETHUSD"}
    assert await tickers("outcome=refused") == {"SOLUSD"}
    assert await tickers("outcome=ok") == {"BTCUSD", "ETHUSD"}


async def test_per_account_halt_denies_that_account_only(client: Client) -> None:
    client.router.halt("maintenance", account="paper")
    report = (await client.send(id="both", accounts=["paper", "other"]))["report"]
    by_account = {leg["account"]: leg for leg in report["legs"]}
    assert by_account["paper"]["status"] == "denied"
    assert "account paper is halted (maintenance)" in by_account["paper"]["reason"]
    assert "resume --account paper" in by_account["paper"]["reason"]
    assert by_account["other"]["status"] == "filled"
    alone = (await client.send(id="alone", accounts=["paper"]))["report"]
    assert "account paper is halted (maintenance)" in alone["refused"]
    cancel = (await client.send(id="cancel", action="cancel", accounts=["paper"],
                                 quantity=None, price=None))["report"]
    assert cancel["refused"] is None  # cancels pass, as under the global halt
    client.router.resume(account="paper")
    assert (await client.send(id="after", accounts=["paper"]))["report"]["ok"] is True


async def test_admin_halt_takes_an_account(client: Client) -> None:
    bearer = {"Authorization": f"Bearer {ADMIN}"}
    unknown = await client.http.post("/admin/halt", headers=bearer,
                                     content=json.dumps({"account": "nope"}))
    assert unknown.status_code == 422
    halted = await client.http.post("/admin/halt", headers=bearer,
                                    content=json.dumps({"account": "other", "reason": "r"}))
    assert halted.json() == {"halted": True, "reason": "r", "account": "other"}
    assert client.router.journal.get_flag("halt:account:other") == "r"
    assert client.router.journal.get_flag("halt") is None
    resumed = await client.http.post("/admin/resume", headers=bearer,
                                     content=json.dumps({"account": "other"}))
    assert resumed.status_code == 200
    assert client.router.journal.get_flag("halt:account:other") is None


async def test_controls_halt_and_resume_one_account(client: Client) -> None:
    await client.login()
    token = await client.csrf()
    await client.http.post("/ui/controls/halt", data={"csrf_token": token, "account": "other"})
    assert client.router.journal.get_flag("halt:account:other") is not None
    page = await client.http.get("/ui/controls")
    assert "Account other is halted" in page.text
    unknown = await client.http.post("/ui/controls/halt",
                                     data={"csrf_token": token, "account": "nope"})
    assert unknown.headers["location"] == "/ui/controls"
    assert "No such account." in (await client.http.get("/ui/controls")).text
    assert "No such account." not in (await client.http.get("/ui/controls")).text  # once
    crafted = await client.http.get("/ui/controls?notice=Send+your+keys+to+evil.test")
    assert "evil.test" not in crafted.text  # a link cannot put words on the page
    await client.http.post("/ui/controls/resume", data={"csrf_token": token, "account": "other"})
    assert client.router.journal.get_flag("halt:account:other") is None


async def test_cancel_without_resting_orders_says_so(client: Client) -> None:
    await client.login()
    token = await client.csrf()
    answer = await client.http.post("/ui/controls/cancel",
                                    data={"csrf_token": token, "account": "paper"})
    assert answer.status_code == 303
    assert "paper has no resting order" in (await client.http.get("/ui/controls")).text


async def test_cancel_sends_one_journaled_cancel_alert_per_symbol(client: Client) -> None:
    journal = client.router.journal
    sent = await client.send(id="resting-parent", accounts=["paper"])
    for symbol, ticker in (("BTCUSD", "BTCUSD"), ("ETHUSD", "ETHUSD")):
        journal.record_intent(client_order_id=f"resting-{symbol}", alert_id=sent["alert_id"],
                              account="paper", broker="paper", symbol=symbol, purpose="open",
                              side="buy", quantity="1", notional=None,
                              order={"ticker": ticker})
        journal.record_outcome(f"resting-{symbol}", {"status": "accepted"})
    await client.login()
    token = await client.csrf()
    assert "Cancel them" in (await client.http.get("/ui/controls")).text
    answer = await client.http.post("/ui/controls/cancel",
                                    data={"csrf_token": token, "account": "paper"})
    assert answer.status_code == 303
    notice = (await client.http.get("/ui/controls")).text
    assert "Cancel sent for paper: BTCUSD:" in notice and "ETHUSD:" in notice
    cancels = [r for r in journal.recent_alerts(20) if r.source == "dashboard"]
    assert sorted((r.alert["ticker"], r.alert["action"], tuple(
        t["account"] if isinstance(t, dict) else t for t in r.alert["accounts"]))
        for r in cancels) == [("BTCUSD", "cancel", ("paper",)), ("ETHUSD", "cancel", ("paper",))]
    assert all(r.state.value in ("done", "refused") for r in cancels)


async def test_accounts_and_pnl_pages_show_venue_and_fills(client: Client) -> None:
    await client.send(id="b1", accounts=["paper"], quantity="2", price="100")
    await client.send(id="s1", accounts=["paper"], action="sell", quantity="1", price="100")
    await client.login()
    accounts = await client.http.get("/ui/accounts")
    assert accounts.status_code == 200 and "id=\"account-paper\"" in accounts.text
    assert "Balance:" in accounts.text
    page = await client.http.get("/ui/pnl")
    assert page.status_code == 200 and "average cost method" in page.text
    assert "<polyline" in page.text


def test_halt_and_resume_take_an_account_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from router_core.cli.journal import open_journal

    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    assert main(["halt", "--config", str(config), "--account", "paper",
                 "--reason", "rollover"]) == 0
    assert "trading on account paper halted: rollover" in capsys.readouterr().out
    journal = open_journal(str(config), create=True)
    try:
        assert journal.get_flag("halt:account:paper").startswith("rollover, since ")
        assert journal.get_flag("halt") is None
    finally:
        journal.close()
    assert main(["resume", "--config", str(config), "--account", "paper"]) == 0
    assert "trading on account paper resumed" in capsys.readouterr().out
    assert main(["halt", "--config", str(config), "--account", "papr"]) == 2
    assert "no account named 'papr' (configured: paper, other)" in capsys.readouterr().err


async def test_the_dashboard_adds_no_middleware_to_the_webhook_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_DASHBOARD_PASSWORD", PASSWORD)
    off_config = CONFIG.replace('password_env = "TEST_DASHBOARD_PASSWORD"', "enabled = false")
    routers = [build_router(tmp_path / "on"), build_router(tmp_path / "off", off_config)]
    try:
        on, off = (create_app(router, webhook_settings()) for router in routers)
        assert [m.cls for m in on.user_middleware] == [m.cls for m in off.user_middleware]
        assert any(getattr(r, "path", "") == "/ui/static" for r in on.routes)
        assert not any(getattr(r, "path", "") == "/ui/static" for r in off.routes)
    finally:
        for router in routers:
            router.journal.close()


async def test_an_old_report_with_missing_fields_still_renders(client: Client) -> None:
    journal = client.router.journal
    journal.claim(alert_id="old", delivery_key="d-old", intent_key="i-old", fingerprint="f",
                  alert={"ticker": "BTCUSD"}, peer=None, source="webhook")
    journal.set_state("old", AlertState.DONE, report={"legs": [{"status": "filled"}]})
    await client.login()
    for path in ("/ui/", "/ui/alerts/old", "/ui/refused"):
        assert (await client.http.get(path)).status_code == 200


# -- journal views, on both backends -------------------------------------------------------------


def test_journal_views_read_either_backend(journal_location: Any) -> None:
    from router_core import journal_views
    from router_core.journal import Journal

    journal = Journal(journal_location)
    try:
        for number, (action, price) in enumerate((("buy", "100"), ("sell", "130"))):
            alert_id = f"alert-{number}"
            journal.claim(alert_id=alert_id, delivery_key=f"d{number}", intent_key=f"i{number}",
                          fingerprint="f", alert={"ticker": "BTCUSD", "action": action,
                                                  "strategy": "trend"},
                          peer="127.0.0.1", source="webhook:trend", routing=None)
            cid = f"cid-{number}"
            journal.record_intent(client_order_id=cid, alert_id=alert_id, account="paper",
                                  broker="paper", symbol="BTCUSD", purpose="open", side=action,
                                  quantity="2", notional=None, order={"ticker": "BTCUSD"})
            journal.record_outcome(cid, {"status": "filled", "filled_quantity": "2",
                                         "average_price": price, "fee": "0.5"})
            journal.set_state(alert_id, AlertState.DONE, report={"ok": True, "legs": [
                {"account": "paper", "leg": "open", "status": "filled"}]})
        journal.record_intent(client_order_id="resting", alert_id="alert-0", account="paper",
                              broker="paper", symbol="BTCUSD", purpose="open", side="buy",
                              quantity="1", notional=None, order={"ticker": "BTCUSD"},)
        journal.record_outcome("resting", {"status": "accepted"})
        journal.record_refused(status=401, reason="wrong passphrase", peer="10.0.0.9")
        journal.set_flag("halt:account:paper", "maintenance")
        before = journal_views.change_marker(journal)

        rows = journal_views.alerts(journal, account="paper", symbol="btc", outcome="ok")
        assert [row.alert_id for row in rows] == ["alert-1", "alert-0"]
        assert rows[0].ticker == "BTCUSD" and rows[0].latency_ms is not None
        assert journal_views.alert(journal, "alert-0").source == "webhook:trend"
        assert [leg.client_order_id for leg in journal_views.legs_of(journal, "alert-0")] == [
            "cid-0", "resting"]
        assert [leg.client_order_id for leg in journal_views.resting_legs(journal, "paper")] == [
            "resting"]
        assert journal_views.traded_tickers(journal, "paper") == {"BTCUSD": "BTCUSD"}
        scan = journal_views.fills(journal)
        assert [(f.side, f.price, f.fee, f.strategy) for f in scan.fills] == [
            ("buy", Decimal("100"), Decimal("0.5"), "trend"),
            ("sell", Decimal("130"), Decimal("0.5"), "trend")]
        assert pnl.compute(scan.fills).realised == Decimal("59")  # 2 x 30, less two fees
        assert journal_views.halted_accounts(journal) == {"paper": "maintenance"}
        assert journal_views.failed_legs(journal) == []
        assert journal_views.refused_alerts(journal) == []
        journal.set_flag("halt", "all")
        assert journal_views.change_marker(journal) != before
    finally:
        journal.close()


# -- profit and loss, events ----------------------------------------------------------------------


def _fill(side: str, quantity: str, price: str, fee: str | None = None,
          strategy: str = "s") -> Fill:
    return Fill(time.time(), "acct", "BTCUSD", side, Decimal(quantity), Decimal(price),
                None if fee is None else Decimal(fee), strategy)


def test_average_cost_realises_against_the_average_and_flips_at_the_fill_price() -> None:
    result = pnl.compute([
        _fill("buy", "1", "100"), _fill("buy", "1", "200"),  # 2 at an average of 150
        _fill("sell", "1", "180", fee="1"),  # realises 30, less a fee of 1
        _fill("sell", "2", "100", strategy="t"),  # closes 1 (-50), opens a short of 1 at 100
        _fill("buy", "1", "90", strategy="t"),  # covers the short: +10
    ])
    book = result.books[("acct", "BTCUSD")]
    assert book.quantity == 0 and book.average_cost == 0
    assert book.realised == Decimal("-11") and book.fees == Decimal("1")
    assert result.by_strategy == {("acct", "BTCUSD", "s"): Decimal("29"),
                                  ("acct", "BTCUSD", "t"): Decimal("-40")}
    assert [value for _, value in result.curve] == [0, 0, 29, -21, -11]


def test_unrealised_needs_a_price() -> None:
    result = pnl.compute([_fill("buy", "2", "100")])
    book = result.books[("acct", "BTCUSD")]
    assert book.unrealised(None) is None
    assert book.unrealised(Decimal("110")) == Decimal("20")
    assert pnl.unrealised_total([book], {("acct", "BTCUSD"): Decimal("90")}) == Decimal("-20")


def test_the_chart_spans_its_box() -> None:
    points, zero = pnl.chart_points([(1.0, Decimal("5")), (2.0, Decimal("-5"))], 100, 50)
    assert points == "0,25.0 50.0,4.0 100.0,46.0" and zero == 25.0
    assert pnl.chart_points([]) == ("", None)


def test_an_event_puts_every_line_on_its_own_data_line() -> None:
    assert _event("alerts", "<tr>\n<td>x</td>\n</tr>") == (
        "event: alerts\ndata: <tr>\ndata: <td>x</td>\ndata: </tr>\n\n")
    assert _event("banner", "") == "event: banner\ndata: \n\n"


async def test_the_feed_wakes_on_a_change_and_ends_on_close() -> None:
    marker = [0]
    feed = ChangeFeed(lambda: marker[0], interval=0.01)
    seen = 0

    async def follow() -> None:
        nonlocal seen
        async for _ in feed.changes():
            seen += 1
            if seen == 1:
                marker[0] = 1

    task = asyncio.create_task(follow())
    while seen < 2:
        await asyncio.sleep(0.01)
    feed.close()
    await asyncio.wait_for(task, 5)
    assert feed.closed


# -- helpers ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def app_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app with its lifespan running."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
            yield http


# -- start-up cost ------------------------------------------------------------------------------

_LAZY_PROBE = """
import asyncio, json, sys
from pathlib import Path
import httpx
from pydantic import SecretStr
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app

directory = Path(sys.argv[1])
(directory / "router.toml").write_text(sys.argv[2])
router = Router.from_config_file(directory / "router.toml")
app = create_app(router, WebhookSettings(passphrase=SecretStr(sys.argv[3])))
seen = {"built": [name in sys.modules for name in ("jinja2", "router_core.cluster.node")]}

async def open_page() -> int:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
        return (await http.get("/ui/login")).status_code

seen["status"] = asyncio.run(open_page())
seen["after"] = "jinja2" in sys.modules
router.journal.close()
print(json.dumps(seen))
"""


def test_a_server_imports_the_templates_and_the_cluster_only_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve's memory (bench/, issue 17): jinja2 waits for the first page, the cluster's
    instance machinery for a config that runs several instances."""
    import subprocess
    import sys

    monkeypatch.setenv("TEST_DASHBOARD_PASSWORD", PASSWORD)
    result = subprocess.run([sys.executable, "-c", _LAZY_PROBE, str(tmp_path), CONFIG,
                             PASSPHRASE], capture_output=True, text=True, timeout=120,
                            check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"built": [False, False], "status": 200, "after": True}
