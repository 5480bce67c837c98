"""The plumbing the prop-firm fakes (ProjectX, Tradovate, TradeLocker) share: ASGI types, a
clock, one request in and one JSON answer out (Decimals as numbers, ``router_propfirms.wire``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ..wire import dumps

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Clock(Protocol):
    """What a fake reads the time from (a test passes its ``FakeClock``)."""

    def time(self) -> float: ...


class SystemClock:
    def time(self) -> float:
        return time.time()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    query: dict[str, str]
    body: bytes


async def read_request(scope: Scope, receive: Receive) -> Request:
    """The whole request of an ASGI ``http`` scope."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    query = dict(parse_qsl(scope.get("query_string", b"").decode()))
    return Request(scope["method"], scope["path"], headers, query, body)


async def send_json(send: Send, status: int, answer: Any) -> None:
    """One answer: ``answer`` as JSON (no body for ``None``)."""
    payload = b"" if answer is None else dumps(answer).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})
