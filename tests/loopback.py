"""A raw HTTP/1.1 server on 127.0.0.1 for the transport tests (test_http_transport.py,
test_venue_http.py): it records every request exactly as it was read, and a test's handler
decides what goes back (an answer, half of one, a reset, nothing).

Loaded by path from conftest.py (the tests folder is not a package), which exposes the ``serve``
fixture; the test modules import the rest as ``alert_router_tests_loopback``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest_asyncio


@dataclass
class Seen:
    """One request as the server read it: the head (request line and headers) and the body."""

    head: bytes
    body: bytes

    @property
    def lines(self) -> list[bytes]:
        return self.head.split(b"\r\n")

    @property
    def request_line(self) -> bytes:
        return self.lines[0]

    def header(self, name: str) -> list[bytes]:
        wanted = name.lower().encode()
        return [line.split(b":", 1)[1].strip() for line in self.lines[1:]
                if line.split(b":", 1)[0].strip().lower() == wanted]

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Every header as (lower-case name, value), sorted."""
        pairs = [line.split(b":", 1) for line in self.lines[1:]]
        return sorted((name.strip().lower(), value.strip()) for name, value in pairs)


async def read_request(reader: asyncio.StreamReader) -> Seen | None:
    """One HTTP/1.1 request (Content-Length bodies only), or None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    seen = Seen(head[:-4], b"")
    length = seen.header("content-length")
    if length:
        seen.body = await reader.readexactly(int(length[0]))
    return seen


def answer(status: int = 200, body: bytes = b"{}", headers: tuple[str, ...] = ()) -> bytes:
    """An HTTP/1.1 answer with a Content-Length, as bytes to write."""
    lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


@dataclass
class Server:
    """One listening server: its handler runs once per connection."""

    handler: Handler
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read(self, reader: asyncio.StreamReader) -> Seen | None:
        """Read the next request on this connection and record it."""
        seen = await read_request(reader)
        if seen is not None:
            self.requests.append(seen)
        return seen

    def bodies(self, body: bytes) -> int:
        """How many requests carried ``body``: a re-sent order shows as 2."""
        return sum(1 for seen in self.requests if seen.body == body)


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """``await serve(handler, ssl_context=None)``: a started Server, stopped after the test."""
    servers: list[tuple[Server, asyncio.Server]] = []

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> Server:
        server = Server(handler)
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=ssl_context)
        servers.append((server, listener))
        port = listener.sockets[0].getsockname()[1]
        server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        return server

    yield start
    for server, listener in servers:
        listener.close()
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listener.wait_closed()
