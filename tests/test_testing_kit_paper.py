"""The paper broker through BrokerContract: the kit against a real plugin of this repository."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
import pytest_asyncio

from router_core import (
    Broker,
    BrokerContext,
    Instrument,
    Order,
    OrderType,
    Side,
    make_plugin_manager,
)
from router_core.normalize import normalize
from router_core.testing import BrokerContract

pytest_plugins = ["router_core.testing"]

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")


def _paper_class() -> type[Broker]:
    module = importlib.import_module("router_paper.plugin")
    return make_plugin_manager(enabled=[], extra=[("paper", module)]).brokers.get("paper")


class TestPaperBrokerContract(BrokerContract):
    known_symbol = "BTCUSD"
    unknown_symbol = None  # a simulator: every symbol resolves
    # Market and limit orders fill at once on paper; stops rest (no price feed triggers them).
    resting_order_type = OrderType.STOP
    resting_limit_price = Decimal(150)

    @pytest.fixture
    def venue_rejection_order(self):  # type: ignore[no-untyped-def]
        def order(instrument: Instrument) -> Order:  # reduce-only while flat: paper refuses
            return Order("paper-reject-1", "test", instrument, Side.SELL, Decimal(1),
                         reduce_only=True, reference_price=Decimal(100))

        return order

    @pytest_asyncio.fixture
    async def broker(self, broker_context: BrokerContext):  # type: ignore[no-untyped-def]
        cls = _paper_class()
        broker = cls(cls.Config(fill_price=Decimal(100)), broker_context)
        await broker.start()
        yield broker
        await broker.close()


async def test_paper_broker_fixture_is_started_and_flat(paper_broker: Broker) -> None:
    assert paper_broker.name == "paper"
    instrument = await paper_broker.resolve(normalize("BTCUSD"))
    position = await paper_broker.position(instrument)
    assert position.quantity == 0
