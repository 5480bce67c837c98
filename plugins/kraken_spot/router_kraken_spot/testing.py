"""Helpers to run the kraken-spot broker against the fake in-process (tests, benchmarks)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from router_core import (
    BrokerContext,
    Clock,
    Instrument,
    NonceRegistry,
    Order,
    OrderType,
    RateLimiterRegistry,
    Side,
    SystemClock,
)

from .broker import KrakenSpotBroker
from .config import KrakenSpotConfig
from .fake import FakeKraken
from .fake_data import FAKE_API_KEY, FAKE_API_SECRET


def make_context(
    state_dir: Path,
    fake: FakeKraken,
    *,
    clock: Clock | None = None,
    limiter_clock: Clock | None = None,
    account: str = "k1",
    environ: dict[str, str] | None = None,
) -> BrokerContext:
    """A BrokerContext whose HTTP goes to ``fake`` in-process."""
    env = {"KRAKEN_API_KEY": FAKE_API_KEY, "KRAKEN_API_SECRET": FAKE_API_SECRET}
    env.update(environ or {})
    return BrokerContext(
        account=account,
        state_dir=state_dir,
        nonces=NonceRegistry(state_dir),
        limiters=RateLimiterRegistry(limiter_clock or clock),
        clock=clock or SystemClock(),
        transport=fake.transport(),
        environ=env,
    )


def make_broker(context: BrokerContext, **config: Any) -> KrakenSpotBroker:
    settings: dict[str, Any] = {"base_url": "http://127.0.0.1"}
    settings.update(config)
    return KrakenSpotBroker(KrakenSpotConfig.model_validate(settings), context)


def make_order(
    instrument: Instrument,
    *,
    side: Side = Side.BUY,
    quantity: str | Decimal = "0.01",
    order_type: OrderType = OrderType.MARKET,
    client_order_id: str | None = None,
    **fields: Any,
) -> Order:
    return Order(
        client_order_id=client_order_id or str(uuid.uuid4()),
        account="k1",
        instrument=instrument,
        side=side,
        quantity=Decimal(str(quantity)),
        order_type=order_type,
        **fields,
    )
