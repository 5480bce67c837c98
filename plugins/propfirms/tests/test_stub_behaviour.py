"""The stubs say they are stubs, refuse every venue call before sending, and load as a plugin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from router_propfirms.matchtrader import MatchTraderBroker
from router_propfirms.plugin import BROKERS
from router_propfirms.projectx import ProjectXBroker
from router_propfirms.rithmic import RithmicBroker
from router_propfirms.stub import MISSING
from router_propfirms.tradelocker import TradeLockerBroker
from router_propfirms.tradovate import TradovateBroker

from router_core import (
    Instrument,
    InstrumentKind,
    NotSupported,
    Order,
    OrderType,
    Side,
    make_plugin_manager,
)

MakeBroker = Callable[..., Any]  # the make_broker fixture (conftest.py)
NAMES = ["tradovate", "rithmic", "tradelocker", "matchtrader", "projectx"]
STUBS = [cls for cls in BROKERS if cls.stub]  # real clients have their own tests

INSTRUMENT = Instrument(
    symbol="NQH6", base="NQ", quote="USD", kind=InstrumentKind.FUTURE,
    tick_size=Decimal("0.25"), lot_size=Decimal(1), contract_size=Decimal(20),
)


def _order() -> Order:
    return Order(
        client_order_id="ar-1f2e3d-open", account="acct", instrument=INSTRUMENT,
        side=Side.BUY, quantity=Decimal(1),
    )


def test_plugin_loads_through_the_entry_point_and_registers_five_brokers() -> None:
    plugins = make_plugin_manager(enabled=["propfirms"])
    assert plugins.brokers.by_plugin()["propfirms"] == sorted(NAMES)
    assert plugins.installed["propfirms"].distribution == "alert-router-propfirms"
    for name in NAMES:
        assert plugins.brokers.get(name).stub is (name in {cls.name for cls in STUBS})
    assert "projectx" not in {cls.name for cls in STUBS}


@pytest.mark.parametrize("cls", STUBS)
def test_is_a_stub_and_says_so(cls: Any) -> None:
    assert cls.stub is True
    assert "stub" in (cls.__doc__ or "").lower()
    assert cls.name in NAMES


@pytest.mark.parametrize(
    ("method", "args", "what"),
    [
        ("submit_order", (_order(),), "order placement"),
        ("cancel_order", ("ar-1f2e3d-open", INSTRUMENT), "order cancellation"),
        ("find_order", ("ar-1f2e3d-open", INSTRUMENT), "order lookup"),
        ("balance", (), "reading the account balance"),
        ("balance", ("USD",), "reading the account balance"),
        ("position", (INSTRUMENT,), "reading positions"),
        ("instruments", (), "listing the venue's instruments"),
    ],
)
@pytest.mark.parametrize("cls", STUBS)
async def test_venue_calls_are_denied_with_the_stub_message(
    make_broker: MakeBroker, cls: Any, method: str, args: tuple[Any, ...], what: str
) -> None:
    broker = make_broker(cls)
    with pytest.raises(NotSupported) as caught:
        await getattr(broker, method)(*args)
    assert str(caught.value) == (f"{cls.name}: {what} is not implemented yet (stub); missing: "
                                 f"{MISSING[cls.name]}")
    assert caught.value.from_venue is False


async def test_exact_messages_for_rithmic(make_broker: MakeBroker) -> None:
    broker = make_broker(RithmicBroker)
    with pytest.raises(NotSupported) as placed:
        await broker.submit_order(_order())
    missing = ("; missing: an R | Protocol client (WebSocket + protobuf, four logged-in plants "
               "with heartbeats), the gateway URLs and template ids of Rithmic's dev kit, and "
               "Rithmic's conformance test before live")
    assert placed.value.message == (
        "rithmic: order placement is not implemented yet (stub)" + missing)
    with pytest.raises(NotSupported) as cancelled:
        await broker.cancel_order("ar-1f2e3d-open", INSTRUMENT)
    assert cancelled.value.message == (
        "rithmic: order cancellation is not implemented yet (stub)" + missing
    )


@pytest.mark.parametrize("cls", STUBS)
async def test_start_and_close_do_nothing_and_repr_hides_config(
    make_broker: MakeBroker, cls: Any
) -> None:
    broker = make_broker(cls, date(2025, 12, 20))
    await broker.start()
    await broker.close()
    assert repr(broker) == f"<{cls.__name__} {cls.name} account='test'>"


def test_capabilities_declared() -> None:
    futures = (TradovateBroker, RithmicBroker, ProjectXBroker)
    for cls in futures:
        caps = cls.capabilities
        assert caps.can_short and caps.net_position
        assert not caps.fractional  # whole contracts
        assert caps.attached_brackets
        assert {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP} <= caps.order_types
    assert OrderType.TRAILING_STOP in ProjectXBroker.capabilities.order_types
    assert OrderType.TRAILING_STOP not in TradovateBroker.capabilities.order_types
    # Tradovate's OSO brackets cover the whole order: a reversal is a close, then an open
    assert RithmicBroker.capabilities.single_order_flip
    assert not TradovateBroker.capabilities.single_order_flip
    # find_order needs a client tag the venue documents: Tradovate clOrdId, Rithmic user_tag,
    # ProjectX customTag, TradeLocker strategy tag; Match-Trader has none confirmed
    assert [cls.name for cls in BROKERS if cls.capabilities.find_order] == [
        "tradovate", "rithmic", "tradelocker", "projectx",
    ]
    for cls in (TradeLockerBroker, MatchTraderBroker):
        caps = cls.capabilities
        assert caps.can_short and caps.fractional and not caps.net_position
    assert MatchTraderBroker.capabilities.order_types == {OrderType.MARKET}
    assert not MatchTraderBroker.capabilities.cancel
    assert TradeLockerBroker.capabilities.order_types == {
        OrderType.MARKET, OrderType.LIMIT, OrderType.STOP,
    }
