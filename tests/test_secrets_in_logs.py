"""No secret reaches a log line, an error message, a repr or the journal (reliability.md, 23).

A full flow with DEBUG logging on the root logger (httpx and httpcore included): a bad config,
a bad alert, a filled order, a venue error, an ambiguous reply, then the webhook with a
passphrase, a route token, an HMAC signature and the admin token, right and wrong. Every
secret is a fresh random value, so finding one anywhere means it leaked.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FakeKraken

from router_core.cli.check_config import check
from router_core.errors import AlertError, ConfigError
from router_core.router import Router
from router_core.security import WebhookSettings, signature_header

PASSPHRASE = "pp-" + secrets.token_hex(12)
API_KEY = "ak-" + secrets.token_hex(16)
API_SECRET = base64.b64encode(secrets.token_bytes(64)).decode()
HMAC_SECRET = "hm-" + secrets.token_hex(16)
ROUTE_TOKEN = "rt-" + secrets.token_hex(16)
ADMIN_TOKEN = "ad-" + secrets.token_hex(16)
FUTURES_KEY = "fk-" + secrets.token_hex(16)
FUTURES_SECRET = base64.b64encode(secrets.token_bytes(64)).decode()
SECRETS = {"passphrase": PASSPHRASE, "api key": API_KEY, "api secret": API_SECRET,
           "hmac secret": HMAC_SECRET, "route token": ROUTE_TOKEN, "admin token": ADMIN_TOKEN,
           "futures key": FUTURES_KEY, "futures secret": FUTURES_SECRET}
ENV = {"T_PASSPHRASE": PASSPHRASE, "T_KRAKEN_KEY": API_KEY, "T_KRAKEN_SECRET": API_SECRET,
       "T_HMAC": HMAC_SECRET, "T_ROUTE": ROUTE_TOKEN, "T_ADMIN": ADMIN_TOKEN,
       "T_KF_KEY": FUTURES_KEY, "T_KF_SECRET": FUTURES_SECRET}
# Signing headers: their values must never be logged either.
SIGNING_HEADERS = ("api-key", "api-sign", "apikey", "authent", "nonce")

CONFIG = """
[router]
state_dir = "state"
reconcile_attempts = 2
reconcile_window_seconds = 0.2

[server]
passphrase_env = "T_PASSPHRASE"
hmac_secrets_env = ["T_HMAC"]
admin_token_env = "T_ADMIN"

[server.route_tokens_env]
main = "T_ROUTE"

[accounts.kr]
broker = "kraken-spot"
api_key_env = "T_KRAKEN_KEY"
api_secret_env = "T_KRAKEN_SECRET"
base_url = "http://127.0.0.1"

