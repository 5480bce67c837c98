"""A core ``Order`` as the arguments of ccxt's unified ``create_order``, and ccxt's order
structure back as an ``OrderResult``.

Only ccxt's unified parameters are used (``clientOrderId``, ``reduceOnly``, ``postOnly``,
``timeInForce``, ``triggerPrice``, ``stopLossPrice``, ``takeProfitPrice``, ``trailingAmount``,
``trailingPercent``, ``stopLoss``/``takeProfit``): ccxt maps each to the exchange's own name
(``clientOrderId`` becomes Kraken's ``cl_ord_id``, Bybit's ``orderLinkId``, OKX's
``clOrdId``...); the one exception is a time in force ccxt reads only in the exchange's own
spelling (``quirks.TIME_IN_FORCE_WORDS``). Everything here refuses before sending: an order
type, flag or time in force the account's capabilities do not declare, an amount that
truncates below the minimum.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from router_core import (
    Bracket,
    Capabilities,
    InvalidOrder,
    NotSupported,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    format_decimal,
)

from .capabilities import TIME_IN_FORCE
from .quirks import TIME_IN_FORCE_WORDS, refused, refused_time_in_force

_LIMIT_TYPES = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
_STOPS = {OrderType.STOP, OrderType.STOP_LIMIT}
_TAKE_PROFITS = {OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}

# Exchanges whose client order ids are letters and digits only, at most 32 (OKX's clOrdId).
# The core's ids are UUIDs: sent there without their dashes (32 hex digits), a deterministic
# mapping, so a look-up finds the order again.
_ALPHANUMERIC_32 = frozenset({"okx", "okxus", "myokx"})

# ccxt's order statuses -> the core's ("open" with a fill is partially filled)
_STATUSES = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def venue_client_id(exchange: str, client_order_id: str) -> str:
    """The client order id as sent to ``exchange``: the core's, verbatim, unless the exchange
    restricts its alphabet (then its dashes removed, or a hash when that is not enough)."""
    if exchange not in _ALPHANUMERIC_32:
        return client_order_id
    bare = client_order_id.replace("-", "")
    if bare.isascii() and bare.isalnum() and len(bare) <= 32:
        return bare
    return hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


def core_client_id(exchange: str, sent: str) -> str:
    """The core's client order id back from the one ``venue_client_id`` sent: a UUID regains
    its dashes on the exchanges that drop them (an order listed by the exchange is then
    recognised as the router's own); anything else as the exchange reports it."""
    if exchange in _ALPHANUMERIC_32 and len(sent) == 32:
        try:
            return str(uuid.UUID(hex=sent))
        except ValueError:
            return sent
    return sent


@dataclass(frozen=True, slots=True)
class CcxtOrder:
    """The arguments of ``exchange.create_order(symbol, type, side, amount, price, params)``."""

    symbol: str
    type: str
    side: str
    amount: str
    price: str | None
    params: dict[str, Any] = field(default_factory=dict)


def _price_text(exchange: Any, symbol: str, value: Decimal | None, what: str) -> str:
    if value is None:
        raise InvalidOrder(f"a {what} is required and the order has none")
    return str(exchange.price_to_precision(symbol, format_decimal(value)))


def truncated_amount(exchange: Any, order: Order) -> Decimal:
    """The order's quantity truncated to the market's amount precision by ccxt; refused
    (``InvalidOrder``, nothing sent) when it truncates to nothing or below the market's
    minimum amount or cost. Never more than the order's quantity."""
    instrument = order.instrument
    wanted = order.quantity
    try:
        text = exchange.amount_to_precision(instrument.symbol, format_decimal(wanted))
        amount = Decimal(str(text))
    except Exception as exc:  # ccxt raises its InvalidOrder when it truncates to zero
        raise InvalidOrder(f"quantity {format_decimal(wanted)} truncates to nothing on "
                           f"{instrument.symbol} (amount step {instrument.lot_size})") from exc
    if amount > wanted or amount <= 0:  # truncation must never round up
        raise InvalidOrder(f"quantity {format_decimal(wanted)} became {text} at ccxt's "
                           "amount precision; refusing to send more than asked")
    if amount < instrument.min_quantity:
        raise InvalidOrder(f"quantity {format_decimal(amount)} is below the minimum "
                           f"{format_decimal(instrument.min_quantity)} of {instrument.symbol}")
    price = order.limit_price or order.reference_price
    if instrument.min_notional > 0 and price:
        cost = amount * price * instrument.contract_size
        if cost < instrument.min_notional:
            raise InvalidOrder(f"order value {format_decimal(cost)} is below the minimum "
                               f"{format_decimal(instrument.min_notional)} of "
                               f"{instrument.symbol}")
    return amount


def _bracket(exchange: Any, symbol: str, bracket: Bracket, what: str) -> dict[str, str]:
    if bracket.trail_amount is not None or bracket.trail_percent is not None:
        raise NotSupported(f"a trailing {what} cannot ride on the order through ccxt")
    if bracket.quantity is not None:
        raise NotSupported(f"a {what} covering another quantity than the order's cannot ride "
                           "on the order through ccxt")
    attached = {"triggerPrice": _price_text(exchange, symbol, bracket.trigger_price,
                                            f"{what} trigger price")}
    if bracket.limit_price is not None:
        attached["price"] = _price_text(exchange, symbol, bracket.limit_price,
                                        f"{what} limit price")
    return attached


def to_ccxt(exchange: Any, order: Order, capabilities: Capabilities,
            create_features: Mapping[str, Any]) -> CcxtOrder:
    """The create_order arguments for ``order``; ``NotSupported`` or ``InvalidOrder`` (nothing
    sent) for what the account cannot do or the market refuses by its precision and limits."""
    kind = order.order_type
    if kind not in capabilities.order_types:
        market_type = str(order.instrument.venue.get("type", "spot"))
        why = refused(exchange.id, market_type).get(kind, "ccxt declares none for the market "
                                                          "type")
        raise NotSupported(f"{kind.value} orders are not supported on {exchange.id} "
                           f"{market_type} markets through ccxt: {why}")
    if order.extras:
        raise InvalidOrder(f"extras {sorted(order.extras)} are not understood by the ccxt broker")
    if order.leverage is not None and not capabilities.leverage:
        raise NotSupported("leverage per order is not supported by the ccxt broker; set the "
                           "exchange's leverage for the market instead")
    symbol = order.instrument.symbol
    amount = truncated_amount(exchange, order)
    params: dict[str, Any] = {
        "clientOrderId": venue_client_id(exchange.id, order.client_order_id)}
    if order.reduce_only:
        if not capabilities.reduce_only:
            raise NotSupported("reduce-only orders are not supported on this market type")
        params["reduceOnly"] = True
    if order.post_only:
        if not capabilities.post_only:
            raise NotSupported(f"post-only orders are not supported by {exchange.id}")
        params["postOnly"] = True
    if order.time_in_force is not None:
        if order.time_in_force not in capabilities.time_in_force:
            market_type = str(order.instrument.venue.get("type", "spot"))
            why = refused_time_in_force(exchange.id, market_type).get(
                order.time_in_force, "ccxt declares none for the market type")
            raise NotSupported(f"time in force {order.time_in_force.value} is not supported "
                               f"on {exchange.id} {market_type} markets through ccxt: {why}")
        words = TIME_IN_FORCE_WORDS.get(exchange.id, {})
        params["timeInForce"] = words.get(order.time_in_force,
                                          TIME_IN_FORCE[order.time_in_force])
    price = (_price_text(exchange, symbol, order.limit_price, "limit price")
             if kind in _LIMIT_TYPES else None)
    if kind in _STOPS:
        trigger = _price_text(exchange, symbol, order.stop_price, "stop price")
        if create_features.get("triggerPrice"):
            params["triggerPrice"] = trigger
            if create_features.get("triggerDirection"):  # a buy stop triggers on a rise
                params["triggerDirection"] = "above" if order.side.value == "buy" else "below"
        else:
            params["stopLossPrice"] = trigger
    elif kind in _TAKE_PROFITS:
        params["takeProfitPrice"] = _price_text(exchange, symbol, order.stop_price,
                                                "take-profit trigger price")
    elif kind is OrderType.TRAILING_STOP:
        if order.trail_amount is not None:
            params["trailingAmount"] = _price_text(exchange, symbol, order.trail_amount,
                                                   "trailing distance")
        elif order.trail_percent is not None:
            params["trailingPercent"] = format_decimal(order.trail_percent)
        else:
            raise InvalidOrder("a trailing stop needs trail_amount or trail_percent")
    for bracket, name, what in ((order.stop_loss, "stopLoss", "stop loss"),
                                (order.take_profit, "takeProfit", "take profit")):
        if bracket is None:
            continue
        if not capabilities.attached_brackets:
            raise NotSupported(f"a {what} cannot ride on an order on {exchange.id} through "
                               "ccxt")
        params[name] = _bracket(exchange, symbol, bracket, what)
    return CcxtOrder(symbol=symbol, type="limit" if kind in _LIMIT_TYPES else "market",
                     side=order.side.value, amount=format_decimal(amount), price=price,
                     params=params)


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def to_result(found: Mapping[str, Any], client_order_id: str) -> OrderResult:
    """ccxt's order structure as the core's OrderResult, under the core's client order id."""
    status = _STATUSES.get(str(found.get("status") or "open"), OrderStatus.ACCEPTED)
    filled = _number(found.get("filled"))
    amount = _number(found.get("amount"))
    if status is OrderStatus.ACCEPTED and filled and amount and filled < amount:
        status = OrderStatus.PARTIALLY_FILLED
    elif status is OrderStatus.ACCEPTED and filled and amount and filled >= amount:
        status = OrderStatus.FILLED
    venue_id = found.get("id")
    return OrderResult(
        status=status,
        client_order_id=client_order_id,
        venue_order_id=str(venue_id) if venue_id not in (None, "") else None,
        quantity=amount,
        price=_number(found.get("price")),
        filled_quantity=filled,
        average_price=_number(found.get("average")),
        reason=None if status is not OrderStatus.REJECTED else "the exchange rejected it",
        venue_code=str(found.get("status")) if found.get("status") else None,
    )
