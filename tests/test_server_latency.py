"""Webhook acknowledgement latency under a burst (printed, never asserted: machines differ).

Run with ``-s`` to see the figures. Every request of the burst is timed from the moment the
whole burst is fired, which is how a sender that fires them together experiences it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

CONFIG = """
[router]
state_dir = "state"
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@pytest.mark.slow
@pytest.mark.parametrize("burst", [20, 100])
async def test_ack_latency_under_a_burst(tmp_path: Path, burst: int) -> None:
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    app = create_app(router, WebhookSettings(passphrase=SecretStr("p")))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            async def deliver(i: int, fired: float) -> float:
                body = json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "0.01",
                                   "id": f"burst-{i}", "passphrase": "p"})
                answer = await client.post("/webhook", content=body,
                                           headers={"Content-Type": "application/json"})
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "accepted"
                return time.perf_counter() - fired

            fired = time.perf_counter()
            latencies = sorted(await asyncio.gather(*(deliver(i, fired) for i in range(burst))))
    # leaving the lifespan waited for every execution
    assert len(router.brokers) == 1
    print(f"\nwebhook ack latency, burst of {burst}: p50 {_quantile(latencies, 0.5) * 1000:.0f} ms,"
          f" p99 {_quantile(latencies, 0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
