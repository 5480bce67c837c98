"""The fake as a real loopback server (uvicorn), driven over TCP like the CLI and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from router_kraken_spot.fake_data import FAKE_API_KEY, FAKE_API_SECRET
from router_kraken_spot.testing import make_broker, make_order

from router_core import (
    AmbiguousOutcome,
    BrokerContext,
    NonceRegistry,
    OrderStatus,
    RateLimiterRegistry,
)
from router_core import normalize_ticker as normalize

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "router_kraken_spot.fake", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/0/public/Time", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the fake server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_order_over_real_http(server: str, tmp_path) -> None:
    context = BrokerContext(
        account="k1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
        limiters=RateLimiterRegistry(),
        environ={"KRAKEN_API_KEY": FAKE_API_KEY, "KRAKEN_API_SECRET": FAKE_API_SECRET},
    )
    broker = make_broker(context, base_url=server, timeout_seconds=5)
    await broker.start()
    btc = await broker.resolve(normalize("KRAKEN:XBTUSD"))
    placed = await broker.submit_order(make_order(btc))
    assert placed.status is OrderStatus.ACCEPTED and placed.venue_order_id

    async with httpx.AsyncClient(base_url=server) as control:
        await control.post("/_fake/drop_next", json={"method": "AddOrder", "mode": "http502"})
        dropped = make_order(btc)
        with pytest.raises(AmbiguousOutcome):
            await broker.submit_order(dropped)
        found = await broker.find_order(dropped.client_order_id, btc)
        state = (await control.get("/_fake/state")).json()
    await broker.close()
    assert found is not None and found.venue_order_id in state["orders"]
    assert state["add_order_calls"] == 2 and len(state["orders"]) == 2
    assert state["errors_sent"] == {}
