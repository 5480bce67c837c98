"""Fixtures for the kraken-futures tests: a fake venue in-process, a context, a broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_kraken_futures.broker import KrakenFuturesBroker
from router_kraken_futures.config import KrakenFuturesConfig
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures

from router_core import (
    BrokerContext,
    Instrument,
    NonceRegistry,
    Order,
    OrderType,
    RateLimiterRegistry,
    Side,
)
from router_core.testing import FakeClock

ENV = {"KRAKEN_FUTURES_API_KEY": FAKE_API_KEY, "KRAKEN_FUTURES_API_SECRET": FAKE_API_SECRET}
BASE_URL = "http://127.0.0.1:9"  # never dialled: the ASGI transport answers in-process


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeKrakenFutures:
    return FakeKrakenFutures(clock=clock)


def make_context(
    tmp_path: Path, fake: FakeKrakenFutures, clock: FakeClock, *, environ: dict[str, str] | None
    = None, transport: httpx.AsyncBaseTransport | None = None,
) -> BrokerContext:
    return BrokerContext(
        account="f1",
        state_dir=tmp_path,
        nonces=NonceRegistry(tmp_path),
        limiters=RateLimiterRegistry(clock),
        clock=clock,
        transport=transport or httpx.ASGITransport(app=fake),
        environ=dict(ENV if environ is None else environ),
    )


@pytest.fixture
def context(tmp_path: Path, fake: FakeKrakenFutures, clock: FakeClock) -> BrokerContext:
    return make_context(tmp_path, fake, clock)


@pytest_asyncio.fixture
async def make_broker(
    context: BrokerContext,
) -> AsyncIterator[Callable[..., Any]]:
    made: list[KrakenFuturesBroker] = []

    async def build(start: bool = True, **config: Any) -> KrakenFuturesBroker:
        return await _build(made, context, start, config)

    yield build
    for broker in made:
        await broker.close()


@pytest_asyncio.fixture
async def broker_over(
    tmp_path: Path, fake: FakeKrakenFutures, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    """``await broker_over(transport, **config)``: a broker whose transport the test chose."""
    made: list[KrakenFuturesBroker] = []

    async def build(
        transport: httpx.AsyncBaseTransport, start: bool = False, **config: Any
    ) -> KrakenFuturesBroker:
        context = make_context(tmp_path, fake, clock, transport=transport)
        return await _build(made, context, start, config)

    yield build
    for broker in made:
        await broker.close()


async def _build(
    made: list[KrakenFuturesBroker], context: BrokerContext, start: bool, config: dict[str, Any]
) -> KrakenFuturesBroker:
    """A broker on ``context`` (against the fake unless ``base_url`` says otherwise)."""
    config.setdefault("base_url", BASE_URL)
    broker = KrakenFuturesBroker(KrakenFuturesConfig(**config), context)
    made.append(broker)
    if start:
        await broker.start()
    return broker


@pytest_asyncio.fixture
async def broker(make_broker: Callable[..., Any]) -> KrakenFuturesBroker:
    return await make_broker()


def order(
    instrument: Instrument,
    quantity: str | Decimal,
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.MARKET,
    *,
    client_order_id: str | None = None,
    **fields: Any,
) -> Order:
    """A core Order as the core would hand it over (a 36-char UUID client id)."""
    return Order(
        client_order_id=client_order_id or str(uuid.uuid4()),
        account="f1",
        instrument=instrument,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        **fields,
    )


@pytest.fixture
def new_order() -> Callable[..., Order]:
    return order
