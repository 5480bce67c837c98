"""Order -> AddOrder form fields. Pure: no I/O, so every rule has a unit test.

Everything Kraken would refuse for a reason we can see is refused here first (InvalidOrder,
from_venue=False): precision, minimums, flag combinations, unknown extras keys. The core hands
absolute Decimal prices; Kraken's relative price forms (``+5``, ``-5``, ``#5``, ``+1.5%``) and the
order types the core has no name for come through ``Order.extras`` (see ``EXTRAS``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from router_core import (
    Bracket,
    Instrument,
    InvalidOrder,
    Order,
    OrderType,
    Side,
    TimeInForce,
    format_decimal,
)

# Order.extras keys this plugin reads, with their meaning (also in the README). Any other key
# is refused: a typo must not silently change what is traded.
EXTRAS: dict[str, str] = {
    "ordertype": "Kraken order type, for the ones the core has no name for: iceberg, "
    "trailing-stop-limit, settle-position (any Kraken order type is accepted)",
    "displayvol": "iceberg: the visible quantity, at least 1/15 of the order quantity",
    "price": "Kraken price text replacing the core's price: absolute, or relative "
    "+n / -n / #n (from the last trade) with an optional % suffix",
    "price2": "the same for price2; trailing-stop-limit needs it: the offset from the trigger "
    "to the limit, e.g. +0 or -1.5%",
    "oflags": "extra order flags: fcib, fciq, nompp, viqc (a list or a comma string); post "
    "comes from Order.post_only",
    "quote_volume": "with oflags viqc (buy market only): the amount of quote currency to spend; "
    "replaces the quantity",
    "trigger": "price that triggers stop/take-profit orders: last (default) or index",
    "stptype": "self-trade prevention: cancel-newest (default), cancel-oldest, cancel-both",
    "starttm": "scheduled start: 0 (now), +<seconds> or a unix time",
    "close_price": "Kraken price text for the conditional close's price (relative forms allowed)",
    "close_price2": "the same for the conditional close's price2",
}

KRAKEN_ORDER_TYPES = (
    "market", "limit", "iceberg", "stop-loss", "take-profit", "stop-loss-limit",
    "take-profit-limit", "trailing-stop", "trailing-stop-limit", "settle-position",
)
CORE_TO_KRAKEN = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop-loss",
    OrderType.STOP_LIMIT: "stop-loss-limit",
    OrderType.TAKE_PROFIT: "take-profit",
    OrderType.TAKE_PROFIT_LIMIT: "take-profit-limit",
    OrderType.TRAILING_STOP: "trailing-stop",
}
BRACKET_TO_KRAKEN = {
    OrderType.LIMIT: "limit",
    OrderType.TAKE_PROFIT: "take-profit",
    OrderType.TAKE_PROFIT_LIMIT: "take-profit-limit",
    OrderType.STOP: "stop-loss",
    OrderType.STOP_LIMIT: "stop-loss-limit",
    OrderType.TRAILING_STOP: "trailing-stop",
}
_LIMIT_PRICED = {"limit", "iceberg"}
_TRIGGER_PRICED = {"stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit"}
_WITH_PRICE2 = {"stop-loss-limit", "take-profit-limit"}
_TRAILING = {"trailing-stop", "trailing-stop-limit"}
_PRICED = _LIMIT_PRICED | _TRIGGER_PRICED | _TRAILING
OFLAGS = ("post", "fcib", "fciq", "nompp", "viqc")  # the order Kraken's docs list them in
TIME_IN_FORCE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.GTD: "GTD"}

_PRICE_TEXT = re.compile(r"^([+\-#]?)(\d+(?:\.\d+)?)(%?)$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_FREE_TEXT = re.compile(r"^[\x21-\x7e]{1,18}$")


@dataclass(frozen=True, slots=True)
class AddOrderRequest:
    fields: list[tuple[str, str]]  # in sending order, without nonce and deadline
    pair: str
    uses_userref: bool  # a conditional close: Kraken refuses cl_ord_id with it


def deny(message: str) -> InvalidOrder:
    return InvalidOrder(f"{message}; nothing sent", from_venue=False)


def check_client_order_id(client_order_id: str) -> None:
    if not (_UUID.match(client_order_id) or _HEX32.match(client_order_id)
            or _FREE_TEXT.match(client_order_id)):
        raise deny(f"client_order_id {client_order_id!r} is not a UUID, 32 hex digits or "
                   "at most 18 printable ASCII characters (Kraken's cl_ord_id forms)")


def userref_for(client_order_id: str) -> int:
    """A deterministic positive int32 for orders that cannot carry cl_ord_id."""
    try:
        number = uuid.UUID(client_order_id).int
    except ValueError:
        number = int.from_bytes(hashlib.sha256(client_order_id.encode()).digest()[:8], "big")
    return number % (2**31 - 1) + 1


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _written_decimals(text: str) -> int:
    """``_decimals`` of the number ``format_decimal`` wrote as ``text`` (plain notation, no
    trailing zeros): the digits after its point. A price or volume is formatted to be sent
    anyway, so its decimals are read off that text instead of normalizing the Decimal again
    (two of them an order: 1.2 µs)."""
    point = text.find(".")
    return 0 if point < 0 else len(text) - point - 1


def _to_decimal(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise deny(f"{field}: {value!r} is not a number") from None
    if not result.is_finite():
        raise deny(f"{field}: {value!r} is not a finite number")
    return result


class _Pair:
    """The precision rules of one instrument."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        venue = instrument.venue
        self.name = str(venue.get("altname", instrument.symbol))
        self.pair_decimals = int(venue.get("pair_decimals", 8))
        self.lot_decimals = int(venue.get("lot_decimals", 8))
        self.cost_decimals = int(venue.get("cost_decimals", self.pair_decimals))

    @staticmethod
    def of(instrument: Instrument) -> _Pair:
        """The rules of ``instrument``, read from its venue data once for each instrument
        object (a broker hands the same one with every order): 0.5 µs an order."""
        pair = _PAIRS.get(id(instrument))
        if pair is None or pair.instrument is not instrument:
            if len(_PAIRS) >= _PAIRS_KEPT:
                _PAIRS.clear()
            pair = _PAIRS[id(instrument)] = _Pair(instrument)
        return pair

    def price(self, value: Decimal, field: str) -> str:
        tick = self.instrument.tick_size
        text = format_decimal(value)
        if value <= 0:
            raise deny(f"{field} {text} must be positive")
        if _written_decimals(text) > self.pair_decimals or (tick > 0 and value % tick != 0):
            raise deny(f"{field} {text} is not a multiple of {self.name}'s "
                       f"tick size {format_decimal(tick)}")
        return text

    def offset(self, value: Decimal, field: str) -> str:
        if value < 0:
            raise deny(f"{field} {format_decimal(value)} must not be negative")
        if _decimals(value) > self.pair_decimals:
            raise deny(f"{field} {format_decimal(value)} has more than {self.name}'s "
                       f"{self.pair_decimals} price decimals")
        return format_decimal(value)

    def price_text(self, value: Any, field: str) -> str:
        """A price from extras: absolute, or Kraken's relative +n, -n, #n, n% forms."""
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return self.price(Decimal(value), field)
        text = str(value).strip()
        match = _PRICE_TEXT.match(text)
        if match is None:
            raise deny(f"{field} {text!r} is not a price: use 123.4, +5, -5, #5 or +1.5%")
        sign, number, percent = match.groups()
        amount = Decimal(number)
        if not sign and not percent:
            return self.price(amount, field)
        body = format_decimal(amount) if percent else self.offset(amount, field)
        return f"{sign}{body}{percent}"

    def volume(self, value: Decimal, field: str = "quantity") -> str:
        text = format_decimal(value)
        if _written_decimals(text) > self.lot_decimals:
            raise deny(f"{field} {text} has more than {self.name}'s "
                       f"{self.lot_decimals} volume decimals")
        return text


