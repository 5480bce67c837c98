"""The core's BrokerContract conformance suite, run against the fake Kraken."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest_asyncio
from router_kraken_spot.broker import KrakenSpotBroker
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake.stream import FakeKrakenStream
from router_kraken_spot.fake_data import DEFAULT_BALANCES, FAKE_API_KEY, FAKE_API_SECRET
from router_kraken_spot.testing import make_broker, make_context, make_order

from router_core import Instrument, Order
from router_core.testing import BrokerContract, FakeClock

FLAT = dict(DEFAULT_BALANCES, XXBT="0")  # no bitcoin held: the cash position starts flat


async def _started(tmp_path: Path, fake: FakeKraken, clock: FakeClock) -> KrakenSpotBroker:
    broker = make_broker(make_context(tmp_path, fake, clock=clock))
    await broker.start()
    return broker


class TestKrakenSpotContract(BrokerContract):
    known_symbol = "BTCUSD"
    unknown_symbol = "NOPEUSD"
    secrets = [FAKE_API_KEY, FAKE_API_SECRET]

    @pytest_asyncio.fixture
    async def broker(self, tmp_path: Path) -> AsyncIterator[KrakenSpotBroker]:
        clock = FakeClock()
        fake = FakeKraken(clock=clock, balances=FLAT)
        stream = FakeKrakenStream(fake)  # the executions channel, for the fill-stream test
        url = await stream.start()
        broker = make_broker(make_context(tmp_path, fake, clock=clock), ws_url=url)
        await broker.start()
        yield broker
        await broker.close()
        await stream.stop()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, tmp_path: Path) -> AsyncIterator[KrakenSpotBroker]:
        clock = FakeClock()
        fake = FakeKraken(clock=clock, balances=FLAT)
        fake.drop_next("AddOrder", mode="timeout")  # executes, then the reply is lost
        broker = await _started(tmp_path, fake, clock)
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        # far more than the fake account's 100000 USD: EOrder:Insufficient funds
        return lambda instrument: make_order(instrument, quantity=Decimal("10"))
