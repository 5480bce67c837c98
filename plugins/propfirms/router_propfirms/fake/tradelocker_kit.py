"""Test helpers for the TradeLocker broker against ``FakeTradeLocker``: a context, a broker,
orders. Kept in the package (not a conftest) so other distributions' tests can share them.
"""

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

from ..tradelocker import TradeLockerBroker, TradeLockerConfig
from .tradelocker import FAKE_EMAIL, FAKE_PASSWORD, FAKE_SERVER, PREFIX, FakeTradeLocker

ENV = {"TRADELOCKER_EMAIL": FAKE_EMAIL, "TRADELOCKER_PASSWORD": FAKE_PASSWORD}
BASE_URL = f"https://tradelocker.invalid{PREFIX}"  # never dialled: the ASGI transport answers


def tradelocker_context(tmp_path: Path, fake: FakeTradeLocker, clock: FakeClock, *,
                        account: str = "tl", environ: dict[str, str] | None = None,
                        transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    state = tmp_path / account
    state.mkdir(parents=True, exist_ok=True)
    return BrokerContext(
        account=account, state_dir=state, nonces=NonceRegistry(state),
        limiters=RateLimiterRegistry(clock), clock=clock,
        transport=transport or httpx.ASGITransport(app=fake),
        environ=dict(ENV if environ is None else environ),
    )


def tradelocker_broker(tmp_path: Path, fake: FakeTradeLocker, clock: FakeClock, *,
                       account: str = "tl", environ: dict[str, str] | None = None,
                       transport: httpx.AsyncBaseTransport | None = None,
                       **settings: Any) -> TradeLockerBroker:
    """An unstarted broker on the fake (``base_url`` = ``BASE_URL``)."""
    settings.setdefault("server", FAKE_SERVER)
    settings.setdefault("base_url", BASE_URL)
    config = TradeLockerConfig.model_validate(settings)
    context = tradelocker_context(tmp_path, fake, clock, account=account, environ=environ,
                                  transport=transport)
    return TradeLockerBroker(config, context)


def lots_order(instrument: Instrument, quantity: str | Decimal = "0.01", side: Side = Side.BUY,
               order_type: OrderType = OrderType.MARKET, *,
               client_order_id: str | None = None, account: str = "tl",
               **fields: Any) -> Order:
    return Order(client_order_id=client_order_id or str(uuid.uuid4()), account=account,
                 instrument=instrument, side=side, quantity=Decimal(quantity),
                 order_type=order_type, **fields)
