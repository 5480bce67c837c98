"""The core's BrokerContract conformance suite: the TradeLocker broker against FakeTradeLocker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import ClassVar

import httpx
import pytest_asyncio
from router_propfirms.fake.tradelocker import FAKE_PASSWORD, FakeTradeLocker
from router_propfirms.fake.tradelocker_kit import lots_order, tradelocker_broker
from router_propfirms.fake.transports import DropReply

from router_core import Broker, Instrument, Order
from router_core.testing import BrokerContract, FakeClock

ORDERS_PATH = "/backend-api/trade/accounts/812345/orders"


class TestTradeLockerContract(BrokerContract):
    known_symbol = "FX:EURUSD"
    unknown_symbol = "FX:EURXYZ"
    secrets: ClassVar[tuple[str, ...]] = (FAKE_PASSWORD,)

    @pytest_asyncio.fixture
    async def broker(self, tmp_path: Path) -> AsyncIterator[Broker]:
        clock = FakeClock()
        broker = tradelocker_broker(tmp_path, FakeTradeLocker(clock=clock), clock)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, tmp_path: Path) -> AsyncIterator[Broker]:
        clock = FakeClock()
        fake = FakeTradeLocker(clock=clock)
        transport = DropReply(httpx.ASGITransport(app=fake), ORDERS_PATH)
        broker = tradelocker_broker(tmp_path, fake, clock, transport=transport)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        def too_big(instrument: Instrument) -> Order:
            return lots_order(instrument, "1000")  # 1080 k USD of margin at 1:100; 100 k held

        return too_big