# id(instrument) -> its _Pair. Each _Pair holds its instrument, so no other object can take
# that id while the entry is kept.
_PAIRS: dict[int, _Pair] = {}
_PAIRS_KEPT = 1024  # instruments of every broker in a process; cleared when full


def build_add_order(
    order: Order, *, margin: bool, validate_only: bool
) -> AddOrderRequest:
    """The AddOrder fields for ``order``; raises InvalidOrder (nothing sent) when Kraken
    could not take it."""
    extras = order.extras  # only read here: no copy (most orders have none)
    unknown = sorted(extras.keys() - EXTRAS.keys()) if extras else None
    if unknown:
        raise deny(f"Order.extras key(s) {', '.join(map(repr, unknown))} unknown to kraken-spot "
                   f"(allowed: {', '.join(sorted(EXTRAS))})")
    check_client_order_id(order.client_order_id)
    pair = _Pair.of(order.instrument)
    ordertype = _ordertype(order, extras)
    flags = _oflags(order, extras, ordertype, margin)

    fields: list[tuple[str, str]] = [
        ("ordertype", ordertype),
        ("type", order.side.value),
        ("volume", _volume(order, extras, pair, ordertype, flags)),
        ("pair", order.instrument.symbol),
    ]
    price, price2 = _prices(order, extras, pair, ordertype)
    if price is not None:
        fields.append(("price", price))
    if price2 is not None:
        fields.append(("price2", price2))
    if ordertype == "iceberg":
        fields.append(("displayvol", _displayvol(order, extras, pair)))
    elif "displayvol" in extras:
        raise deny("displayvol is for iceberg orders only")
    _check_cost(order, pair, ordertype, flags, extras)
    if order.leverage is not None:
        fields.append(("leverage", _leverage(order, margin)))
    elif ordertype == "settle-position":
        raise deny("settle-position closes a margin position: give the position's leverage")
    if order.reduce_only:
        if margin:
            fields.append(("reduce_only", "true"))
        elif order.side is Side.BUY:
            raise deny("reduce-only buy on a cash account: there is no short to reduce")
        # a cash sell cannot open a short, so it is reduce-only by construction
    if flags:
        fields.append(("oflags", ",".join(flags)))
    fields.extend(_time_in_force(order))
    for key in ("starttm", "trigger", "stptype"):
        if key in extras:
            fields.append((key, _simple_extra(key, extras[key])))
    close = _conditional_close(order, extras, pair)
    fields.extend(close)
    if close:
        fields.append(("userref", str(userref_for(order.client_order_id))))
    else:
        fields.append(("cl_ord_id", order.client_order_id))
    if validate_only:
        fields.append(("validate", "true"))
    return AddOrderRequest(fields, order.instrument.symbol, uses_userref=bool(close))


