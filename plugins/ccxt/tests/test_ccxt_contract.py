"""The core's BrokerContract, run for ccxt accounts on ``kraken`` and ``krakenfutures`` against
the project's signature-checking Kraken fakes: end to end through ccxt's request building,
signing and parsing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
from router_kraken_futures.fake import FAKE_API_KEY as KF_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as KF_SECRET
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake import FAKE_API_SECRET as SPOT_SECRET
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import DEFAULT_BALANCES

from router_core import Instrument, Order, Side
from router_core.testing import BrokerContract, FakeClock

FLAT = dict(DEFAULT_BALANCES, XXBT="0")  # no bitcoin held: the cash position starts flat


def _order(instrument: Instrument, quantity: str, client_order_id: str) -> Order:
    return Order(client_order_id=client_order_id, account="c1", instrument=instrument,
                 side=Side.BUY, quantity=Decimal(quantity))


class TestCcxtKrakenContract(BrokerContract):
    known_symbol = "KRAKEN:XBTUSD"
    unknown_symbol = "NOPEUSD"
    secrets = [SPOT_KEY, SPOT_SECRET]

    @pytest_asyncio.fixture
    async def broker(self, make_broker: Callable[..., Any], clock: FakeClock,
                     kraken_account: dict[str, Any]) -> Any:
        fake = FakeKraken(clock=clock, balances=FLAT)
        return await make_broker(fake.transport(), **kraken_account)

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, make_broker: Callable[..., Any], clock: FakeClock,
                               kraken_account: dict[str, Any]) -> Any:
        fake = FakeKraken(clock=clock, balances=FLAT)
        fake.drop_next("AddOrder", mode="timeout")  # executes, then the reply is lost
        return await make_broker(fake.transport(), **kraken_account)

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        # far more than the fake account's 100000 USD: EOrder:Insufficient funds
        return lambda instrument: _order(instrument, "10", self.client_order_id("too-big"))


class TestCcxtKrakenFuturesContract(BrokerContract):
    known_symbol = "PF_XBTUSD"
    unknown_symbol = "NOPEUSD.P"
    secrets = [KF_KEY, KF_SECRET]

    @pytest_asyncio.fixture
    async def broker(self, make_broker: Callable[..., Any], clock: FakeClock,
                     futures_account: dict[str, Any]) -> Any:
        fake = FakeKrakenFutures(clock=clock)
        return await make_broker(httpx.ASGITransport(app=fake), **futures_account)

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, make_broker: Callable[..., Any], clock: FakeClock,
                               futures_account: dict[str, Any]) -> Any:
        fake = FakeKrakenFutures(clock=clock)
        fake.script("sendorder", drop=True)  # executes the first order, never answers
        return await make_broker(httpx.ASGITransport(app=fake),
                                 **dict(futures_account, timeout_seconds=0.2))

    @pytest_asyncio.fixture
    async def venue_rejection_order(self) -> Callable[[Instrument], Order]:
        # 100 BTC needs far more margin than the fake's flex wallet holds
        return lambda instrument: _order(instrument, "100", self.client_order_id("too-big"))
