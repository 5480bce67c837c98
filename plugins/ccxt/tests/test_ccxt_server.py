"""ccxt over real HTTP: the production path (the core's aiohttp transport, no injected one)
against the Kraken spot fake served on loopback, its wire checks included."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from router_ccxt.broker import CcxtBroker
from router_ccxt.config import CcxtConfig
from router_kraken_spot.fake import FAKE_API_KEY, FAKE_API_SECRET

from router_core import (
    AmbiguousOutcome,
    BrokerContext,
    NonceRegistry,
    Order,
    OrderStatus,
    RateLimiterRegistry,
    RetryClass,
    Side,
    VenueUnavailable,
    normalize_ticker,
)
from router_core.testing import free_port, serve_fake

pytestmark = pytest.mark.slow


def _broker(tmp_path: Path, base_url: str) -> CcxtBroker:
    context = BrokerContext(  # transport None: the production transport
        account="c1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
        limiters=RateLimiterRegistry(),
        environ={"KRAKEN_KEY": FAKE_API_KEY, "KRAKEN_SECRET": FAKE_API_SECRET})
    config = CcxtConfig(exchange="kraken", api_key_env="KRAKEN_KEY", secret_env="KRAKEN_SECRET",
                        base_url=base_url, enable_rate_limit=False, timeout_seconds=5)
    return CcxtBroker(config, context)


def _order(instrument: object) -> Order:
    return Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                 side=Side.BUY, quantity=Decimal("0.01"))  # type: ignore[arg-type]


async def test_orders_over_real_http(tmp_path: Path) -> None:
    with serve_fake("router_kraken_spot.fake") as url:
        broker = _broker(tmp_path, url)
        try:
            await broker.start()
            btc = await broker.resolve(normalize_ticker("KRAKEN:XBTUSD"))
            placed = await broker.submit_order(_order(btc))
            async with httpx.AsyncClient(base_url=url) as control:
                await control.post("/_fake/drop_next", json={"method": "AddOrder",
                                                              "mode": "http502"})
                dropped = _order(btc)
                with pytest.raises(AmbiguousOutcome):
                    await broker.submit_order(dropped)
                found = await broker.find_order(dropped.client_order_id, btc)
                state = (await control.get("/_fake/state")).json()
        finally:
            await broker.close()
    assert placed.status is OrderStatus.ACCEPTED and placed.venue_order_id
    assert found is not None and found.venue_order_id in state["orders"]
    assert state["add_order_calls"] == 2 and state["errors_sent"] == {}  # signatures, nonces


async def test_nothing_listening_is_unavailable_and_nothing_sent(tmp_path: Path) -> None:
    broker = _broker(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(VenueUnavailable) as refused:
            await broker.start()
    finally:
        await broker.close()
    assert not isinstance(refused.value, AmbiguousOutcome)
    assert refused.value.retry is RetryClass.RETRY_READ  # the core may send again at once
    assert "could not be reached; nothing was sent" in str(refused.value)
