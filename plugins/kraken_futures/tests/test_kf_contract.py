"""The core's BrokerContract conformance suite, run against the in-process fake venue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest_asyncio
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET
from router_kraken_futures.fake.stream import FakeFuturesStream

from router_core import Instrument, Order, Side
from router_core.testing import BrokerContract


class TestKrakenFuturesContract(BrokerContract):
    known_symbol = "XBTUSD.P"
    unknown_symbol = "NOPEUSD.P"
    secrets = (FAKE_API_SECRET, FAKE_API_KEY)

    @pytest_asyncio.fixture
    async def broker(self, make_broker: Callable[..., Any], fake: Any) -> AsyncIterator[Any]:
        stream = FakeFuturesStream(fake)  # the fills feed, for the fill-stream test
        url = await stream.start()
        yield await make_broker(ws_url=url)
        await stream.stop()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, make_broker: Callable[..., Any], fake: Any) -> Any:
        broker = await make_broker(timeout_seconds=0.2)
        fake.script("sendorder", drop=True)  # executes the first order, never answers
        return broker

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        def too_big(instrument: Instrument) -> Order:
            # 100 BTC needs 100k USD of margin at 50x; the fake's flex wallet has 34k.
            return self.make_order_for(instrument, Decimal(100))

        return too_big

    def make_order_for(self, instrument: Instrument, quantity: Decimal) -> Order:
        return Order(client_order_id=self.client_order_id("too-big"), account="f1",
                     instrument=instrument, side=Side.BUY, quantity=quantity)
