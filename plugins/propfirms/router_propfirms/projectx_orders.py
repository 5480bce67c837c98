"""Core orders as ProjectX ``Order/place`` bodies, and ProjectX order rows as OrderResults.

Documented (``Order/place``, prop-brokers.md): ``accountId`` (int), ``contractId``, ``type``
(1 Limit, 2 Market, 4 Stop, 5 TrailingStop), ``side`` (0 bid/buy, 1 ask/sell), ``size``
(int), ``limitPrice``, ``stopPrice``, ``trailPrice``, ``customTag`` (unique per account: the
router's client order id, so an order is found again by it), ``stopLossBracket`` /
``takeProfitBracket`` as ``{ticks, type}``; the answer carries ``orderId``.

Secondary or assumed, and said where used: ``trailPrice`` is an absolute price level, not a
distance [secondary]; bracket ticks are positive distances from the entry's fill [assumed];
brackets only take effect on accounts with "Auto OCO Brackets" enabled [secondary]; order rows
(``Order/search``) carry ``status`` 1 Open, 2 Filled, 3 Cancelled, 4 Expired, 5 Rejected,
6 Pending, ``fillVolume`` and ``filledPrice`` [secondary].
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from router_core import (
    Bracket,
    Instrument,
    NotSupported,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Side,
)

LIMIT, MARKET, STOP, TRAILING_STOP = 1, 2, 4, 5
TYPES: Mapping[OrderType, int] = {
    OrderType.LIMIT: LIMIT, OrderType.MARKET: MARKET, OrderType.STOP: STOP,
    OrderType.TRAILING_STOP: TRAILING_STOP,
}
SIDES: Mapping[Side, int] = {Side.BUY: 0, Side.SELL: 1}
STATUSES: Mapping[int, OrderStatus] = {
    1: OrderStatus.ACCEPTED,  # open, working
    2: OrderStatus.FILLED,
    3: OrderStatus.CANCELED,
    4: OrderStatus.CANCELED,  # expired: gone without (more) fills
    5: OrderStatus.REJECTED,
    6: OrderStatus.ACCEPTED,  # pending: taken, not yet working
}


def deny(what: str) -> NotSupported:
    """A refusal decided here, before anything is sent (a *denial*)."""
    return NotSupported(f"projectx: {what}; nothing was sent", from_venue=False)


def contracts(order: Order) -> int:
    """The order's size as the whole number of contracts the Gateway takes."""
    quantity = order.quantity
    if quantity <= 0 or quantity != quantity.to_integral_value():
        raise deny(f"size {quantity} is not a positive whole number of contracts")
    return int(quantity)


def wire_price(price: Decimal) -> int | float:
    """A Decimal price as a JSON number. Prices are on the tick and have few digits, so the
    float's shortest repr is the Decimal's own digits (no binary noise reaches the wire)."""
    return int(price) if price == price.to_integral_value() else float(price)


def place_body(order: Order, account_id: int) -> dict[str, Any]:
    """The ``Order/place`` body for ``order``, or a denial for what ProjectX cannot take."""
    kind = TYPES.get(order.order_type)
    if kind is None:
        raise deny(f"{order.order_type.value} orders are not offered by ProjectX")
    if order.post_only:
        raise deny("post-only orders are not offered by ProjectX")
    body: dict[str, Any] = {
        "accountId": account_id,
        "contractId": order.instrument.symbol,
        "type": kind,
        "side": SIDES[order.side],
        "size": contracts(order),
        "customTag": order.client_order_id,
    }
    if kind == LIMIT:
        if order.limit_price is None:
            raise deny("a limit order needs a limit price")
        body["limitPrice"] = wire_price(order.limit_price)
    elif kind == STOP:
        if order.stop_price is None:
            raise deny("a stop order needs a stop price")
        body["stopPrice"] = wire_price(order.stop_price)
    elif kind == TRAILING_STOP:
        body["trailPrice"] = wire_price(trail_level(order))
    entry = order.limit_price or order.stop_price or order.reference_price
    for key, bracket, bracket_type in (
        ("stopLossBracket", order.stop_loss, None),
        ("takeProfitBracket", order.take_profit, LIMIT),
    ):
        if bracket is not None:
            body[key] = bracket_body(bracket, entry, order.instrument, key, bracket_type)
    return body


def trail_level(order: Order) -> Decimal:
    """``trailPrice``: the trailing stop's starting level [secondary: a level, not a distance].
    The alert's stop price when it gave one, else the reference price less (a sell) or plus
    (a buy) the trail distance."""
    if order.stop_price is not None:
        return order.stop_price
    if order.trail_amount is None or order.reference_price is None:
        raise deny("a trailing stop needs a stop price, or a trail amount and a current price "
                   "(trail percent is not offered)")
    tick = order.instrument.tick_size
    offset = order.trail_amount if order.side is Side.BUY else -order.trail_amount
    return ((order.reference_price + offset) / tick).to_integral_value() * tick


def bracket_body(bracket: Bracket, entry: Decimal | None, instrument: Instrument, key: str,
                 bracket_type: int | None) -> dict[str, int]:
    """``{ticks, type}``: the bracket's distance from the entry in whole ticks."""
    level = bracket.trigger_price or bracket.limit_price
    if level is None or entry is None:
        raise deny(f"{key} is set in ticks from the entry price, and the entry price or the "
                   "bracket's price is unknown")
    ticks = int((abs(level - entry) / instrument.tick_size).quantize(Decimal(1), ROUND_HALF_UP))
    if ticks < 1:
        raise deny(f"{key} at {level} is less than a tick from the entry at {entry}")
    kind = bracket_type
    if kind is None:
        kind = TRAILING_STOP if bracket.order_type is OrderType.TRAILING_STOP else STOP
    return {"ticks": ticks, "type": kind}


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def result_from_row(row: Mapping[str, Any], *, client_order_id: str | None = None
                    ) -> OrderResult:
    """An order row of ``Order/search`` / ``searchOpen`` as an OrderResult."""
    status = STATUSES.get(row.get("status"), OrderStatus.ACCEPTED)  # type: ignore[arg-type]
    size = _decimal(row.get("size"))
    filled = _decimal(row.get("fillVolume")) or Decimal(0)
    if status is OrderStatus.ACCEPTED and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    tag = row.get("customTag")
    return OrderResult(
        status,
        client_order_id if client_order_id is not None else (tag if isinstance(tag, str)
                                                              else ""),
        venue_order_id=str(row.get("id")),
        quantity=size,
        price=_decimal(row.get("limitPrice")) or _decimal(row.get("stopPrice")),
        filled_quantity=filled,
        average_price=_decimal(row.get("filledPrice")),
        venue_code=str(row.get("status")),
    )
