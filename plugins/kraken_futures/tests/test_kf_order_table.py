"""Every order type and flag, with the exact sendorder body the fake received."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from router_kraken_futures.client import encode_params

from router_core import BrokerError, InvalidOrder, OrderType, Side, TimeInForce
from router_core import normalize_ticker as normalize

D = Decimal
MKT, LMT, STP, STPL = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT
TP, TPL, TRAIL = OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT, OrderType.TRAILING_STOP

CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("market", dict(side=Side.BUY, order_type=MKT),
     [("orderType", "mkt"), ("side", "buy")]),
    ("market ioc", dict(side=Side.BUY, order_type=MKT, time_in_force=TimeInForce.IOC),
     [("orderType", "mkt"), ("side", "buy")]),
    ("market reduce-only", dict(side=Side.SELL, order_type=MKT, reduce_only=True),
     [("orderType", "mkt"), ("side", "sell"), ("reduceOnly", "true")]),
    ("limit", dict(order_type=LMT, limit_price=D(40000)),
     [("orderType", "lmt"), ("side", "buy"), ("limitPrice", "40000")]),
    ("limit gtc", dict(order_type=LMT, limit_price=D(40000), time_in_force=TimeInForce.GTC),
     [("orderType", "lmt"), ("side", "buy"), ("limitPrice", "40000")]),
    ("post-only", dict(order_type=LMT, limit_price=D(40000), post_only=True),
     [("orderType", "post"), ("side", "buy"), ("limitPrice", "40000")]),
    ("ioc", dict(order_type=LMT, limit_price=D(51000), time_in_force=TimeInForce.IOC),
     [("orderType", "ioc"), ("side", "buy"), ("limitPrice", "51000")]),
    ("fok", dict(order_type=LMT, limit_price=D(51000), time_in_force=TimeInForce.FOK),
     [("orderType", "fok"), ("side", "buy"), ("limitPrice", "51000")]),
    ("limit reduce-only", dict(side=Side.SELL, order_type=LMT, limit_price=D(60000),
                               reduce_only=True),
     [("orderType", "lmt"), ("side", "sell"), ("limitPrice", "60000"), ("reduceOnly", "true")]),
    ("stop", dict(side=Side.SELL, order_type=STP, stop_price=D(45000)),
     [("orderType", "stp"), ("side", "sell"), ("stopPrice", "45000"),
      ("triggerSignal", "last")]),
    ("stop mark reduce-only", dict(side=Side.SELL, order_type=STP, stop_price=D(45000),
                                   reduce_only=True, extras={"trigger_signal": "mark"}),
     [("orderType", "stp"), ("side", "sell"), ("stopPrice", "45000"),
      ("triggerSignal", "mark"), ("reduceOnly", "true")]),
    ("stop limit", dict(side=Side.SELL, order_type=STPL, stop_price=D(45000),
                        limit_price=D(44900)),
     [("orderType", "stp"), ("side", "sell"), ("limitPrice", "44900"), ("stopPrice", "45000"),
      ("triggerSignal", "last")]),
    ("stop limit with offset", dict(side=Side.SELL, order_type=STPL, stop_price=D(45000),
                                    limit_price=D(44900), extras={
                                        "trigger_signal": "index",
                                        "limit_price_offset_value": "0.5",
                                        "limit_price_offset_unit": "percent"}),
     [("orderType", "stp"), ("side", "sell"), ("limitPrice", "44900"), ("stopPrice", "45000"),
      ("triggerSignal", "index"), ("limitPriceOffsetValue", "0.5"),
      ("limitPriceOffsetUnit", "PERCENT")]),
    ("take profit", dict(side=Side.SELL, order_type=TP, stop_price=D(60000)),
     [("orderType", "take_profit"), ("side", "sell"), ("stopPrice", "60000"),
      ("triggerSignal", "last")]),
    ("take profit limit", dict(side=Side.SELL, order_type=TPL, stop_price=D(60000),
                               limit_price=D(59900)),
     [("orderType", "take_profit"), ("side", "sell"), ("limitPrice", "59900"),
      ("stopPrice", "60000"), ("triggerSignal", "last")]),
    ("trailing percent", dict(side=Side.SELL, order_type=TRAIL, trail_percent=D("1.5")),
     [("orderType", "trailing_stop"), ("side", "sell"), ("triggerSignal", "last"),
      ("trailingStopMaxDeviation", "1.5"), ("trailingStopDeviationUnit", "PERCENT")]),
    ("trailing amount reduce-only", dict(side=Side.SELL, order_type=TRAIL, trail_amount=D(500),
                                         reduce_only=True),
     [("orderType", "trailing_stop"), ("side", "sell"), ("triggerSignal", "last"),
      ("reduceOnly", "true"), ("trailingStopMaxDeviation", "500"),
      ("trailingStopDeviationUnit", "QUOTE_CURRENCY")]),
]


def _expected(fields: list[tuple[str, str]], cid: str) -> list[tuple[str, str]]:
    """Parameters in the plugin's documented order: type, symbol, side, size, prices, ..."""
    head = [("orderType", fields[0][1]), ("symbol", "PF_XBTUSD"), ("side", fields[1][1]),
            ("size", "0.0012")]
    return [*head, *fields[2:], ("cliOrdId", cid)]


