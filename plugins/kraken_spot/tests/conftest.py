"""Fixtures for the kraken-spot tests: the fake venue in-process and a started broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from router_kraken_spot.broker import KrakenSpotBroker
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_broker, make_context

from router_core import Instrument
from router_core import normalize_ticker as normalize
from router_core.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def fake(clock: FakeClock) -> FakeKraken:
    return FakeKraken(clock=clock)


@pytest_asyncio.fixture
async def broker(tmp_path: Path, fake: FakeKraken, clock: FakeClock) -> AsyncIterator[
        KrakenSpotBroker]:
    instance = make_broker(make_context(tmp_path, fake, clock=clock))
    await instance.start()
    yield instance
    await instance.close()


@pytest_asyncio.fixture
async def margin_broker(tmp_path: Path, fake: FakeKraken, clock: FakeClock) -> AsyncIterator[
        KrakenSpotBroker]:
    instance = make_broker(make_context(tmp_path, fake, clock=clock), margin=True)
    await instance.start()
    yield instance
    await instance.close()


@pytest_asyncio.fixture
async def btc(broker: KrakenSpotBroker) -> Instrument:
    return await broker.resolve(normalize("XBTUSD"))
