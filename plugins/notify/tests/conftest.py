"""A loopback receiver for apprise's ``json://`` notifier, and helpers to run a router with
the notify plugin on the paper venue.

apprise's ``json://HOST:PORT/PATH`` notifier POSTs ``{"version": "1.0", "title": ...,
"message": ..., "attachments": [], "type": "info|success|warning|failure"}`` with
``Content-Type: application/json`` (apprise/plugins/custom_json.py, ``NotifyJSON.send``); a
``user:password@`` in the URL becomes HTTP basic auth.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    """Records every POST. ``status`` is what it answers; with ``hang`` set it holds each
    request until ``release()``, like a notifier that stopped answering."""

    port: int = 0
    status: int = 200
    fail_first: int = 0  # answer 500 to this many requests first
    hang: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    waiting: int = 0  # requests being held now
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook", auth: str = "") -> str:
        return f"json://{auth + '@' if auth else ''}127.0.0.1:{self.port}{path}"

    def release(self) -> None:
        self._release.set()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self._lock:
            self.raw.append(body)
            self.paths.append(handler.path)
            self.headers.append(dict(handler.headers))
            fail = self.fail_first > 0
            if fail:
                self.fail_first -= 1
        if self.hang:
            with self._lock:
                self.waiting += 1
            self._release.wait(30)
            with self._lock:
                self.waiting -= 1
        status = 500 if fail else self.status
        if status < 300:
            with self._lock:
                self.received.append(json.loads(body))
        handler.send_response(status)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        """The messages, once ``count`` have arrived (a bound on waiting, not a speed test)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return list(self.received)

    async def wait_until_waiting(self, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while not self.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert self.waiting, "the notifier never reached the receiver"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
        thread.join(5)