def _ordertype(order: Order, extras: Mapping[str, Any]) -> str:
    if "ordertype" in extras:
        ordertype = str(extras["ordertype"]).strip().lower()
        if ordertype not in KRAKEN_ORDER_TYPES:
            raise deny(f"extras ordertype {ordertype!r} is not a Kraken order type "
                       f"({', '.join(KRAKEN_ORDER_TYPES)})")
        return ordertype
    try:
        return CORE_TO_KRAKEN[order.order_type]
    except KeyError:
        raise deny(f"order type {order.order_type.value} has no Kraken spot equivalent") from None


def _oflags(order: Order, extras: Mapping[str, Any], ordertype: str, margin: bool) -> list[str]:
    if "oflags" not in extras and not order.post_only:
        return []  # the usual order: no flag to check
    raw = extras.get("oflags", ())
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    requested = {str(flag).strip().lower() for flag in raw}
    unknown = sorted(requested - set(OFLAGS))
    if unknown:
        raise deny(f"oflags {', '.join(unknown)} unknown (Kraken: {', '.join(OFLAGS)})")
    if order.post_only:
        requested.add("post")
    if "post" in requested and ordertype not in _LIMIT_PRICED:
        raise deny(f"post-only is for limit orders; this is {ordertype}")
    if {"fcib", "fciq"} <= requested:
        raise deny("oflags fcib and fciq exclude each other")
    if "viqc" in requested and (
        ordertype != "market" or order.side is not Side.BUY or order.leverage is not None
    ):
        raise deny("oflags viqc (volume in quote currency) is for buy market orders without "
                   "leverage only")
    return [flag for flag in OFLAGS if flag in requested]


def _volume(order: Order, extras: Mapping[str, Any], pair: _Pair, ordertype: str,
            flags: list[str]) -> str:
    if "viqc" in flags:
        if "quote_volume" not in extras:
            raise deny("oflags viqc needs extras quote_volume (the quote amount to spend)")
        amount = _to_decimal(extras["quote_volume"], "quote_volume")
        if amount <= 0 or _decimals(amount) > pair.cost_decimals:
            raise deny(f"quote_volume {format_decimal(amount)} must be positive with at most "
                       f"{pair.cost_decimals} decimals")
        return format_decimal(amount)
    if "quote_volume" in extras:
        raise deny("quote_volume is only read with oflags viqc")
    quantity = order.quantity
    if quantity == 0 and ordertype == "settle-position":
        return "0"  # Kraken settles the whole position
    if quantity <= 0:
        raise deny(f"quantity {format_decimal(quantity)} must be positive")
    text = pair.volume(quantity)
    minimum = order.instrument.min_quantity
    if minimum and quantity < minimum:
        raise deny(f"quantity {text} is below {pair.name}'s minimum order "
                   f"{format_decimal(minimum)} (ordermin)")
    return text


