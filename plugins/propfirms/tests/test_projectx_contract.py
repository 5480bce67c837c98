"""The core's BrokerContract conformance suite, run against the loopback ProjectX fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest_asyncio
from router_propfirms.fake.projectx import FAKE_API_KEY, FakeProjectX
from router_propfirms.fake.projectx_kit import clock_at, order, projectx_broker
from router_propfirms.projectx import ProjectXBroker

from router_core import Instrument, Order
from router_core.testing import BrokerContract

NOON = datetime(2026, 12, 4, 16, 0)  # a Friday, 10:00 in Chicago


class TestProjectXContract(BrokerContract):
    known_symbol = "CME_MINI:NQ1!"
    unknown_symbol = "CME:ZZZ1!"
    secrets = [FAKE_API_KEY]
    resting_limit_price = Decimal("10000.25")  # far under the fake's 21000: rests

    @pytest_asyncio.fixture
    async def broker(self, tmp_path: Path) -> AsyncIterator[ProjectXBroker]:
        clock = clock_at(NOON)
        broker = projectx_broker(tmp_path, FakeProjectX(clock=clock), clock)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, tmp_path: Path) -> AsyncIterator[ProjectXBroker]:
        clock = clock_at(NOON)
        fake = FakeProjectX(clock=clock)
        fake.drop_next("/api/Order/place")  # carried out, never answered
        broker = projectx_broker(tmp_path, fake, clock, timeout_seconds=0.2)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        # the fake firm allows 50 contracts per order, as firms cap size
        return lambda instrument: order(instrument, "60")