[accounts.kf]
broker = "kraken-futures"
api_key_env = "T_KF_KEY"
api_secret_env = "T_KF_SECRET"
base_url = "http://localhost"
"""


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the fake of its host (127.0.0.1: spot, localhost: futures) and
    keeps its headers, to look for them in the logs."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes
        self.headers: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(dict(request.headers))
        return await self.routes[request.url.host].handle_async_request(request)


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture()
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "router_core", "router_kraken_spot", "fastapi",
                 "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _alert(n: int, **fields: Any) -> bytes:
    body = {"ticker": "XBTUSD", "action": "buy", "quantity": "0.01",
            "accounts": ["kr"], "id": f"secrets-{n}", "passphrase": PASSPHRASE}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def _leaks(text: str, extra: dict[str, str]) -> list[str]:
    found = [name for name, value in {**SECRETS, **extra}.items() if value and value in text]
    return found


async def test_no_secret_in_logs_errors_reprs_or_journal(tmp_path: Path, env, debug_logs):
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    fake = FakeKraken(api_key=API_KEY, secret=API_SECRET)
    futures = FakeKrakenFutures(keys={FUTURES_KEY: FUTURES_SECRET})
    transport = RecordingTransport({"127.0.0.1": fake.transport(),
                                    "localhost": httpx.ASGITransport(app=futures)})
    texts: list[str] = []  # error messages and reprs the user could see

    # 1. a bad config: a secret pasted where a variable name belongs, and as a wrong value
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace('api_key_env = "T_KRAKEN_KEY"', f'api_key = "{API_KEY}"')
                   .replace('base_url = "http://127.0.0.1"', f'tier = "{API_SECRET}"'))
    with pytest.raises(ConfigError) as bad_config:
        Router.from_config_file(bad)
    texts.append(str(bad_config.value))
    texts.extend(str(finding) for finding in check(bad, ENV).findings)
    assert any("unknown key" in text for text in texts)

    # 2. the router: a bad alert, a fill, a venue refusal, an ambiguous reply
    router = Router.from_config_file(config, transport=transport)
    try:
        assert await router.start() == []
        with pytest.raises(AlertError) as bad_alert:
            router.accept(_alert(0, quantity="not-a-number"), "application/json")
        texts.append(str(bad_alert.value))

        filled = await router.execute(router.accept(_alert(1), "application/json").alert_id)
        assert [leg.result.status.value for leg in filled.legs] == ["filled"]

        fake.fail_next("AddOrder", "EOrder:Insufficient funds")
        refused = await router.execute(router.accept(_alert(2), "application/json").alert_id)
        assert [leg.result.status.value for leg in refused.legs] == ["rejected"]
        texts.append(json.dumps(refused.to_dict()))

        fake.drop_next("AddOrder", mode="http502", execute=True)
        ambiguous = await router.execute(router.accept(_alert(3), "application/json").alert_id)
        texts.append(json.dumps(ambiguous.to_dict()))
        assert fake.add_order_calls == 3  # never re-sent blindly

        placed = await router.execute(router.accept(
            _alert(11, ticker="XBTUSD.P", quantity="0.001", accounts=["kf"]),
            "application/json").alert_id)
        assert [leg.result.status.value for leg in placed.legs] in (["accepted"], ["filled"])
        futures.script("sendorder", status="insufficientAvailableFunds")
        refused = await router.execute(router.accept(
            _alert(12, ticker="XBTUSD.P", quantity="0.001", accounts=["kf"]),
            "application/json").alert_id)
        assert [leg.result.status.value for leg in refused.legs] == ["rejected"]
        texts.append(json.dumps(refused.to_dict()))
        assert len(futures.sendorders) == 2

        texts += [repr(router.config), str(router.config), repr(router.brokers["kr"]),
                  repr(router.brokers["kf"])]
        texts += [repr(account) for account in router.config.accounts.values()]
        settings = WebhookSettings.from_config(router.config.server)
        texts += [repr(settings), str(settings)]
    finally:
        await router.close()
    assert "**********" in repr(settings)

    # 3. the webhook: wrong and right passphrase, route token, signature, admin token
    router = Router.from_config_file(config, transport=transport)
    signatures: dict[str, str] = {}
    app = create_app_for(router)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="http://127.0.0.1",
    ) as client:
        json_type = {"content-type": "application/json"}
        wrong = await client.post("/webhook", content=_alert(4, passphrase="x" + PASSPHRASE),
                                  headers=json_type)
        assert wrong.status_code == 401
        missing_field = await client.post("/webhook", content=_alert(5, ticker=None),
                                          headers=json_type)
        assert missing_field.status_code == 422
        texts.append(missing_field.text)
        right = await client.post("/webhook?wait=true", content=_alert(6), headers=json_type)
        assert right.status_code == 200, right.text
        texts.append(right.text)
        routed = await client.post(f"/webhook/{ROUTE_TOKEN}?wait=true",
                                   content=_alert(7, passphrase=None), headers=json_type)
        assert routed.status_code == 200, routed.text
        assert (await client.post("/webhook/not-the-token", content=_alert(8),
                                  headers=json_type)).status_code == 401
        signed_body = _alert(9, passphrase=None)
        signatures["good signature"] = signature_header(HMAC_SECRET, signed_body)
        signed = await client.post(
            "/webhook?wait=true", content=signed_body,
            headers={**json_type, "X-Router-Signature": signatures["good signature"]})
        assert signed.status_code == 200, signed.text
        bad_body = _alert(10, passphrase=None)
        signatures["bad signature"] = signature_header("not-" + HMAC_SECRET, bad_body)
        assert (await client.post(
            "/webhook", content=bad_body,
            headers={**json_type, "X-Router-Signature": signatures["bad signature"]},
        )).status_code == 401
        listing = await client.get("/alerts",
                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert listing.status_code == 200
        texts.append(listing.text)
        denied = await client.get("/alerts", headers={"Authorization": "Bearer wrong"})
        assert denied.status_code in (401, 403)

    # The venue really was signed with these credentials...
    sent = {(name, value) for headers in transport.headers for name, value in headers.items()
            if name in SIGNING_HEADERS}
    assert {name for name, _ in sent} == set(SIGNING_HEADERS)
    assert {("api-key", API_KEY), ("apikey", FUTURES_KEY)} <= sent
    venue_headers = {f"{name} #{i}": value for i, (name, value) in enumerate(sorted(sent))}
    # ...and the flow really logged, at DEBUG, from the core, the adapter and httpx.
    loggers = {record.name.split(".")[0] for record in debug_logs.records}
    assert {"httpx", "router_core", "router_kraken_spot"} <= loggers, loggers
    assert any(record.levelno == logging.DEBUG for record in debug_logs.records)

    # The test's own client plays TradingView: httpx logs the URLs *it* posts to (a route
    # token among them). That is the sender's log, not the router's, so it is left out.
    records = [r for r in debug_logs.records if not _sender_side(r)]
    assert len(records) < len(debug_logs.records)
    log_text = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in records
    )
    extra = {**venue_headers, **signatures}
    assert _leaks(log_text, extra) == []
    for text in texts:
        assert _leaks(text, extra) == [], text
    for raw in (_alert(1), _alert(6)):
        assert raw.decode() not in log_text  # never a raw body

    journal_bytes = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("journal*"))
    assert journal_bytes
    assert _leaks(journal_bytes.decode("utf-8", "replace"), extra) == []


def _sender_side(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return record.name == "httpx" and any(
        f"{method} http://127.0.0.1/{path}" in message
        for method in ("POST", "GET") for path in ("webhook", "alerts"))


def create_app_for(router: Router):  # type: ignore[no-untyped-def]
    from router_core.server import create_app

    return create_app(router, purge_interval=3600)