def _trail(amount: Decimal | None, percent: Decimal | None, pair: _Pair, field: str) -> str:
    # Kraken trailing prices are always relative with '+': the direction follows the side.
    if percent is not None:
        if percent <= 0:
            raise deny(f"{field} trail percent must be positive")
        return f"+{format_decimal(percent)}%"
    if amount is not None:
        if amount <= 0:
            raise deny(f"{field} trail amount must be positive")
        return f"+{pair.offset(amount, field)}"
    raise deny(f"{field}: a trailing stop needs trail_amount or trail_percent")


def _prices(order: Order, extras: Mapping[str, Any], pair: _Pair,
            ordertype: str) -> tuple[str | None, str | None]:
    price: str | None = None
    price2: str | None = None
    if ordertype in _LIMIT_PRICED:
        if order.limit_price is not None:
            price = pair.price(order.limit_price, "limit_price")
    elif ordertype in _TRIGGER_PRICED:
        if order.stop_price is not None:
            price = pair.price(order.stop_price, "stop_price")
        if ordertype in _WITH_PRICE2 and order.limit_price is not None:
            price2 = pair.price(order.limit_price, "limit_price")
    elif ordertype in _TRAILING:
        if order.trail_amount is not None or order.trail_percent is not None:
            price = _trail(order.trail_amount, order.trail_percent, pair, "price")
    if "price" in extras:
        price = pair.price_text(extras["price"], "extras price")
    if "price2" in extras:
        price2 = pair.price_text(extras["price2"], "extras price2")

    needs_price = ordertype in _PRICED
    if needs_price and price is None:
        field = "limit_price" if ordertype in _LIMIT_PRICED else (
            "trail_amount or trail_percent" if ordertype in _TRAILING else "stop_price")
        raise deny(f"{ordertype} order needs {field}")
    needs_price2 = ordertype in _WITH_PRICE2 or ordertype == "trailing-stop-limit"
    if needs_price2 and price2 is None:
        field = "extras price2 (offset from the trigger, e.g. +0)" if ordertype in _TRAILING \
            else "limit_price"
        raise deny(f"{ordertype} order needs {field}")
    if not needs_price and price is not None:
        raise deny(f"{ordertype} order takes no price")
    if not needs_price2 and price2 is not None:
        raise deny(f"{ordertype} order takes no price2")
    if ordertype in _TRAILING and not price.startswith("+"):  # type: ignore[union-attr]
        raise deny(f"{ordertype} price must be relative with '+' (e.g. +50 or +1.5%)")
    if ordertype == "trailing-stop-limit" and price2[:1] not in "+-":  # type: ignore[index]
        raise deny("trailing-stop-limit price2 must be an offset with + or - (e.g. +0)")
    return price, price2


def _displayvol(order: Order, extras: Mapping[str, Any], pair: _Pair) -> str:
    if "displayvol" not in extras:
        raise deny("iceberg order needs extras displayvol (the visible quantity)")
    display = _to_decimal(extras["displayvol"], "displayvol")
    text = pair.volume(display, "displayvol")
    if display <= 0 or display > order.quantity or display * 15 < order.quantity:
        raise deny(f"displayvol {text} must be between 1/15 of the quantity and the quantity")
    return text


def _check_cost(order: Order, pair: _Pair, ordertype: str, flags: list[str],
                extras: Mapping[str, Any]) -> None:
    minimum = order.instrument.min_notional
    if not minimum or "viqc" in flags or ordertype == "settle-position":
        return
    price = None
    if ordertype in _LIMIT_PRICED:
        price = order.limit_price
    elif ordertype in _TRIGGER_PRICED:
        price = order.stop_price
    if price is None or "price" in extras:
        price = order.reference_price
    if price is not None and order.quantity * price < minimum:
        raise deny(f"order value {format_decimal(order.quantity * price)} is below "
                   f"{pair.name}'s minimum cost {format_decimal(minimum)} (costmin)")


