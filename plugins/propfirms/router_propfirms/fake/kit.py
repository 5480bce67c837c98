"""What the Tradovate and TradeLocker test kits share: a broker context on a fake, an order."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

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


def fake_context(tmp_path: Path, fake: Any, clock: FakeClock, *, account: str,
                 environ: dict[str, str],
                 transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    """A context for ``account`` whose requests reach the ASGI ``fake`` in-process (or go
    through ``transport``), with ``environ`` as its environment."""
    state = tmp_path / account
    state.mkdir(parents=True, exist_ok=True)
    return BrokerContext(
        account=account, state_dir=state, nonces=NonceRegistry(state),
        limiters=RateLimiterRegistry(clock), clock=clock,
        transport=transport or httpx.ASGITransport(app=fake), environ=dict(environ),
    )


def new_order(instrument: Instrument, quantity: str | Decimal, side: Side,
              order_type: OrderType, *, account: str, client_order_id: str | None = None,
              **fields: Any) -> Order:
    """An Order as the core hands it over (a fresh 36-character client order id)."""
    return Order(client_order_id=client_order_id or str(uuid.uuid4()), account=account,
                 instrument=instrument, side=side, quantity=Decimal(quantity),
                 order_type=order_type, **fields)
