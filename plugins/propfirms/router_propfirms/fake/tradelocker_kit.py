"""Test helpers for the TradeLocker broker against ``FakeTradeLocker``: a context, a broker,
orders. Kept in the package (not a conftest) so other distributions' tests can share them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from router_core import BrokerContext, Instrument, Order, OrderType, Side
from router_core.testing import FakeClock

from ..tradelocker import TradeLockerBroker, TradeLockerConfig
from .kit import fake_context, new_order
from .tradelocker import FAKE_EMAIL, FAKE_PASSWORD, FAKE_SERVER, PREFIX, FakeTradeLocker

ENV = {"TRADELOCKER_EMAIL": FAKE_EMAIL, "TRADELOCKER_PASSWORD": FAKE_PASSWORD}
BASE_URL = f"https://tradelocker.invalid{PREFIX}"  # never dialled: the ASGI transport answers


def tradelocker_context(tmp_path: Path, fake: FakeTradeLocker, clock: FakeClock, *,
                        account: str = "tl", environ: dict[str, str] | None = None,
                        transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    return fake_context(tmp_path, fake, clock, account=account,
                        environ=ENV if environ is None else environ, transport=transport)


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


def lots_order(instrument: Instrument, quantity: str | Decimal = "0.01",
               side: Side = Side.BUY, order_type: OrderType = OrderType.MARKET, *,
               account: str = "tl", **fields: Any) -> Order:
    return new_order(instrument, quantity, side, order_type, account=account, **fields)