def _leverage(order: Order, margin: bool) -> str:
    assert order.leverage is not None
    if not margin:
        raise deny("leverage on an account without margin (set margin = true in its config)")
    if order.leverage != order.leverage.to_integral_value():
        raise deny(f"leverage {format_decimal(order.leverage)} must be a whole number")
    allowed_key = "leverage_buy" if order.side is Side.BUY else "leverage_sell"
    allowed = tuple(order.instrument.venue.get(allowed_key) or ())
    level = int(order.leverage)
    if level not in allowed:
        name = order.instrument.venue.get("altname", order.instrument.symbol)
        choices = ", ".join(map(str, allowed)) or "none: no margin on this pair"
        raise deny(f"leverage {level} is not offered for {order.side.value} on {name} "
                   f"({choices})")
    return str(level)


def _time_in_force(order: Order) -> list[tuple[str, str]]:
    tif = order.time_in_force
    if tif is None:
        if order.expire_time is not None:
            raise deny("expire_time needs time_in_force GTD")
        return []
    if tif not in TIME_IN_FORCE:
        raise deny(f"time_in_force {tif.value.upper()} is not offered by Kraken spot AddOrder "
                   "(GTC, IOC, GTD)")
    if tif is TimeInForce.GTD:
        if order.expire_time is None:
            raise deny("time_in_force GTD needs expire_time")
        return [("timeinforce", "GTD"), ("expiretm", str(int(order.expire_time)))]
    if order.expire_time is not None:
        raise deny("expire_time needs time_in_force GTD")
    return [("timeinforce", TIME_IN_FORCE[tif])]


_SIMPLE_EXTRAS = {
    "trigger": re.compile(r"^(last|index)$"),
    "stptype": re.compile(r"^(cancel-newest|cancel-oldest|cancel-both)$"),
    "starttm": re.compile(r"^(0|\+\d{1,9}|\d{9,11})$"),
}


def _simple_extra(key: str, value: Any) -> str:
    text = str(value).strip()
    if not _SIMPLE_EXTRAS[key].match(text):
        raise deny(f"extras {key} {text!r} is not valid")
    return text


def _conditional_close(order: Order, extras: Mapping[str, Any],
                       pair: _Pair) -> list[tuple[str, str]]:
    if order.take_profit is not None and order.stop_loss is not None:
        raise deny("Kraken spot attaches one conditional close per order: give take_profit "
                   "or stop_loss, not both (send the other as its own order)")
    bracket = order.take_profit or order.stop_loss
    if bracket is None:
        if "close_price" in extras or "close_price2" in extras:
            raise deny("close_price/close_price2 need a take_profit or stop_loss")
        return []
    return _close_fields(bracket, extras, pair)


def _close_fields(bracket: Bracket, extras: Mapping[str, Any],
                  pair: _Pair) -> list[tuple[str, str]]:
    try:
        ordertype = BRACKET_TO_KRAKEN[bracket.order_type]
    except KeyError:
        raise deny(f"conditional close of type {bracket.order_type.value} is not offered by "
                   "Kraken spot") from None
    price: str | None = None
    price2: str | None = None
    if ordertype == "limit":
        value = bracket.limit_price if bracket.limit_price is not None else bracket.trigger_price
        if value is not None:
            price = pair.price(value, "bracket price")
    elif ordertype == "trailing-stop":
        if bracket.trail_amount is not None or bracket.trail_percent is not None:
            price = _trail(bracket.trail_amount, bracket.trail_percent, pair, "bracket")
    else:
        if bracket.trigger_price is not None:
            price = pair.price(bracket.trigger_price, "bracket trigger_price")
        if ordertype in _WITH_PRICE2 and bracket.limit_price is not None:
            price2 = pair.price(bracket.limit_price, "bracket limit_price")
    if "close_price" in extras:
        price = pair.price_text(extras["close_price"], "extras close_price")
    if "close_price2" in extras:
        price2 = pair.price_text(extras["close_price2"], "extras close_price2")
    if price is None:
        raise deny(f"conditional close {ordertype} needs a price")
    if ordertype in _WITH_PRICE2 and price2 is None:
        raise deny(f"conditional close {ordertype} needs a limit price")
    if ordertype not in _WITH_PRICE2 and price2 is not None:
        raise deny(f"conditional close {ordertype} takes no price2")
    fields = [("close[ordertype]", ordertype), ("close[price]", price)]
    if price2 is not None:
        fields.append(("close[price2]", price2))
    return fields
