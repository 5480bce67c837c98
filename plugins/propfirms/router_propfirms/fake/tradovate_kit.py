"""Test helpers for the Tradovate broker against ``FakeTradovate``: a context, a broker, orders.

Kept in the package (not a conftest) so the tests of this distribution and the fan-out tests
of others can share them.
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

from ..tradovate import TradovateBroker, TradovateConfig
from .tradovate import FAKE_APP_ID, FAKE_CID, FAKE_PASSWORD, FAKE_SEC, FAKE_USERNAME, FakeTradovate

ENV = {"TRADOVATE_USERNAME": FAKE_USERNAME, "TRADOVATE_PASSWORD": FAKE_PASSWORD,
       "TRADOVATE_CID": FAKE_CID, "TRADOVATE_SEC": FAKE_SEC}
BASE_URL = "https://tradovate.invalid/v1"  # never dialled: the ASGI transport answers


def tradovate_context(tmp_path: Path, fake: FakeTradovate, clock: FakeClock, *,
                      account: str = "tv", environ: dict[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    state = tmp_path / account
    state.mkdir(parents=True, exist_ok=True)
    return BrokerContext(
        account=account, state_dir=state, nonces=NonceRegistry(state),
        limiters=RateLimiterRegistry(clock), clock=clock,
        transport=transport or httpx.ASGITransport(app=fake),
        environ=dict(ENV if environ is None else environ),
    )


def tradovate_broker(tmp_path: Path, fake: FakeTradovate, clock: FakeClock, *,
                     account: str = "tv", environ: dict[str, str] | None = None,
                     transport: httpx.AsyncBaseTransport | None = None,
                     **settings: Any) -> TradovateBroker:
    """An unstarted broker on the fake (``base_url`` = ``BASE_URL``)."""
    settings.setdefault("app_id", FAKE_APP_ID)
    settings.setdefault("base_url", BASE_URL)
    config = TradovateConfig.model_validate(settings)
    context = tradovate_context(tmp_path, fake, clock, account=account, environ=environ,
                                transport=transport)
    return TradovateBroker(config, context)


def futures_order(instrument: Instrument, quantity: str | Decimal = "1", side: Side = Side.BUY,
                  order_type: OrderType = OrderType.MARKET, *,
                  client_order_id: str | None = None, account: str = "tv",
                  **fields: Any) -> Order:
    return Order(client_order_id=client_order_id or str(uuid.uuid4()), account=account,
                 instrument=instrument, side=side, quantity=Decimal(quantity),
                 order_type=order_type, **fields)
