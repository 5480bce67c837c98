"""mybroker against its fake venue: the BrokerContract suite plus the plugin's own tests."""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

# The tests run without installing the plugin: put its folder on the path when needed.
if importlib.util.find_spec("router_mybroker") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router_mybroker import plugin
from router_mybroker.broker import MyBroker
from router_mybroker.fake_venue import FakeVenue

from router_core import (
    AuthError,
    Broker,
    BrokerContext,
    Instrument,
    NotSupported,
    Order,
    Side,
)
from router_core.testing import BrokerContract

pytest_plugins = ["router_core.testing"]

API_KEY = "mybroker-test-key"
API_SECRET = "mybroker-test-secret-do-not-print"


def make_broker(context: BrokerContext, venue: FakeVenue) -> MyBroker:
    context.environ["MYBROKER_API_KEY"] = API_KEY  # type: ignore[index]
    context.environ["MYBROKER_API_SECRET"] = API_SECRET  # type: ignore[index]
    context.transport = venue.transport()
    return MyBroker(MyBroker.Config(), context)


@pytest.fixture
def venue() -> FakeVenue:
    return FakeVenue(api_key=API_KEY, api_secret=API_SECRET)


class TestMyBrokerContract(BrokerContract):
    known_symbol = "BTCUSD"
    unknown_symbol = "NOPEUSD"
    secrets = [API_SECRET]

    @pytest_asyncio.fixture
    async def broker(self, broker_context: BrokerContext, venue: FakeVenue):  # type: ignore[no-untyped-def]
        broker = make_broker(broker_context, venue)
        await broker.start()
        yield broker
        await broker.close()

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, broker_context: BrokerContext, venue: FakeVenue):  # type: ignore[no-untyped-def]
        broker = make_broker(broker_context, venue)
        await broker.start()
        venue.drop_reply_after("POST", "/orders")
        yield broker
        await broker.close()

    @pytest.fixture
    def venue_rejection_order(self):  # type: ignore[no-untyped-def]
        def order(instrument: Instrument) -> Order:  # 1000 BTC at 50 000: not enough margin
            return Order("too-big-1", "test", instrument, Side.BUY, Decimal(1000))

        return order


def test_plugin_registers_the_broker(plugin_manager, register_plugin) -> None:  # type: ignore[no-untyped-def]
    register_plugin(plugin, "mybroker")
    assert plugin_manager.brokers.get("mybroker") is MyBroker


@pytest.mark.asyncio  # explicit, so the tests also run without asyncio_mode = auto
async def test_a_wrong_secret_is_refused_by_the_venue(broker_context: BrokerContext) -> None:
    venue = FakeVenue(api_key=API_KEY, api_secret="another-secret")
    broker = make_broker(broker_context, venue)
    with pytest.raises(AuthError) as caught:
        await broker.start()
    assert caught.value.from_venue and caught.value.venue_code == "bad_signature"
    await broker.close()


@pytest.mark.asyncio
async def test_what_the_template_leaves_out_says_so(broker_context: BrokerContext,
                                                    venue: FakeVenue) -> None:
    broker: Broker = make_broker(broker_context, venue)
    await broker.start()
    instrument = (await broker.instruments())[0]
    order = Order("lev-1", "test", instrument, Side.BUY, Decimal(1), leverage=Decimal(5))
    expected = r"mybroker: leverage is not implemented yet \(template\)"
    with pytest.raises(NotSupported, match=expected):
        await broker.submit_order(order)
    assert venue.requests.count("POST /orders") == 0  # refused before sending
    await broker.close()
