"""Both Kraken plugins over router_core.AiohttpTransport, against their fakes on real loopback
sockets: an order goes through, and a connection reset after the venue read the order is
AmbiguousOutcome (then found by its client order id), never "nothing was sent"."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from router_kraken_futures.broker import KrakenFuturesBroker
from router_kraken_futures.config import KrakenFuturesConfig
from router_kraken_futures.fake import FAKE_API_KEY as FUTURES_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as FUTURES_SECRET
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake_data import FAKE_API_SECRET as SPOT_SECRET
from router_kraken_spot.testing import make_broker, make_order

from router_core import (
    AiohttpTransport,
    AmbiguousOutcome,
    BrokerContext,
    NonceRegistry,
    Order,
    OrderStatus,
    RateLimiterRegistry,
    Side,
    shared_tls_context,
)
from router_core.normalize import normalize

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("error::ResourceWarning")]


@pytest.fixture
def serve_app() -> Iterator[Any]:
    """``serve_app(asgi_app) -> url``: the app on uvicorn in a thread, so the test can inspect
    the fake's state directly."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        # log_config=None and no log_level or access_log: uvicorn leaves this process's
        # loggers alone (its defaults stop uvicorn.access propagating; later tests need it)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=5)


class ResetAfterRequest:
    """A TCP proxy in front of a venue fake. Once ``arm(marker)`` is called, the next request
    whose first bytes contain ``marker`` is forwarded whole; when the venue's answer arrives
    (so the venue has acted on it), the client's connection is reset instead."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._marker: bytes | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.resets = 0
        self.url = ""

    def arm(self, marker: bytes) -> None:
        self._marker = marker

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._proxy, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        cut = False

        async def to_venue() -> None:
            nonlocal cut
            while data := await reader.read(65536):
                if self._marker is not None and self._marker in data:
                    self._marker, cut = None, True
                up_writer.write(data)
                await up_writer.drain()

        async def to_client() -> None:
            while data := await up_reader.read(65536):
                if cut:  # the venue answered the marked request: drop it and reset
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    self.resets += 1
                    return
                writer.write(data)
                await writer.drain()

        try:
            done, pending = await asyncio.wait(
                [asyncio.create_task(to_venue()), asyncio.create_task(to_client())],
                return_when=asyncio.FIRST_COMPLETED)
            for each in pending:
                each.cancel()
            await asyncio.gather(*done, *pending, return_exceptions=True)
        finally:
            up_writer.close()
            writer.close()


@pytest_asyncio.fixture
async def proxy_to(serve_app: Any) -> AsyncIterator[Any]:
    made: list[ResetAfterRequest] = []

    async def start(app: Any) -> ResetAfterRequest:
        proxy = ResetAfterRequest(serve_app(app))
        await proxy.start()
        made.append(proxy)
        return proxy

    yield start
    for proxy in made:
        await proxy.close()


def _context(tmp_path: Path, environ: dict[str, str]) -> BrokerContext:
    # no transport injected: the plugin builds its own, as in production
    return BrokerContext(account="a1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                         limiters=RateLimiterRegistry(), environ=environ)


def _uses_the_core_transport(http: Any) -> None:
    transport = http.transport
    assert isinstance(transport, AiohttpTransport)
    assert transport._ssl is shared_tls_context()


async def test_kraken_spot_order_and_reset_after_the_write(tmp_path: Path, proxy_to) -> None:
    fake = FakeKraken(rate_limits=False)
    proxy = await proxy_to(fake)
    context = _context(tmp_path, {"KRAKEN_API_KEY": SPOT_KEY, "KRAKEN_API_SECRET": SPOT_SECRET})
    broker = make_broker(context, base_url=proxy.url, timeout_seconds=5)
    try:
        _uses_the_core_transport(broker.client._http)
        await broker.start()
        btc = await broker.resolve(normalize("KRAKEN:XBTUSD"))
        placed = await broker.submit_order(make_order(btc))
        assert placed.status is OrderStatus.ACCEPTED and placed.venue_order_id in fake.orders

        proxy.arm(b"/0/private/AddOrder")
        lost = make_order(btc)
        with pytest.raises(AmbiguousOutcome):
            await broker.submit_order(lost)
        assert proxy.resets == 1
        found = await broker.find_order(lost.client_order_id, btc)
    finally:
        await broker.close()
    assert found is not None and found.venue_order_id in fake.orders
    assert fake.add_order_calls == 2 and len(fake.orders) == 2


async def test_kraken_futures_order_and_reset_after_the_write(tmp_path: Path, proxy_to) -> None:
    fake = FakeKrakenFutures()
    proxy = await proxy_to(fake)
    context = _context(tmp_path, {"KRAKEN_FUTURES_API_KEY": FUTURES_KEY,
                                  "KRAKEN_FUTURES_API_SECRET": FUTURES_SECRET})
    broker = KrakenFuturesBroker(KrakenFuturesConfig(base_url=proxy.url), context)

    def order(instrument: Any) -> Order:
        return Order(client_order_id=str(uuid.uuid4()), account="a1", instrument=instrument,
                     side=Side.BUY, quantity=Decimal("0.01"))

    try:
        await broker.start()
        _uses_the_core_transport(broker._http()._http)
        inst = await broker.resolve(normalize("XBTUSD.P"))
        assert (await broker.submit_order(order(inst))).status is OrderStatus.FILLED

        proxy.arm(b"/derivatives/api/v3/sendorder")
        lost = order(inst)
        with pytest.raises(AmbiguousOutcome):
            await broker.submit_order(lost)
        assert proxy.resets == 1
        found = await broker.find_order(lost.client_order_id, inst)
    finally:
        await broker.close()
    assert found is not None and found.status is OrderStatus.FILLED
    assert len(fake.sendorders) == 2 and len(fake.orders) == 2