@pytest.mark.parametrize(("name", "fields", "sent"), CASES, ids=[c[0] for c in CASES])
async def test_sendorder_body(
    broker: Any, fake: Any, new_order: Callable[..., Any], name: str, fields: dict[str, Any],
    sent: list[tuple[str, str]],
) -> None:
    instrument = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(instrument, "0.0012", **fields)
    try:
        await broker.submit_order(order)
    except BrokerError as exc:  # a venue refusal (reduce-only while flat) still shows the body
        assert exc.from_venue, exc
    assert len(fake.sendorders) == 1
    params = fake.sendorders[0]
    items = list(params.items())
    assert items[:-1] == _expected(sent, order.client_order_id)
    key, before = items[-1]
    assert key == "processBefore"
    assert datetime.fromisoformat(before).timestamp() == pytest.approx(
        fake.clock.time() + 10, abs=1
    )
    # the exact wire string: percent-encoded, in this order, and nothing else
    assert fake.requests[-1].query == encode_params(params)
    assert fake.requests[-1].body == ""


DENIALS: list[tuple[str, dict[str, Any], str]] = [
    ("post-only market", dict(order_type=MKT, post_only=True), "post_only"),
    ("fok market", dict(order_type=MKT, time_in_force=TimeInForce.FOK), "fill-or-kill"),
    ("gtd", dict(order_type=LMT, limit_price=D(40000), time_in_force=TimeInForce.GTD),
     "time_in_force"),
    ("post-only ioc", dict(order_type=LMT, limit_price=D(40000), post_only=True,
                           time_in_force=TimeInForce.IOC), "time_in_force"),
    ("market with price", dict(order_type=MKT, limit_price=D(40000)), "limit_price"),
    ("limit without price", dict(order_type=LMT), "limit_price"),
    ("limit off tick", dict(order_type=LMT, limit_price=D("40000.5")), "tick size"),
    ("stop without trigger", dict(order_type=STP), "stop_price"),
    ("stop with limit", dict(order_type=STP, stop_price=D(45000), limit_price=D(44000)),
     "stop_limit"),
    ("stop ioc", dict(order_type=STP, stop_price=D(45000), time_in_force=TimeInForce.IOC),
     "time_in_force"),
    ("trailing both", dict(order_type=TRAIL, trail_percent=D(1), trail_amount=D(5)),
     "exactly one"),
    ("trailing neither", dict(order_type=TRAIL), "exactly one"),
    ("trailing too wide", dict(order_type=TRAIL, trail_percent=D(60)), "between 0.1 and 50"),
    ("bad trigger signal", dict(order_type=STP, stop_price=D(45000),
                                extras={"trigger_signal": "bid"}), "trigger_signal"),
    ("offset without unit", dict(order_type=STP, stop_price=D(45000),
                                 extras={"limit_price_offset_value": "1"}), "go together"),
    ("client id too long", dict(client_order_id="x" * 101), "client_order_id"),
]


@pytest.mark.parametrize(("name", "fields", "words"), DENIALS, ids=[d[0] for d in DENIALS])
async def test_invalid_orders_are_denied_before_sending(
    broker: Any, fake: Any, new_order: Callable[..., Any], name: str, fields: dict[str, Any],
    words: str,
) -> None:
    instrument = await broker.resolve(normalize("XBTUSD.P"))
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(new_order(instrument, "0.001", **fields))
    assert info.value.from_venue is False
    assert words in str(info.value)
    assert fake.sendorders == []
