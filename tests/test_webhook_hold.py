"""An answered alert's execution waits while other deliveries are being taken in (a burst's
acks first), never longer than ``HOLD_SECONDS``; and uvicorn's access line is written after
the answer, on the loop's next turn."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.requests import Request

from router_core import webhook as webhook_module
from router_core.security import AccessLogFilter, WebhookSettings
from router_core.webhook import Webhook


class _Journal:
    def record_refused(self, **fields: Any) -> None:
        self.refused = fields


class _Router:
    """What ``Webhook`` needs of the router on these paths: spawn, and a journal for refusals."""

    def __init__(self) -> None:
        self.spawned: list[str] = []
        self.journal = _Journal()

    def spawn(self, alert_id: str) -> None:
        self.spawned.append(alert_id)


def _webhook(router: _Router) -> Webhook:
    settings = WebhookSettings(passphrase=SecretStr("p"), max_body_bytes=10)
    return Webhook(router, settings, is_ready=lambda: True,  # type: ignore[arg-type]
                   admin_allowed=lambda request: False)


async def test_an_alert_executes_at_once_when_no_other_delivery_is_in() -> None:
    router = _Router()
    _webhook(router).execute_soon("a1")
    assert router.spawned == ["a1"]


async def test_executions_wait_for_the_delivery_in_progress_then_start_in_order() -> None:
    router = _Router()
    webhook = _webhook(router)
    body_arrives = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await body_arrives.wait()
        return {"type": "http.request", "body": b"x" * 64, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/webhook", "query_string": b"",
             "headers": [(b"content-type", b"application/json")], "client": ("10.0.0.1", 1)}
    delivery = asyncio.create_task(webhook(Request(scope, receive), None, False))
    await asyncio.sleep(0)  # the delivery is in, reading its body
    webhook.execute_soon("a1")
    webhook.execute_soon("a2")
    await asyncio.sleep(0.01)
    assert router.spawned == []

    body_arrives.set()
    response = await delivery
    assert response.status_code == 413  # answered: the held executions may start
    await asyncio.sleep(0)
    assert router.spawned == ["a1", "a2"]


async def test_a_delivery_waiting_for_its_execution_holds_no_other() -> None:
    router = _Router()
    webhook = _webhook(router)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # this ?wait=true delivery stays in the handler
        return {}

    scope = {"type": "http", "method": "POST", "path": "/webhook", "query_string": b"wait=true",
             "headers": [(b"content-type", b"application/json")], "client": ("10.0.0.1", 1)}
    delivery = asyncio.create_task(webhook(Request(scope, receive), None, True))
    await asyncio.sleep(0)
    webhook.execute_soon("a1")
    assert router.spawned == ["a1"]
    delivery.cancel()


async def test_a_held_execution_waits_no_longer_than_the_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_module, "HOLD_SECONDS", 0.01)
    router = _Router()
    webhook = _webhook(router)
    webhook.taking = 1  # a delivery that never finishes
    webhook.execute_soon("a1")
    await asyncio.sleep(0.05)
    assert router.spawned == ["a1"]


async def test_the_access_line_is_written_on_the_next_turn_of_the_loop(
        caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    access.addFilter(access_filter := AccessLogFilter())
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            access.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "POST", "/webhook/t0k?x=1",
                        "1.1", 200)
            assert not caplog.records  # not before the answer's bytes
            await asyncio.sleep(0)
            assert [r.getMessage() for r in caplog.records] == [
                '1.2.3.4:5 - "POST /webhook/[redacted] HTTP/1.1" 200']
    finally:
        access.removeFilter(access_filter)
