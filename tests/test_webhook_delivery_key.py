"""The webhook hands the router the body's sha256 it computed (the delivery key), and reads a
body that comes in one ASGI message as it came: the journal's delivery key is still the
sha256 of the raw body, and a resent body still finds the first claim."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request

from router_core import make_plugin_manager
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import FakeClock
from router_core.webhook import read_body, request_headers

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "correct horse battery staple"
CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[accounts.paper]
broker = "paper"
fill_price = 100
"""


async def test_the_journaled_delivery_key_is_the_sha256_of_the_body(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]),
                                     clock=FakeClock(time.time()))
    app = create_app(router, WebhookSettings(passphrase=SecretStr(PASSPHRASE)))
    body = json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                       "passphrase": PASSPHRASE}).encode()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        first = await client.post("/webhook", content=body,
                                  headers={"Content-Type": "application/json"})
        again = await client.post("/webhook", content=body,
                                  headers={"Content-Type": "application/json"})
        assert first.status_code == again.status_code == 200
        assert first.json()["status"] == "accepted"
        assert again.json()["status"] == "duplicate"
        assert again.json()["alert_id"] == first.json()["alert_id"]
        assert router.journal.path is not None
        with sqlite3.connect(router.journal.path) as db:
            (key,) = db.execute("SELECT delivery_key FROM alerts WHERE alert_id = ?",
                                (first.json()["alert_id"],)).fetchone()
        assert key == hashlib.sha256(body).hexdigest()


def _request(messages: list[dict[str, Any]]) -> Request:
    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/webhook", "query_string": b"",
             "headers": []}
    return Request(scope, receive)


async def test_a_body_in_one_message_is_read_whole_up_to_the_limit() -> None:
    request = _request([{"type": "http.request", "body": b"abcdef"}])  # no more_body: the last
    assert await read_body(request, request_headers(request), 6) == b"abcdef"
    request = _request([{"type": "http.request", "body": b"abcdefg", "more_body": False}])
    assert await read_body(request, request_headers(request), 6) is None
    request = _request([{"type": "http.request", "more_body": False}])  # no body at all
    assert await read_body(request, request_headers(request), 6) == b""
