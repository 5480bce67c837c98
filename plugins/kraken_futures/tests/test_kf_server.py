"""The fake as a real server on 127.0.0.1: the plugin over TCP, lost answers, nonce order."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from router_kraken_futures.broker import KrakenFuturesBroker
from router_kraken_futures.config import KrakenFuturesConfig
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures

from router_core import (
    AmbiguousOutcome,
    BrokerContext,
    NonceRegistry,
    Order,
    OrderStatus,
    RateLimiterRegistry,
    Side,
)
from router_core import normalize_ticker as normalize

pytestmark = pytest.mark.slow
ENV = {"KRAKEN_FUTURES_API_KEY": FAKE_API_KEY, "KRAKEN_FUTURES_API_SECRET": FAKE_API_SECRET}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/derivatives/api/v3/instruments", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the fake server did not come up")


@pytest.fixture
def served() -> Iterator[tuple[FakeKrakenFutures, int]]:
    """The fake on a uvicorn server in a thread, so the test can script and inspect it."""
    fake = FakeKrakenFutures()
    port = _free_port()
    # log_config=None and no log_level: leave the process's loggers alone (test_serve reads them)
    server = uvicorn.Server(uvicorn.Config(fake, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_for(port)
    yield fake, port
    server.should_exit = True
    thread.join(timeout=5)


def _broker(tmp_path: Path, port: int, **config: Any) -> KrakenFuturesBroker:
    context = BrokerContext(account="f1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                            limiters=RateLimiterRegistry(), environ=dict(ENV))
    return KrakenFuturesBroker(
        KrakenFuturesConfig(base_url=f"http://127.0.0.1:{port}", **config), context
    )


def _order(instrument: Any, quantity: str, side: Side = Side.BUY) -> Order:
    return Order(client_order_id=str(uuid.uuid4()), account="f1", instrument=instrument,
                 side=side, quantity=Decimal(quantity))


async def test_concurrent_orders_over_tcp_leave_in_nonce_order(
    served: tuple[FakeKrakenFutures, int], tmp_path: Path
) -> None:
    fake, port = served
    broker = _broker(tmp_path, port)
    await broker.start()
    try:
        inst = await broker.resolve(normalize("XBTUSD.P"))
        results = await asyncio.gather(
            *(broker.submit_order(_order(inst, "0.0001")) for _ in range(40))
        )
    finally:
        await broker.close()
    assert fake.nonce_errors == 0
    assert all(r.status is OrderStatus.FILLED for r in results)
    assert len(fake.orders) == 40


async def test_read_timeout_after_execution_over_tcp(
    served: tuple[FakeKrakenFutures, int], tmp_path: Path
) -> None:
    fake, port = served
    broker = _broker(tmp_path, port, timeout_seconds=0.5)
    await broker.start()
    try:
        inst = await broker.resolve(normalize("XBTUSD.P"))
        order = _order(inst, "0.01")
        fake.script("sendorder", drop=True)
        with pytest.raises(AmbiguousOutcome):
            await broker.submit_order(order)
        found = await broker.find_order(order.client_order_id, inst)
    finally:
        await broker.close()
    assert found is not None and found.status is OrderStatus.FILLED
    assert len(fake.orders) == 1


async def test_python_m_fake_serves_the_api(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "router_kraken_futures.fake", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(_wait_for, port)
        broker = _broker(tmp_path, port)
        await broker.start()
        try:
            inst = await broker.resolve(normalize("BTCUSD.PM"))
            result = await broker.submit_order(_order(inst, "0.002", Side.SELL))
            position = await broker.position(inst)
        finally:
            await broker.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert result.status is OrderStatus.FILLED
    assert position.quantity == Decimal("-0.002")


async def test_python_m_fake_can_play_the_retired_demo(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "router_kraken_futures.fake", "--port", str(port),
         "--mode", "redirect"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(_wait_for, port)
        broker = _broker(tmp_path, port)
        from router_core import ConfigError

        with pytest.raises(ConfigError, match="redirect"):
            await broker.start()
        await broker.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
