"""The core's BrokerContract conformance suite: the Tradovate broker against FakeTradovate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import httpx
import pytest_asyncio
from router_propfirms.fake.tradovate import FAKE_PASSWORD, FAKE_SEC, FakeTradovate
from router_propfirms.fake.tradovate_kit import futures_order, tradovate_broker
from router_propfirms.fake.transports import DropReply

from router_core import Broker, Instrument, Order
from router_core.testing import BrokerContract, FakeClock

NOW = datetime(2026, 12, 4, 15, tzinfo=UTC)


class TestTradovateContract(BrokerContract):
    known_symbol = "MNQ1!"
    unknown_symbol = "NOPEUSD"
    secrets: ClassVar[tuple[str, ...]] = (FAKE_PASSWORD, FAKE_SEC)
    resting_limit_price = Decimal("1000")  # far below the fake's 21000: rests

    @pytest_asyncio.fixture
    async def broker(self, tmp_path: Path) -> AsyncIterator[Broker]:
        clock = FakeClock(NOW.timestamp())
        broker = tradovate_broker(tmp_path, FakeTradovate(clock=clock), clock)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, tmp_path: Path) -> AsyncIterator[Broker]:
        clock = FakeClock(NOW.timestamp())
        fake = FakeTradovate(clock=clock)
        transport = DropReply(httpx.ASGITransport(app=fake), "/v1/order/placeorder")
        broker = tradovate_broker(tmp_path, fake, clock, transport=transport)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        def too_many(instrument: Instrument) -> Order:
            return futures_order(instrument, "60")  # the fake's position limit is 50

        return too_many
