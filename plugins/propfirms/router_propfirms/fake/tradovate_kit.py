"""Test helpers for the Tradovate broker against ``FakeTradovate``: a context, a broker, orders.

Kept in the package (not a conftest) so the tests of this distribution and the fan-out tests
of others can share them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from router_core import BrokerContext, Instrument, Order, OrderType, Side
from router_core.testing import FakeClock

from ..tradovate import TradovateBroker, TradovateConfig
from .kit import fake_context, new_order
from .tradovate import FAKE_APP_ID, FAKE_CID, FAKE_PASSWORD, FAKE_SEC, FAKE_USERNAME, FakeTradovate

ENV = {"TRADOVATE_USERNAME": FAKE_USERNAME, "TRADOVATE_PASSWORD": FAKE_PASSWORD,
       "TRADOVATE_CID": FAKE_CID, "TRADOVATE_SEC": FAKE_SEC}
BASE_URL = "https://tradovate.invalid/v1"  # never dialled: the ASGI transport answers


def tradovate_context(tmp_path: Path, fake: FakeTradovate, clock: FakeClock, *,
                      account: str = "tv", environ: dict[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> BrokerContext:
    return fake_context(tmp_path, fake, clock, account=account,
                        environ=ENV if environ is None else environ, transport=transport)


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


def futures_order(instrument: Instrument, quantity: str | Decimal = "1",
                  side: Side = Side.BUY, order_type: OrderType = OrderType.MARKET, *,
                  account: str = "tv", **fields: Any) -> Order:
    return new_order(instrument, quantity, side, order_type, account=account, **fields)
