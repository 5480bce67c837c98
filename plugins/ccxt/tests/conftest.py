"""Fixtures for the ccxt broker's tests: ccxt accounts on the project's loopback Kraken fakes.

The fakes are the Kraken plugins' own (``router_kraken_spot.fake``, ``router_kraken_futures.fake``):
they check API-Sign / Authent and nonces as Kraken documents them, so ccxt's signing is checked
the way the native plugins' is. The account's HTTP goes to the fake in-process through
``context.transport``; ``base_url`` only gives ccxt a loopback host to build URLs with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_ccxt.broker import CcxtBroker
from router_ccxt.config import CcxtConfig
from router_kraken_futures.fake import FAKE_API_KEY as KF_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as KF_SECRET
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake import FAKE_API_SECRET as SPOT_SECRET
from router_kraken_spot.fake import FakeKraken

from router_core import BrokerContext, NonceRegistry, RateLimiterRegistry
from router_core.testing import FakeClock

ENVIRON = {"KRAKEN_KEY": SPOT_KEY, "KRAKEN_SECRET": SPOT_SECRET,
           "KF_KEY": KF_KEY, "KF_SECRET": KF_SECRET}
LOOPBACK = "http://127.0.0.1:9"  # never dialled: the transport answers in-process

# The settings of a ccxt account on each fake (enable_rate_limit off: ccxt would space the
# requests a second apart; the fakes' own rate counters still apply).
KRAKEN = {"exchange": "kraken", "api_key_env": "KRAKEN_KEY", "secret_env": "KRAKEN_SECRET",
          "base_url": LOOPBACK, "enable_rate_limit": False}
KRAKEN_FUTURES = {"exchange": "krakenfutures", "market_type": "swap", "api_key_env": "KF_KEY",
                  "secret_env": "KF_SECRET", "base_url": LOOPBACK, "enable_rate_limit": False}


def make_context(state_dir: Path, transport: httpx.AsyncBaseTransport, clock: FakeClock,
                 environ: dict[str, str] | None = None) -> BrokerContext:
    return BrokerContext(
        account="c1", state_dir=state_dir, nonces=NonceRegistry(state_dir),
        limiters=RateLimiterRegistry(clock), clock=clock, transport=transport,
        environ=dict(ENVIRON if environ is None else environ),
    )


@pytest.fixture
def kraken_account() -> dict[str, Any]:
    """The settings of a ccxt account on the Kraken spot fake."""
    return dict(KRAKEN)


@pytest.fixture
def futures_account() -> dict[str, Any]:
    """The settings of a ccxt account on the Kraken Futures fake (perpetuals)."""
    return dict(KRAKEN_FUTURES)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def kraken(clock: FakeClock) -> FakeKraken:
    return FakeKraken(clock=clock)


@pytest.fixture
def kraken_futures(clock: FakeClock) -> FakeKrakenFutures:
    return FakeKrakenFutures(clock=clock)


@pytest_asyncio.fixture
async def make_broker(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Callable[..., Any]]:
    """``await make_broker(fake_transport, **settings)``: a started ccxt broker."""
    made: list[CcxtBroker] = []

    async def build(transport: httpx.AsyncBaseTransport, start: bool = True,
                    **settings: Any) -> CcxtBroker:
        broker = CcxtBroker(CcxtConfig(**settings), make_context(tmp_path, transport, clock))
        made.append(broker)
        if start:
            await broker.start()
        return broker

    yield build
    for broker in made:
        await broker.close()
