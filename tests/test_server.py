"""The webhook through its ASGI app: every status code, dedup, concurrency, admin, health.

Real Router, real journal (SQLite under tmp_path), real paper venue; a spy plugin counts what
reaches ``router_submit_order`` so "places nothing" is a count, not a belief.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.errors import ConfigError
from router_core.router import Router
from router_core.security import WebhookSettings, parse_allowlist, signature_header
from router_core.server import create_app
from router_core.testing import FakeClock, SubmitSpy

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "correct horse battery staple"
ADMIN = "admin-token-0123456789"
ROUTE = "route-token-abcdefghijklmnop"
HMAC_OLD = "hmac-secret-old-0001"
HMAC_NEW = "hmac-secret-new-0002"

CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def alert(**fields: Any) -> dict[str, Any]:
    body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
            "passphrase": PASSPHRASE, "id": "alert-1"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def raw(**fields: Any) -> bytes:
    return json.dumps(alert(**fields)).encode()


class Harness:
    def __init__(self, router: Router, spy: SubmitSpy, client: httpx.AsyncClient,
                 make_client: Callable[..., httpx.AsyncClient]) -> None:
        self.router = router
        self.spy = spy
        self.client = client
        self.make_client = make_client

    async def settle(self) -> None:
        """Wait for every background execution."""
        while self.router._tasks:
            await asyncio.gather(*list(self.router._tasks), return_exceptions=True)

    def journal_count(self) -> int:
        return len(self.router.journal.recent_alerts(1000))


def build_router(tmp_path: Path, config: str = CONFIG,
                 clock: Any = None) -> tuple[Router, SubmitSpy]:
    path = tmp_path / "router.toml"
    path.write_text(config)
    spy = SubmitSpy()
    plugins = make_plugin_manager(["paper"], extra=[("spy", spy)])
    return Router.from_config_file(path, plugins=plugins, clock=clock), spy


def default_settings(**overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "passphrase": SecretStr(PASSPHRASE),
        "admin_token": SecretStr(ADMIN),
        "route_tokens": {"momentum": SecretStr(ROUTE)},
        "hmac_secrets": (SecretStr(HMAC_OLD), SecretStr(HMAC_NEW)),
    }
    values.update(overrides)
    return WebhookSettings(**values)


@pytest.fixture
def settings() -> WebhookSettings:
    return default_settings()


@pytest.fixture
async def harness(tmp_path: Path, settings: WebhookSettings) -> AsyncIterator[Harness]:
    router, spy = build_router(tmp_path, clock=FakeClock(time.time()))
    app = create_app(router, settings)

    def make_client(peer: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://router")

    async with app.router.lifespan_context(app):
        async with make_client() as client:
            yield Harness(router, spy, client, make_client)


JSON = {"Content-Type": "application/json"}


# -- 200 ----------------------------------------------------------------------------------------


async def test_new_alert_is_accepted_then_executed_once(harness: Harness) -> None:
    response = await harness.client.post("/webhook", content=raw(), headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted" and body["alert_id"]
    await harness.settle()
    assert len(harness.spy.orders) == 1
    detail = await harness.client.get(f"/alerts/{body['alert_id']}",
                                      headers={"Authorization": f"Bearer {ADMIN}"})
    assert detail.status_code == 200
    assert detail.json()["state"] == "done"
    assert detail.json()["report"]["legs"][0]["status"] == "filled"
    assert "passphrase" not in detail.text and PASSPHRASE not in detail.text


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain; charset=utf-8", "application/json; charset=UTF-8", None,
])
async def test_text_plain_json_and_missing_content_type_all_work(
    harness: Harness, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    request = harness.client.build_request("POST", "/webhook?wait=true", content=raw(),
                                           headers=headers)
    assert content_type is not None or "content-type" not in request.headers
    response = await harness.client.send(request)
    assert response.status_code == 200, response.text
    assert response.json()["report"]["legs"][0]["status"] == "filled"


async def test_wait_returns_the_execution_report(harness: Harness) -> None:
    response = await harness.client.post("/webhook?wait=true", content=raw(), headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "done"
    assert body["report"]["ok"] is True
    assert len(harness.spy.orders) == 1


# -- dedup and conflicts --------------------------------------------------------------------------


async def test_four_deliveries_five_seconds_apart_place_one_order(tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    router, spy = build_router(tmp_path, clock=clock)
    app = create_app(router, default_settings())
    body = raw(id=None, time="2026-11-26T10:00:00Z", strategy="s1", timenow="2026-11-26T10:00:03Z")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://router"
    ) as client:
        answers = []
        for _ in range(4):  # TradingView: one delivery and up to three resends 5 s apart
            answers.append(await client.post("/webhook", content=body, headers=JSON))
            clock.advance(5)
            await asyncio.sleep(0.05)
        while router._tasks:
            await asyncio.gather(*list(router._tasks))
        assert [a.status_code for a in answers] == [200, 200, 200, 200]
        first = answers[0].json()["alert_id"]
        assert answers[0].json()["status"] == "accepted"
        for later in answers[1:]:
            assert later.json()["alert_id"] == first
            assert later.json()["status"] == "duplicate"
        assert answers[-1].json()["state"] == "done"
        assert answers[-1].json()["report"]["legs"][0]["status"] == "filled"
        assert len(spy.orders) == 1
        assert len(router.journal.recent_alerts(10)) == 1


async def test_same_intent_with_a_different_timenow_is_a_duplicate(harness: Harness) -> None:
    base = {"id": None, "time": "2026-11-26T10:00:00Z", "strategy": "s1"}
    first = await harness.client.post(
        "/webhook", content=raw(**base, timenow="2026-11-26T10:00:01Z"), headers=JSON)
    again = await harness.client.post(
        "/webhook", content=raw(**base, timenow="2026-11-26T10:00:07Z"), headers=JSON)
    await harness.settle()
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["alert_id"] == first.json()["alert_id"]
    assert len(harness.spy.orders) == 1


async def test_twenty_concurrent_deliveries_place_one_order(harness: Harness) -> None:
    body = raw(id="burst-1")
    answers = await asyncio.gather(*(
        harness.client.post("/webhook", content=body, headers=JSON) for _ in range(20)
    ))
    await harness.settle()
    assert all(a.status_code == 200 for a in answers)
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses.count("accepted") == 1 and statuses.count("duplicate") == 19
    assert len({a.json()["alert_id"] for a in answers}) == 1
    assert len(harness.spy.orders) == 1
    assert harness.journal_count() == 1


async def test_same_id_with_a_different_body_is_409_and_places_nothing(harness: Harness) -> None:
    first = await harness.client.post("/webhook?wait=true", content=raw(id="x-1"), headers=JSON)
    assert first.status_code == 200
    conflict = await harness.client.post("/webhook", content=raw(id="x-1", quantity="2"),
                                         headers=JSON)
    await harness.settle()
    assert conflict.status_code == 409
    assert conflict.json()["alert_id"] == first.json()["alert_id"]
    assert len(harness.spy.orders) == 1
    assert harness.journal_count() == 1


# -- 401 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("passphrase", ["wrong", "", None, PASSPHRASE + "x"])
async def test_wrong_or_missing_passphrase_is_401_and_journals_nothing(
    harness: Harness, passphrase: str | None
) -> None:
    response = await harness.client.post("/webhook", content=raw(passphrase=passphrase),
                                         headers=JSON)
    await harness.settle()
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert harness.journal_count() == 0
    assert harness.spy.orders == []


async def test_passphrase_is_compared_in_constant_time(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import router_core.security as security

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    response = await harness.client.post("/webhook", content=raw(passphrase="nope"), headers=JSON)
    assert response.status_code == 401
    assert (b"nope", PASSPHRASE.encode()) in calls


async def test_route_token_authenticates_without_a_passphrase(harness: Harness) -> None:
    response = await harness.client.post(f"/webhook/{ROUTE}?wait=true",
                                         content=raw(passphrase=None), headers=JSON)
    assert response.status_code == 200, response.text
    record = harness.router.journal.get_alert(response.json()["alert_id"])
    assert record is not None and record.source == "webhook:momentum"


async def test_wrong_route_token_is_401_before_the_body_is_read(harness: Harness) -> None:
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for chunk in (raw()[:10], raw()[10:]):
            consumed += 1
            yield chunk

    response = await harness.client.post("/webhook/not-the-token", content=body(), headers=JSON)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert consumed == 0
    assert harness.journal_count() == 0


async def test_a_valid_route_token_does_not_excuse_a_wrong_passphrase(harness: Harness) -> None:
    response = await harness.client.post(f"/webhook/{ROUTE}", content=raw(passphrase="bad"),
                                         headers=JSON)
    assert response.status_code == 401
    assert harness.journal_count() == 0


# -- HMAC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [HMAC_OLD, HMAC_NEW])
async def test_hmac_signature_from_either_rotation_secret_is_accepted(
    harness: Harness, secret: str
) -> None:
    body = raw(passphrase=None, id=f"signed-{secret}")
    headers = {**JSON, "X-Router-Signature": signature_header(secret, body)}
    response = await harness.client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("header", [
    "t={now},v1=" + "0" * 64,  # wrong signature
    "t={now},v2={sig}",  # unknown scheme
    "v1={sig}",  # no timestamp
    "garbage",
])
async def test_bad_hmac_signature_is_401(harness: Harness, header: str) -> None:
    body = raw(passphrase=None)
    now = int(time.time())
    value = header.format(now=now, sig=signature_header(HMAC_NEW, body, now).split("v1=")[1])
    response = await harness.client.post("/webhook", content=body,
                                         headers={**JSON, "X-Router-Signature": value})
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert harness.journal_count() == 0


async def test_hmac_signature_over_another_body_is_401(harness: Harness) -> None:
    signed = raw(passphrase=None, quantity="1")
    sent = raw(passphrase=None, quantity="9")
    headers = {**JSON, "X-Router-Signature": signature_header(HMAC_NEW, signed)}
    response = await harness.client.post("/webhook", content=sent, headers=headers)
    assert response.status_code == 401


async def test_stale_hmac_timestamp_is_401(harness: Harness) -> None:
    body = raw(passphrase=None)
    stale = int(time.time()) - 301
    headers = {**JSON, "X-Router-Signature": signature_header(HMAC_NEW, body, stale)}
    response = await harness.client.post("/webhook", content=body, headers=headers)
    assert response.status_code == 401
    assert harness.journal_count() == 0


async def test_replayed_hmac_signature_is_401(harness: Harness) -> None:
    body = raw(passphrase=None, id="replayed")
    headers = {**JSON, "X-Router-Signature": signature_header(HMAC_NEW, body)}
    first = await harness.client.post("/webhook", content=body, headers=headers)
    replay = await harness.client.post("/webhook", content=body, headers=headers)
    await harness.settle()
    assert first.status_code == 200
    assert replay.status_code == 401
    assert len(harness.spy.orders) == 1


# -- 403 ------------------------------------------------------------------------------------------


@pytest.fixture
def allowlisted(tmp_path: Path) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        router, spy = build_router(tmp_path)
        settings = default_settings(allowlist=parse_allowlist("tradingview"), **overrides)
        return create_app(router, settings), router, spy
    return make


async def _post_from(app: Any, peer: str, headers: dict[str, str] | None = None,
                     body: bytes | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        return await client.post("/webhook?wait=true", content=body or raw(),
                                 headers={**JSON, **(headers or {})})


async def test_allowlist_refuses_other_addresses_with_403(allowlisted: Any) -> None:
    app, router, spy = allowlisted()
    async with app.router.lifespan_context(app):
        refused = await _post_from(app, "203.0.113.9")
        allowed = await _post_from(app, "52.89.214.238")
        assert refused.status_code == 403
        assert allowed.status_code == 200, allowed.text
        assert len(router.journal.recent_alerts(10)) == 1
    assert len(spy.orders) == 1


async def test_allowlist_403_comes_before_the_body_is_read(allowlisted: Any) -> None:
    app, _router, _spy = allowlisted()
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        consumed += 1
        yield raw()

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            response = await client.post("/webhook", content=body(), headers=JSON)
    assert response.status_code == 403
    assert consumed == 0


async def test_allowlist_answers_before_the_query_string_is_judged(allowlisted: Any) -> None:
    app, _router, _spy = allowlisted()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            response = await client.post("/webhook?wait=maybe&wait=[]", content=raw(),
                                         headers=JSON)
    assert response.status_code == 403


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_403(allowlisted: Any) -> None:
    app, router, _spy = allowlisted()
    async with app.router.lifespan_context(app):
        response = await _post_from(app, "203.0.113.9",
                                    {"X-Forwarded-For": "52.89.214.238"})
        assert response.status_code == 403
        assert router.journal.recent_alerts(10) == []


async def test_forwarded_for_from_a_trusted_proxy_is_honoured(allowlisted: Any) -> None:
    from router_core.security import parse_networks

    app, _router, _spy = allowlisted(trusted_proxies=parse_networks(["10.0.0.0/8"], "t"))
    async with app.router.lifespan_context(app):
        good = await _post_from(app, "10.0.0.2", {"X-Forwarded-For": "52.89.214.238"})
        # The left-most entry is the sender's own claim; the proxy appended the real peer.
        spoofed = await _post_from(app, "10.0.0.2",
                                   {"X-Forwarded-For": "52.89.214.238, 203.0.113.9"},
                                   body=raw(id="alert-2"))
    assert good.status_code == 200, good.text
    assert spoofed.status_code == 403


# -- 405, 413, 415, 422 ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(harness: Harness, method: str) -> None:
    response = await harness.client.request(method, "/webhook")
    assert response.status_code == 405
    assert harness.journal_count() == 0


async def test_declared_oversize_body_is_413_without_reading_it(tmp_path: Path) -> None:
    router, _spy = build_router(tmp_path)
    app = create_app(router, default_settings(max_body_bytes=1024))
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(64):
            consumed += 1
            yield b"x" * 1024

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            declared = await client.post("/webhook", content=body(),
                                         headers={**JSON, "Content-Length": str(64 * 1024)})
            assert declared.status_code == 413
            assert consumed == 0
            streamed = await client.post("/webhook", content=body(), headers=JSON)
            assert streamed.status_code == 413
            # chunked, no Content-Length: stopped once past the limit, not at the end
            assert consumed <= 3
        assert router.journal.recent_alerts(10) == []


async def test_body_at_the_limit_is_read(tmp_path: Path) -> None:
    router, _spy = build_router(tmp_path)
    body = raw()
    app = create_app(router, default_settings(max_body_bytes=len(body)))
    async with app.router.lifespan_context(app):
        assert (await _post_from(app, "127.0.0.1", body=body)).status_code == 200


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "image/png",
    "application/xml",
])
async def test_unsupported_content_type_is_415(harness: Harness, content_type: str) -> None:
    response = await harness.client.post("/webhook", content=raw(),
                                         headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert harness.journal_count() == 0


async def test_invalid_alert_is_422_with_field_errors(harness: Harness) -> None:
    response = await harness.client.post(
        "/webhook", content=raw(quantity="-1", action="jump"), headers=JSON)
    assert response.status_code == 422
    errors = response.json()
    assert isinstance(errors, list) and errors
    assert all(set(e) == {"field", "reason"} for e in errors)
    fields = {e["field"] for e in errors}
    assert "action" in fields or "quantity" in fields
    assert PASSPHRASE not in response.text
    assert harness.journal_count() == 0


async def test_422_never_echoes_the_passphrase_or_the_body(harness: Harness) -> None:
    body = b'{"ticker": "BTCUSD", "passphrase": "' + PASSPHRASE.encode() + b'", "action": '
    response = await harness.client.post("/webhook", content=body, headers=JSON)
    assert response.status_code == 422
    assert PASSPHRASE not in response.text
    assert "BTCUSD" not in response.text


# -- 503 only when nothing was journaled ----------------------------------------------------------


async def test_journal_failure_is_503_and_nothing_is_placed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(harness.router.journal, "claim_async", broken)
    response = await harness.client.post("/webhook", content=raw(), headers=JSON)
    await harness.settle()
    assert response.status_code == 503
    assert harness.spy.orders == []
    assert "journal write failed" in caplog.text
    assert PASSPHRASE not in caplog.text
    monkeypatch.undo()
    assert harness.journal_count() == 0


async def test_a_failing_execution_after_the_claim_is_still_2xx(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(alert_id: str) -> Any:
        raise RuntimeError("venue exploded")

    monkeypatch.setattr(harness.router, "execute", explode)
    response = await harness.client.post("/webhook?wait=true", content=raw(), headers=JSON)
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert harness.journal_count() == 1


# -- observing and operating ----------------------------------------------------------------------


async def test_healthz_reports_without_secrets(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["journal_writable"] is True
    assert body["accounts"] == {"paper": "started"}
    assert body["halted"] is False
    for secret in (PASSPHRASE, ADMIN, ROUTE, HMAC_OLD, HMAC_NEW):
        assert secret not in response.text


async def test_alerts_need_the_admin_token_when_one_is_configured(harness: Harness) -> None:
    await harness.client.post("/webhook?wait=true", content=raw(), headers=JSON)
    remote = harness.make_client("203.0.113.7")
    async with remote:
        assert (await remote.get("/alerts")).status_code == 401
        listed = await remote.get("/alerts", headers={"Authorization": f"Bearer {ADMIN}"})
    assert listed.status_code == 200
    assert [a["state"] for a in listed.json()] == ["done"]
    missing = await harness.client.get("/alerts/nope", headers={"Authorization": f"Bearer {ADMIN}"})
    assert missing.status_code == 404


async def test_admin_halt_and_resume(harness: Harness) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (await harness.client.post("/admin/halt")).status_code == 401
    assert (await harness.client.post("/admin/halt",
                                      headers={"Authorization": "Bearer nope"})).status_code == 401
    halted = await harness.client.post("/admin/halt", json={"reason": "maintenance"}, headers=auth)
    assert halted.status_code == 200 and halted.json() == {"halted": True, "reason": "maintenance"}
    assert (await harness.client.get("/healthz")).json()["halted"] is True

    refused = await harness.client.post("/webhook?wait=true", content=raw(id="while-halted"),
                                        headers=JSON)
    assert refused.status_code == 200
    assert "halted" in refused.json()["report"]["refused"]
    assert harness.spy.orders == []

    resumed = await harness.client.post("/admin/resume", headers=auth)
    assert resumed.json() == {"halted": False}
    placed = await harness.client.post("/webhook?wait=true", content=raw(id="after-resume"),
                                       headers=JSON)
    assert placed.json()["report"]["ok"] is True
    assert len(harness.spy.orders) == 1


async def test_admin_endpoints_are_closed_without_a_configured_token(tmp_path: Path) -> None:
    router, _spy = build_router(tmp_path)
    app = create_app(router, default_settings(admin_token=None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            assert (await client.post("/admin/halt",
                                      headers={"Authorization": "Bearer "})).status_code == 401
            # without an admin token the journal is readable from loopback only
            assert (await client.get("/alerts")).status_code == 200
        transport = httpx.ASGITransport(app=app, client=("203.0.113.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            assert (await client.get("/alerts")).status_code == 401


# -- start-up ------------------------------------------------------------------------------------


def fake_kraken_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    monkeypatch.setenv("KRAKEN_API_KEY", "test-key")
    monkeypatch.setenv("KRAKEN_API_SECRET", base64.b64encode(b"k" * 64).decode())


LIVE_CONFIG = """
[router]
state_dir = "state"
[accounts.paper]
broker = "paper"
[accounts.kraken]
broker = "kraken-spot"
"""


def test_live_account_without_a_passphrase_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("router_kraken_spot")
    fake_kraken_keys(monkeypatch)
    path = tmp_path / "router.toml"
    path.write_text(LIVE_CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper", "kraken-spot"]))
    with pytest.raises(ConfigError) as info:
        create_app(router, WebhookSettings())
    assert "kraken" in str(info.value) and "passphrase_env" in str(info.value)
    router.journal.close()


def test_validate_only_account_still_needs_a_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # validate = true places nothing but runs on live keys: the broker does not declare it
    # simulated, so it is guarded like any live account
    pytest.importorskip("router_kraken_spot")
    fake_kraken_keys(monkeypatch)
    path = tmp_path / "router.toml"
    path.write_text(LIVE_CONFIG + "validate = true\n")
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper", "kraken-spot"]))
    with pytest.raises(ConfigError, match="kraken"):
        create_app(router, WebhookSettings())
    router.journal.close()


def test_demo_account_may_run_without_a_passphrase(tmp_path: Path) -> None:
    pytest.importorskip("router_kraken_futures")
    path = tmp_path / "router.toml"
    path.write_text('[router]\nstate_dir = "state"\n[accounts.paper]\nbroker = "paper"\n'
                    '[accounts.demo]\nbroker = "kraken-futures"\nenvironment = "demo"\n')
    router = Router.from_config_file(path,
                                     plugins=make_plugin_manager(["paper", "kraken-futures"]))
    create_app(router, WebhookSettings())
    router.journal.close()


async def test_recovery_runs_before_the_first_alert(tmp_path: Path) -> None:
    """An alert answered 2xx but never executed (crash) is executed at start-up."""
    router, spy = build_router(tmp_path)
    acceptance = router.accept(raw(id="left-over"), "application/json")
    router.journal.close()
    router, spy = build_router(tmp_path)
    app = create_app(router, default_settings())
    async with app.router.lifespan_context(app):
        record = router.journal.get_alert(acceptance.alert_id)
        assert record is not None and record.state.value == "done"
        assert len(spy.orders) == 1


async def test_retention_purges_old_finished_alerts_at_start(tmp_path: Path) -> None:
    clock = FakeClock(time.time() - 10 * 86400)
    router, _spy = build_router(tmp_path, clock=clock)
    old = router.accept(raw(id="old"), "application/json")
    await router.execute(old.alert_id)
    router.journal.close()
    router, _spy = build_router(tmp_path)
    app = create_app(router, default_settings(retention_seconds=7 * 86400))
    async with app.router.lifespan_context(app):
        assert router.journal.get_alert(old.alert_id) is None


async def test_refusals_leave_no_secret_signature_or_body_in_the_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    marker = "body-marker-7f3a"
    bodies = [
        (raw(passphrase="wrong-guess-123", strategy=marker), {}),  # 401
        (raw(quantity="-1", strategy=marker), {}),  # 422, with the right passphrase inside
        (b'{"ticker": "' + marker.encode() + b'", "passphrase": "' + PASSPHRASE.encode(), {}),
    ]
    signed = raw(passphrase=None, strategy=marker)
    bad_signature = signature_header(HMAC_NEW, signed + b" ")
    bodies.append((signed, {"X-Router-Signature": bad_signature}))
    for body, extra in bodies:
        response = await harness.client.post("/webhook", content=body, headers={**JSON, **extra})
        assert response.status_code in (401, 422)
    await harness.client.post(f"/webhook/{ROUTE}x", content=raw(), headers=JSON)
    # the server's own records (this test's httpx client logs its URLs, route token included)
    server_log = "\n".join(r.getMessage() for r in caplog.records
                           if r.name.startswith(("router_core", "uvicorn")))
    assert "refused" in server_log
    for secret in (PASSPHRASE, "wrong-guess-123", marker, bad_signature.split("v1=")[1], ROUTE):
        assert secret not in server_log


async def test_healthz_is_503_when_an_account_did_not_start(tmp_path: Path) -> None:
    router, _spy = build_router(tmp_path)

    async def refuse() -> None:
        raise RuntimeError("venue down")

    router.brokers["paper"].start = refuse  # type: ignore[method-assign]
    app = create_app(router, default_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            health = await client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert health.json()["accounts"] == {"paper": "not started"}


async def test_retention_purge_repeats_while_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router, _spy = build_router(tmp_path)
    calls: list[float] = []
    monkeypatch.setattr(router.journal, "purge", lambda seconds: calls.append(seconds) or 0)
    app = create_app(router, default_settings(retention_seconds=86400.0), purge_interval=0.01)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.1)
    assert len(calls) >= 3
    assert set(calls) == {86400.0}


# -- dry run ------------------------------------------------------------------------------------


async def test_a_dry_run_needs_the_admin_token_and_sends_nothing(harness: Harness) -> None:
    refused = await harness.client.post("/webhook?dry_run=true", content=raw(), headers=JSON)
    assert refused.status_code == 401
    auth = {**JSON, "Authorization": f"Bearer {ADMIN}"}
    await harness.client.post("/webhook?wait=true", content=raw(), headers=JSON)  # long 1
    before = (len(harness.spy.orders), harness.journal_count())
    answer = await harness.client.post(
        "/webhook?dry_run=true",
        content=raw(action="sell", quantity="3", sentiment="short", id="alert-2"),
        headers=auth,
    )
    assert answer.status_code == 200
    plan = answer.json()["plans"][0]
    assert plan["position_before"] == "1" and plan["target"] == "-3"
    assert [(leg["leg"], leg["side"], leg["quantity"]) for leg in plan["legs"]] == [
        ("close", "sell", "1"), ("open", "sell", "3")]
    assert plan["legs"][1]["after_fill_of_previous"] is True
    assert (len(harness.spy.orders), harness.journal_count()) == before  # nothing sent, kept


async def test_a_dry_run_of_a_bad_alert_names_the_field(harness: Harness) -> None:
    auth = {**JSON, "Authorization": f"Bearer {ADMIN}"}
    answer = await harness.client.post("/webhook?dry_run=true", content=raw(quantity="lots"),
                                       headers=auth)
    assert answer.status_code == 422
    assert answer.json()[0]["field"] == "quantity"
    assert harness.journal_count() == 0


# -- readiness and reload -----------------------------------------------------------------------


async def test_readyz_reports_each_accounts_keys(harness: Harness) -> None:
    for _ in range(100):
        answer = await harness.client.get("/readyz")
        if answer.json()["ready"]:
            break
        await asyncio.sleep(0.01)
    assert answer.status_code == 200
    body = answer.json()
    assert body["accounts"]["paper"]["state"] == "ok"
    assert body["accounts"]["paper"]["broker"] == "paper"
    assert PASSPHRASE not in answer.text and ADMIN not in answer.text


async def test_admin_reload_applies_a_good_config_and_refuses_a_bad_one(
    harness: Harness, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (await harness.client.post("/admin/reload")).status_code == 401
    path = harness.router.config.path
    assert path is not None
    path.write_text(CONFIG + "[accounts.paper.risk]\nmax_order_notional = 50\n")
    applied = await harness.client.post("/admin/reload", headers=auth)
    assert applied.status_code == 200 and applied.json()["accounts_changed"] == ["paper"]
    answer = await harness.client.post("/webhook?wait=true", content=raw(), headers=JSON)
    assert answer.json()["report"]["ok"] is False  # 1 at 100 is beyond the new limit
    path.write_text(CONFIG + "[accounts.paper.risk]\nmax_order_notional = -1\n")
    refused = await harness.client.post("/admin/reload", headers=auth)
    assert refused.status_code == 422
    assert "max_order_notional" in refused.json()["message"]
    assert harness.router.config.accounts["paper"].risk.max_order_notional == 50
