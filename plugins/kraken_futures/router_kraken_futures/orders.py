"""Core Orders to ``sendorder`` parameters, and Kraken's order answers to OrderResults.

Every check here happens before anything is sent, so a refusal is a *denial*
(``InvalidOrder(from_venue=False)``) with a reason that names the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from router_core import (
    AmbiguousOutcome,
    Bracket,
    InvalidOrder,
    LegPurpose,
    Order,
    OrderNotFound,
    OrderResult,
    OrderStatus,
    OrderType,
    TimeInForce,
    format_decimal,
    to_decimal,
)

from .errors import SUCCESS_STATUSES, order_status_rule, venue_error

TRIGGER_SIGNALS = frozenset({"mark", "index", "last"})
DEFAULT_TRIGGER_SIGNAL = "last"  # Kraken documents no default; ccxt sends "last"
OFFSET_UNITS = frozenset({"QUOTE_CURRENCY", "PERCENT"})
MAX_CLIENT_ID = 100
TRIGGER_TYPES = frozenset(
    {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT,
     OrderType.TRAILING_STOP}
)
# Namespace of the bracket orders' client ids: uuid5(namespace, entry id + ":sl" / ":tp").
BRACKET_NAMESPACE = uuid.UUID("6f0c5a52-3d0e-5b8e-9a51-7d1f0e4b2c31")

# Order.extras keys this plugin reads.
EXTRA_TRIGGER_SIGNAL = "trigger_signal"
EXTRA_OFFSET_VALUE = "limit_price_offset_value"
EXTRA_OFFSET_UNIT = "limit_price_offset_unit"


def deny(message: str) -> InvalidOrder:
    return InvalidOrder(message, from_venue=False)


def _price(order: Order, value: Decimal | None, name: str) -> str:
    if value is None:
        raise deny(f"{name}: a {order.order_type.value} order needs {name}")
    if value <= 0:
        raise deny(f"{name}: must be positive, got {format_decimal(value)}")
    tick = order.instrument.tick_size
    if tick > 0 and value % tick != 0:
        raise deny(
            f"{name}: {format_decimal(value)} is not a multiple of the tick size "
            f"{format_decimal(tick)} of {order.instrument.symbol}"
        )
    return format_decimal(value)


def _size(order: Order) -> str:
    quantity, step = order.quantity, order.instrument.lot_size
    if quantity <= 0:
        raise deny(f"quantity: must be positive, got {format_decimal(quantity)}")
    if step > 0 and quantity % step != 0:
        precision = order.instrument.venue.get("contractValueTradePrecision", "?")
        raise deny(
            f"quantity: {format_decimal(quantity)} is not a multiple of the size step "
            f"{format_decimal(step)} of {order.instrument.symbol} "
            f"(contractValueTradePrecision {precision})"
        )
    return format_decimal(quantity)


def _order_type(order: Order) -> str:
    kind, tif = order.order_type, order.time_in_force
    if tif in (TimeInForce.GTD, TimeInForce.DAY) or order.expire_time is not None:
        raise deny("time_in_force: Kraken Futures has no GTD or DAY orders")
    if order.post_only and kind is not OrderType.LIMIT:
        raise deny(f"post_only: only a limit order can be post-only, not {kind.value}")
    if kind in TRIGGER_TYPES and tif not in (None, TimeInForce.GTC):
        raise deny(f"time_in_force: a {kind.value} order cannot be {tif.value if tif else ''}")
    if kind is OrderType.MARKET:
        if tif is TimeInForce.FOK:
            raise deny("time_in_force: a Kraken market order is immediate-or-cancel, not "
                       "fill-or-kill; send a limit order with time_in_force fok")
        return "mkt"  # Kraken's market order is already immediate-or-cancel
    if kind is OrderType.LIMIT:
        if order.post_only:
            if tif in (TimeInForce.IOC, TimeInForce.FOK):
                raise deny(f"time_in_force: a post-only order cannot be {tif.value}")
            return "post"
        return {TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}.get(tif, "lmt")  # type: ignore[arg-type]
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        return "stp"
    if kind in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT):
        return "take_profit"
    return "trailing_stop"


def sendorder_params(order: Order, *, process_before: str | None) -> dict[str, str]:
    """The ``sendorder`` parameters in the order they are sent and signed."""
    if not order.client_order_id or len(order.client_order_id) > MAX_CLIENT_ID:
        raise deny(f"client_order_id: must be 1 to {MAX_CLIENT_ID} characters")
    order_type = _order_type(order)
    kind = order.order_type
    params: dict[str, str] = {
        "orderType": order_type,
        "symbol": order.instrument.symbol,
        "side": order.side.value,
        "size": _size(order),
    }
    if kind is OrderType.MARKET:
        if order.limit_price is not None or order.stop_price is not None:
            raise deny("limit_price: a market order takes no price; use a limit order")
    elif kind is OrderType.LIMIT:
        if order.stop_price is not None:
            raise deny("stop_price: a limit order takes no stop price; use stop_limit")
        params["limitPrice"] = _price(order, order.limit_price, "limit_price")
    elif kind in (OrderType.STOP, OrderType.TAKE_PROFIT):
        if order.limit_price is not None:
            raise deny(
                f"limit_price: a {kind.value} order triggers a market order; "
                f"use {kind.value}_limit for a limit price"
            )
        params["stopPrice"] = _price(order, order.stop_price, "stop_price")
    elif kind in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
        params["limitPrice"] = _price(order, order.limit_price, "limit_price")
        params["stopPrice"] = _price(order, order.stop_price, "stop_price")
    if kind in TRIGGER_TYPES:
        params["triggerSignal"] = _trigger_signal(order)
    if order.reduce_only:
        params["reduceOnly"] = "true"
    if kind is OrderType.TRAILING_STOP:
        params.update(_trailing(order))
    elif kind in TRIGGER_TYPES:
        params.update(_limit_offset(order))
    params["cliOrdId"] = order.client_order_id
    if process_before:
        params["processBefore"] = process_before
    return params


def _trigger_signal(order: Order) -> str:
    signal = str(order.extras.get(EXTRA_TRIGGER_SIGNAL, DEFAULT_TRIGGER_SIGNAL)).lower()
    if signal not in TRIGGER_SIGNALS:
        raise deny(
            f"extras.{EXTRA_TRIGGER_SIGNAL}: {signal!r} is not one of "
            f"{', '.join(sorted(TRIGGER_SIGNALS))}"
        )
    return signal


def _trailing(order: Order) -> dict[str, str]:
    if order.limit_price is not None or order.stop_price is not None:
        raise deny("trailing_stop: Kraken sets the trigger itself; send no limit or stop price")
    amount, percent = order.trail_amount, order.trail_percent
    if (amount is None) == (percent is None):
        raise deny("trail_amount/trail_percent: a trailing stop needs exactly one of them")
    if percent is not None:
        if not Decimal("0.1") <= percent <= Decimal(50):
            raise deny(f"trail_percent: must be between 0.1 and 50, got {format_decimal(percent)}")
        return {"trailingStopMaxDeviation": format_decimal(percent),
                "trailingStopDeviationUnit": "PERCENT"}
    assert amount is not None
    if amount <= 0:
        raise deny(f"trail_amount: must be positive, got {format_decimal(amount)}")
    return {"trailingStopMaxDeviation": format_decimal(amount),
            "trailingStopDeviationUnit": "QUOTE_CURRENCY"}


def _limit_offset(order: Order) -> dict[str, str]:
    value, unit = order.extras.get(EXTRA_OFFSET_VALUE), order.extras.get(EXTRA_OFFSET_UNIT)
    if value is None and unit is None:
        return {}
    if value is None or unit is None:
        raise deny(f"extras: {EXTRA_OFFSET_VALUE} and {EXTRA_OFFSET_UNIT} go together")
    unit = str(unit).upper()
    if unit not in OFFSET_UNITS:
        raise deny(f"extras.{EXTRA_OFFSET_UNIT}: {unit!r} is not QUOTE_CURRENCY or PERCENT")
    try:
        number = to_decimal(value, field=f"extras.{EXTRA_OFFSET_VALUE}")
    except ValueError as exc:
        raise deny(str(exc)) from None
    return {"limitPriceOffsetValue": format_decimal(number), "limitPriceOffsetUnit": unit}


# -- answers ------------------------------------------------------------------------------------


def _executions(events: Iterable[Mapping[str, Any]]) -> tuple[Decimal, Decimal | None]:
    filled = notional = Decimal(0)
    for event in events:
        if event.get("type") == "EXECUTION":
            amount = to_decimal(event.get("amount", 0), field="amount")
            filled += amount
            notional += amount * to_decimal(event.get("price", 0), field="price")
    return filled, (notional / filled if filled else None)


def _reduced(events: Iterable[Mapping[str, Any]]) -> Decimal | None:
    for event in events:
        value = event.get("reducedQuantity")
        if value is not None:
            return to_decimal(value, field="reducedQuantity")
    return None


def _reject_reason(events: Iterable[Mapping[str, Any]]) -> str | None:
    for event in events:
        if event.get("type") == "REJECT" and event.get("reason"):
            return str(event["reason"])
    return None


def send_result(order: Order, payload: Mapping[str, Any]) -> OrderResult:
    """The OrderResult of a ``sendorder`` answer; raises the mapped error for a rejection."""
    block = payload.get("sendStatus")
    if not isinstance(block, Mapping) or not isinstance(block.get("status"), str):
        raise AmbiguousOutcome(
            f"sendorder {order.client_order_id}: the answer has no sendStatus; the order may exist"
        )
    return status_block_result(order, block, what="sendorder")


def status_block_result(order: Order, block: Mapping[str, Any], *, what: str) -> OrderResult:
    status = str(block["status"])
    events = [e for e in block.get("orderEvents") or [] if isinstance(e, Mapping)]
    venue_id = block.get("order_id") or block.get("orderId")
    if status not in SUCCESS_STATUSES:
        detail = _reject_reason(events)
        context = f"{what} {order.client_order_id}" + (f" [{detail}]" if detail else "")
        raise venue_error(order_status_rule(status), status, context=context, side_effect=False)
    filled, average = _executions(events)
    target = order.quantity
    notes: list[str] = []
    reduced = _reduced(events)
    if reduced is not None and reduced != order.quantity:
        notes.append(f"reduce-only size trimmed by Kraken to {format_decimal(reduced)}")
        target = reduced
    if status == "filled" or (filled and filled >= target):
        result_status = OrderStatus.FILLED
        filled = filled or target
    elif status == "cancelled":
        result_status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.CANCELED
        notes.append("Kraken cancelled the rest" if filled else "Kraken cancelled the order")
    elif filled or status == "partiallyFilled":
        result_status = OrderStatus.PARTIALLY_FILLED
    else:
        result_status = OrderStatus.ACCEPTED
    return OrderResult(
        status=result_status,
        client_order_id=order.client_order_id,
        venue_order_id=str(venue_id) if venue_id else None,
        quantity=order.quantity,
        price=order.limit_price if order.limit_price is not None else order.stop_price,
        filled_quantity=filled,
        average_price=average,
        reason="; ".join(notes) or None,
        venue_code=status,
    )


ORDERS_STATUS = {
    "ENTERED_BOOK": OrderStatus.ACCEPTED,
    "TRIGGER_PLACED": OrderStatus.ACCEPTED,
    "FULLY_EXECUTED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER_ACTIVATION_FAILURE": OrderStatus.REJECTED,
}


def lookup_result(client_order_id: str, entry: Mapping[str, Any]) -> OrderResult:
    """An OrderResult from one ``orders/status`` entry."""
    status = str(entry.get("status", ""))
    order = entry.get("order") if isinstance(entry.get("order"), Mapping) else {}
    assert isinstance(order, Mapping)
    quantity = _dec(order.get("quantity"))
    filled = _dec(order.get("filled")) or Decimal(0)
    result_status = ORDERS_STATUS.get(status, OrderStatus.ACCEPTED)
    if filled and result_status in (OrderStatus.ACCEPTED, OrderStatus.CANCELED):
        result_status = OrderStatus.PARTIALLY_FILLED
    reason = " ".join(
        str(part) for part in (entry.get("updateReason"), entry.get("error")) if part
    ) or None
    return OrderResult(
        status=result_status,
        client_order_id=client_order_id,
        venue_order_id=_str(order.get("orderId") or order.get("order_id")),
        quantity=quantity,
        price=_dec(order.get("limitPrice")),
        filled_quantity=filled,
        reason=reason,
        venue_code=status or None,
    )


def fills_result(client_order_id: str, fills: Iterable[Mapping[str, Any]]) -> OrderResult | None:
    """An order no longer open but present in ``fills``: filled by what the fills add up to."""
    mine = [f for f in fills if f.get("cliOrdId") == client_order_id]
    if not mine:
        return None
    filled, average = _executions(
        {"type": "EXECUTION", "amount": f.get("size", 0), "price": f.get("price", 0)} for f in mine
    )
    return OrderResult(
        status=OrderStatus.FILLED,
        client_order_id=client_order_id,
        venue_order_id=_str(mine[0].get("order_id")),
        filled_quantity=filled,
        average_price=average,
        reason="found in recent fills; no longer open",
        venue_code="fills",
    )


def cancel_result(client_order_id: str, payload: Mapping[str, Any]) -> OrderResult:
    block = payload.get("cancelStatus")
    if not isinstance(block, Mapping):
        raise AmbiguousOutcome(f"cancelorder {client_order_id}: the answer has no cancelStatus")
    status = str(block.get("status"))
    venue_id = _str(block.get("order_id"))
    if status == "cancelled":
        return OrderResult(OrderStatus.CANCELED, client_order_id, venue_id, venue_code=status)
    if status == "filled":
        return OrderResult(
            OrderStatus.FILLED, client_order_id, venue_id,
            reason="already filled; nothing to cancel", venue_code=status,
        )
    if status == "notFound":
        raise OrderNotFound(
            f"cancelorder {client_order_id}: Kraken has no open order with this id",
            venue_code=status, from_venue=True,
        )
    raise venue_error(order_status_rule(status), status, context="cancelorder",
                      side_effect=False)


# -- brackets -----------------------------------------------------------------------------------


def bracket_client_id(entry_id: str, leg: str) -> str:
    """The deterministic client id of a bracket leg (``leg`` is ``"sl"`` or ``"tp"``)."""
    return str(uuid.uuid5(BRACKET_NAMESPACE, f"{entry_id}:{leg}"))


_SL_TYPES = {
    OrderType.STOP: OrderType.STOP,
    OrderType.STOP_LIMIT: OrderType.STOP_LIMIT,
    OrderType.TRAILING_STOP: OrderType.TRAILING_STOP,
}
_TP_TYPES = {
    OrderType.TAKE_PROFIT: OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_LIMIT: OrderType.TAKE_PROFIT_LIMIT,
    OrderType.LIMIT: OrderType.LIMIT,
}


def bracket_order(entry: Order, bracket: Bracket, *, stop_loss: bool) -> Order:
    """The reduce-only order that carries a stop loss or take profit of ``entry``."""
    leg, table = ("sl", _SL_TYPES) if stop_loss else ("tp", _TP_TYPES)
    name = "stop_loss" if stop_loss else "take_profit"
    kind = table.get(bracket.order_type)
    if kind is None:
        raise deny(f"{name}.order_type: {bracket.order_type.value} cannot carry a {name}")
    limit = bracket.limit_price
    stop = bracket.trigger_price
    if kind is OrderType.LIMIT:
        limit, stop = limit if limit is not None else stop, None
    elif kind in (OrderType.STOP, OrderType.TAKE_PROFIT):
        limit = None
    elif kind is OrderType.TRAILING_STOP:
        limit = stop = None
    extras = {k: v for k, v in entry.extras.items() if k == EXTRA_TRIGGER_SIGNAL}
    return Order(
        client_order_id=bracket_client_id(entry.client_order_id, leg),
        account=entry.account,
        instrument=entry.instrument,
        side=entry.side.opposite,
        quantity=bracket.quantity or entry.quantity,  # a flip's brackets: the new side only
        order_type=kind,
        purpose=LegPurpose.STOP_LOSS if stop_loss else LegPurpose.TAKE_PROFIT,
        limit_price=limit,
        stop_price=stop,
        trail_amount=bracket.trail_amount,
        trail_percent=bracket.trail_percent,
        reduce_only=True,
        extras=extras,
    )


def _dec(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


def _str(value: object) -> str | None:
    return None if value is None else str(value)
