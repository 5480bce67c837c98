"""Every order type and flag a ccxt Kraken account declares, end to end against the Kraken
fakes (signatures, nonces, Kraken's field rules): what reaches AddOrder / sendorder, and that
the venue takes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FakeKraken

from router_core import NotSupported, Order, OrderStatus, OrderType, Side, TimeInForce
from router_core import normalize_ticker as normalize

D = Decimal

CASES: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"order_type": OrderType.STOP, "stop_price": D(40000)},
     {"ordertype": "stop-loss", "price": "40000"}),
    ({"order_type": OrderType.STOP_LIMIT, "stop_price": D(40000), "limit_price": D(39900)},
     {"ordertype": "stop-loss-limit", "price": "40000", "price2": "39900"}),
    ({"order_type": OrderType.TAKE_PROFIT, "stop_price": D(60000)},
     {"ordertype": "take-profit", "price": "60000"}),
    ({"order_type": OrderType.TAKE_PROFIT_LIMIT, "stop_price": D(60000),
      "limit_price": D(59900)},
     {"ordertype": "take-profit-limit", "price": "60000", "price2": "59900"}),
    ({"order_type": OrderType.TRAILING_STOP, "trail_amount": D(500)},
     {"ordertype": "trailing-stop", "price": "+500"}),
    ({"order_type": OrderType.TRAILING_STOP, "trail_percent": D(2)},   # sent as a JSON body
     {"ordertype": "trailing-stop", "price": "+2%"}),
    ({"order_type": OrderType.LIMIT, "limit_price": D(60000), "post_only": True},
     {"ordertype": "limit", "price": "60000", "oflags": "post"}),
    ({"order_type": OrderType.LIMIT, "limit_price": D(40000),
      "time_in_force": TimeInForce.IOC},
     {"ordertype": "limit", "price": "40000", "timeinforce": "IOC"}),
]


@pytest.mark.parametrize(("fields", "expected"), CASES,
                         ids=[f"{c[0]['order_type'].value}-{i}" for i, c in enumerate(CASES)])
async def test_each_declared_order_type_reaches_kraken_as_documented(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any],
    fields: dict[str, Any], expected: dict[str, str],
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize("XBTUSD"))
    assert fields["order_type"] in broker.capabilities.order_types
    order = Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                  side=Side.SELL, quantity=D("0.01"), **fields)

    result = await broker.submit_order(order)

    assert result.status is OrderStatus.ACCEPTED and result.venue_order_id
    [call] = [call for call in kraken.calls if call.method == "AddOrder"]
    assert call.answered == ""  # Kraken's checks passed
    assert {name: call.fields.get(name) for name in expected} == expected
    assert (call.fields["cl_ord_id"], call.fields["type"], call.fields["volume"]) == (
        order.client_order_id, "sell", "0.01")


async def test_fill_or_kill_is_denied_on_kraken_spot(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any]
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize("XBTUSD"))
    assert TimeInForce.FOK not in broker.capabilities.time_in_force
    order = Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                  side=Side.BUY, quantity=D("0.01"), order_type=OrderType.LIMIT,
                  limit_price=D(40000), time_in_force=TimeInForce.FOK)
    with pytest.raises(NotSupported, match="time in force fok"):
        await broker.submit_order(order)
    assert kraken.add_order_calls == 0


FUTURES_CASES: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"order_type": OrderType.STOP, "stop_price": D(40000)},
     {"orderType": "stp", "stopPrice": "40000", "triggerSignal": "last"}),
    ({"order_type": OrderType.STOP_LIMIT, "stop_price": D(40000), "limit_price": D(39900)},
     {"orderType": "stp", "stopPrice": "40000", "limitPrice": "39900"}),
    # ccxt sends a take profit as a closing order (reduceOnly): the account must hold a long
    ({"order_type": OrderType.TAKE_PROFIT, "stop_price": D(60000)},
     {"orderType": "take_profit", "stopPrice": "60000", "reduceOnly": "true"}),
    ({"order_type": OrderType.LIMIT, "limit_price": D(60000), "post_only": True},
     {"orderType": "post", "limitPrice": "60000"}),
    ({"order_type": OrderType.LIMIT, "limit_price": D(40000),
      "time_in_force": TimeInForce.IOC},
     {"orderType": "ioc", "limitPrice": "40000"}),
]


@pytest.mark.parametrize(("fields", "expected"), FUTURES_CASES,
                         ids=[f"{c[0]['order_type'].value}-{i}"
                              for i, c in enumerate(FUTURES_CASES)])
async def test_each_declared_order_type_reaches_kraken_futures_as_documented(
    make_broker: Callable[..., Any], kraken_futures: FakeKrakenFutures,
    futures_account: dict[str, Any], fields: dict[str, Any], expected: dict[str, str],
) -> None:
    broker = await make_broker(httpx.ASGITransport(app=kraken_futures), **futures_account)
    instrument = await broker.resolve(normalize("PF_XBTUSD"))
    await broker.submit_order(Order(client_order_id=str(uuid.uuid4()), account="c1",
                                    instrument=instrument, side=Side.BUY, quantity=D("0.01")))
    order = Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                  side=Side.SELL, quantity=D("0.01"), **fields)

    result = await broker.submit_order(order)

    assert result.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED)
    [sent] = [p for p in kraken_futures.sendorders if p["cliOrdId"] == order.client_order_id]
    assert {name: sent.get(name) for name in expected} == expected
    assert kraken_futures.requests[-1].outcome == "placed"


async def test_fill_or_kill_is_denied_on_kraken_futures(
    make_broker: Callable[..., Any], kraken_futures: FakeKrakenFutures,
    futures_account: dict[str, Any]
) -> None:
    broker = await make_broker(httpx.ASGITransport(app=kraken_futures), **futures_account)
    instrument = await broker.resolve(normalize("PF_XBTUSD"))
    order = Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                  side=Side.BUY, quantity=D("0.01"), order_type=OrderType.LIMIT,
                  limit_price=D(40000), time_in_force=TimeInForce.FOK)
    with pytest.raises(NotSupported, match="no way to send a fill-or-kill"):
        await broker.submit_order(order)
    assert kraken_futures.sendorders == []
