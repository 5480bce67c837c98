"""Frozen value types that travel along the data path.

Plain dataclasses, not pydantic models: they are built once per alert and per leg on the hot
path, and they never come from untrusted input (the ``Alert`` model in ``alert.py`` does).
Money, prices and quantities are ``Decimal`` everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .decimals import format_decimal

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"
    CANCEL = "cancel"
    ADD = "add"
    REVERSE = "reverse"


class Sentiment(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"
    BULLISH = "bullish"
    BEARISH = "bearish"

    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 flat."""
        if self in (Sentiment.LONG, Sentiment.BULLISH):
            return 1
        if self in (Sentiment.SHORT, Sentiment.BEARISH):
            return -1
        return 0


class QuantityType(StrEnum):
    FIXED_QUANTITY = "fixed_quantity"
    DOLLAR_AMOUNT = "dollar_amount"
    PERCENT_OF_EQUITY = "percent_of_equity"
    PERCENT_OF_POSITION = "percent_of_position"
    RISK_PERCENT = "risk_percent"
    RISK_DOLLAR_AMOUNT = "risk_dollar_amount"


class AccountKind(StrEnum):
    """How an account holds positions; decides where the planner reads the position from.

    ``net``: the venue keeps one signed position per instrument and any order may open,
    close or flip it (futures, perpetuals, CFD, the paper venue by default).
    ``margin``: the venue keeps signed positions that only orders carrying leverage open or
    close; an order without leverage trades the cash balance (Kraken spot margin).
    ``cash``: a wallet. There is no short; the position is what this router bought for the
    account and still holds, counted from its own fills (never the whole wallet).
    """

    NET = "net"
    MARGIN = "margin"
    CASH = "cash"


class InstrumentKind(StrEnum):
    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURE = "future"  # dated


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    TAKE_PROFIT = "take_profit"
    TAKE_PROFIT_LIMIT = "take_profit_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"
    DAY = "day"


class OrderStatus(StrEnum):
    """The outcome of one leg.

    ``denied`` was refused by the router or the plugin and never sent; ``rejected`` was refused
    by the venue; ``unknown`` was sent and nobody knows yet whether it exists.
    """

    DENIED = "denied"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.UNKNOWN

    @property
    def is_success(self) -> bool:
        return self in (OrderStatus.ACCEPTED, OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)


class LegPurpose(StrEnum):
    CLOSE = "close"  # reduce or flatten the current position
    OPEN = "open"  # open or add in the signal's direction
    FLIP = "flip"  # one order that closes and opens (venues with a net position)
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class CanonicalSymbol:
    """A venue-neutral reading of the alert's ticker; only a broker knows its venue's name.

    ``root`` is the futures root (``NQ``), ``expiry_year``/``expiry_month`` a dated contract,
    ``continuous`` the ``1`` in ``NQ1!``. ``base``/``quote`` are set for crypto pairs.
    """

    raw: str
    exchange: str | None
    kind: InstrumentKind
    base: str | None = None
    quote: str | None = None
    root: str | None = None
    expiry_year: int | None = None
    expiry_month: int | None = None
    continuous: int | None = None
    ticker: str = ""  # the ticker without exchange prefix and perpetual suffix


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradeable instrument of one venue, with Decimal steps; what ``resolve`` returns.

    Fields:

    - ``symbol``: the venue's own name, e.g. ``XXBTZUSD`` or ``PF_XBTUSD``.
    - ``base``, ``quote``: the assets, in the core's spelling (``BTC``, ``USD``).
    - ``kind``: spot, perpetual or dated future; the core refuses a ticker of another class.
    - ``tick_size``: the price step; every price sent is rounded to it.
    - ``lot_size``: the quantity step; every quantity sent is rounded down to it.
    - ``min_quantity``, ``min_notional``: the venue's minimums; smaller orders are refused
      before sending.
    - ``contract_size``: base units per contract of a linear contract (1 for spot).
    - ``inverse``: the quantity counts quote-currency contracts (e.g. USD), not the base.
    - ``expiry``: the last trading day of a dated future.
    - ``status``, ``tradeable``: the venue's word for its state, and whether it takes orders.
    - ``max_leverage``: the most leverage the venue allows, where it says.
    - ``venue``: anything else the broker keeps about it (not compared, never sent as is).
    """

    symbol: str
    base: str
    quote: str
    kind: InstrumentKind
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)
    inverse: bool = False
    expiry: date | None = None
    status: str = "online"
    tradeable: bool = True
    max_leverage: Decimal | None = None
    venue: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)


@dataclass(frozen=True, slots=True)
class Balance:
    """Account value in one currency; what ``balance`` returns.

    Fields:

    - ``currency``: the currency the amounts are in.
    - ``equity``: the account's value, open profit and loss included (percent-of-equity and
      risk sizing use it).
    - ``available``: what can be used for a new order now.
    """

    currency: str
    equity: Decimal
    available: Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """A net position; what ``position`` returns.

    Fields:

    - ``symbol``: the instrument's venue symbol.
    - ``quantity``: signed: positive long, negative short, zero flat. On a cash account, the
      free base balance (the core then counts what the router itself holds).
    - ``average_price``: the entry price, where the venue tells it (realised profit and loss).
    - ``leverage``: the leverage the position was opened with, where the venue tells it (a
      margin position is closed by an order carrying the same leverage).
    """

    symbol: str
    quantity: Decimal
    average_price: Decimal | None = None
    leverage: Decimal | None = None

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0


@dataclass(frozen=True, slots=True)
class Bracket:
    """A take-profit or stop-loss attached to an order, with absolute prices.

    Fields:

    - ``order_type``: ``take_profit``/``take_profit_limit`` (or ``limit``) for a take profit;
      ``stop``/``stop_limit``/``trailing_stop`` for a stop loss.
    - ``trigger_price``: the price that triggers it, rounded to the tick.
    - ``limit_price``: the limit of a limit take profit or a stop-limit.
    - ``trail_amount``, ``trail_percent``: the distance of a trailing stop (one of them).
    - ``quantity``: the size it protects when that is not the order's own (a flip order's
      brackets cover only the new position); ``None`` means the order's quantity.
    """

    order_type: OrderType
    trigger_price: Decimal | None = None
    limit_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """One order as the broker must send it: sized, rounded, with its client order id.

    Fields:

    - ``client_order_id``: deterministic from the alert's intent, the account and the leg:
      send it to the venue, and look the order up by it after a lost answer.
    - ``account``: the account's name in the config.
    - ``instrument``: what ``resolve`` returned.
    - ``side``: buy or sell.
    - ``quantity``: positive, already rounded down to the lot size.
    - ``order_type``: market, limit, stop, stop_limit, trailing_stop, take_profit or
      take_profit_limit; only the types the broker declares reach it.
    - ``purpose``: the leg: open, close, flip (one order that closes and opens), or a bracket.
    - ``limit_price``, ``stop_price``: rounded to the tick, set for the types that need them.
    - ``trail_amount``, ``trail_percent``: a trailing stop's distance.
    - ``time_in_force``, ``expire_time``: gtc, ioc, fok, gtd (with ``expire_time``, Unix
      seconds) or day; ``None`` is the venue's default.
    - ``reduce_only``: the order must never open or grow a position (closes carry it where
      the broker declares ``reduce_only``).
    - ``post_only``: maker only.
    - ``leverage``: for venues that take it per order (margin, futures).
    - ``take_profit``, ``stop_loss``: brackets to attach (``attached_brackets``) or to place
      as their own orders (``separate_brackets``).
    - ``reference_price``: the price the size was computed from (market orders, fakes).
    - ``extras``: the alert's venue-specific extras; refuse keys you do not know.
    """

    client_order_id: str
    account: str
    instrument: Instrument
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    purpose: LegPurpose = LegPurpose.OPEN
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    time_in_force: TimeInForce | None = None
    expire_time: int | None = None
    reduce_only: bool = False
    post_only: bool = False
    leverage: Decimal | None = None
    take_profit: Bracket | None = None
    stop_loss: Bracket | None = None
    reference_price: Decimal | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What became of one order; what ``submit_order``, ``find_order`` and ``cancel_order``
    return.

    Fields:

    - ``status``: accepted (resting or acknowledged), filled, partially_filled, canceled,
      rejected (refused by the venue), denied (refused before sending) or unknown.
    - ``client_order_id``: the order's client id (empty for an order that has none).
    - ``venue_order_id``: the venue's own id.
    - ``quantity``, ``price``: what the order asked for.
    - ``filled_quantity``, ``average_price``: what executed so far; the core counts fills
      from these, so report them whenever the venue tells them.
    - ``reason``: the venue's words, or what the broker did (never a secret).
    - ``venue_code``: the venue's error or status code.
    - ``parent_venue_order_id``: the venue id of the order that created this one, where the
      venue tells it (a conditional close placed when its primary order executed).
    """

    status: OrderStatus
    client_order_id: str
    venue_order_id: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    filled_quantity: Decimal | None = None
    average_price: Decimal | None = None
    reason: str | None = None
    venue_code: str | None = None
    parent_venue_order_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "quantity": _str(self.quantity),
            "price": _str(self.price),
            "filled_quantity": _str(self.filled_quantity),
            "average_price": _str(self.average_price),
            "reason": self.reason,
            "venue_code": self.venue_code,
            "parent_venue_order_id": self.parent_venue_order_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderResult:
        return cls(
            status=OrderStatus(data["status"]),
            client_order_id=data["client_order_id"],
            venue_order_id=data.get("venue_order_id"),
            quantity=_dec(data.get("quantity")),
            price=_dec(data.get("price")),
            filled_quantity=_dec(data.get("filled_quantity")),
            average_price=_dec(data.get("average_price")),
            reason=data.get("reason"),
            venue_code=data.get("venue_code"),
            parent_venue_order_id=data.get("parent_venue_order_id"),  # absent in older rows
        )


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one order, as a broker's fill stream (``Broker.stream_fills``) or its
    REST backfill (``Broker.fills_since``) reports it. The core journals it once per
    ``trade_id`` and account, updates the order's leg from it and wakes whoever waits for it.

    Fields:

    - ``trade_id``: the venue's id of this execution, unique per account; the same execution
      seen on the stream and through REST carries the same id (that is how it counts once).
    - ``venue_order_id``: the venue's id of the order that executed.
    - ``client_order_id``: the order's client id; empty for an order this router did not place.
    - ``symbol``: the instrument, as ``Instrument.symbol`` names it (the venue's own name).
    - ``side``: buy or sell.
    - ``quantity``, ``price``: the size and price of this execution (not the order's total).
    - ``fee``, ``fee_currency``: what the venue charged for it, in ``fee_currency``
      (``None``: the venue did not say).
    - ``time``: when it executed, Unix seconds (the venue's clock).
    - ``order_done``: the venue says the order has nothing left to execute (filled in full,
      or the rest cancelled); ``None`` when this message does not tell.
    """

    trade_id: str
    venue_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    time: float = 0.0
    order_done: bool | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    """One step of a plan for one account: an order, or a denial decided before sending.

    ``after_fill`` marks a leg that may be sent only once the leg before it has filled (the
    open of a reversal that one order cannot do)."""

    purpose: LegPurpose
    order: Order | None
    denied_reason: str | None = None
    after_fill: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered legs for one account and one symbol.

    ``target`` is the signed position the plan aims for when every leg fills;
    ``cancel_resting`` says the router's resting orders for the symbol are cancelled before
    the first leg (an exit or a reversal); ``position_source`` says where the position came
    from."""

    account: str
    broker: str
    symbol: str
    legs: tuple[Leg, ...]
    position_before: Position | None = None
    notes: tuple[str, ...] = ()
    target: Decimal | None = None
    cancel_resting: bool = False
    position_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plan as a dry run shows it: every leg with its size, type and prices."""
        before = self.position_before
        return {
            "account": self.account,
            "broker": self.broker,
            "symbol": self.symbol,
            "position_before": _plain(before.quantity) if before is not None else None,
            "position_source": self.position_source,
            "target": _plain(self.target),
            "cancels_resting_orders": self.cancel_resting,
            "legs": [_leg_dict(leg) for leg in self.legs],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class LegReport:
    account: str
    broker: str
    purpose: LegPurpose
    result: OrderResult
    side: Side | None = None
    symbol: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "account": self.account,
            "broker": self.broker,
            "leg": self.purpose.value,
            "side": self.side.value if self.side else None,
            "symbol": self.symbol,
        }
        data.update(self.result.to_dict())
        return data


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One account's position on the alert's symbol as the router knows it: before the legs,
    after them (before plus what is known to have filled) and what the plan aimed for.
    ``None`` where it was not read (a plain buy on a cash account needs no position)."""

    account: str
    symbol: str
    before: Decimal | None
    after: Decimal | None
    target: Decimal | None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "symbol": self.symbol,
            "before": _plain(self.before),
            "after": _plain(self.after),
            "target": _plain(self.target),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PositionReport:
        return cls(
            account=data["account"],
            symbol=data["symbol"],
            before=_dec(data.get("before")),
            after=_dec(data.get("after")),
            target=_dec(data.get("target")),
            source=data.get("source"),
        )


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """Everything that happened to one alert, per account and leg."""

    alert_id: str
    intent_key: str
    legs: tuple[LegReport, ...]
    notes: tuple[str, ...] = ()
    refused: str | None = None  # why the whole alert was refused before any leg
    positions: tuple[PositionReport, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the alert was not refused and no leg was denied, rejected or unknown:
        every part of the alert's intent was sent and taken (a refused part, a skipped
        dependent leg or a close that did not fill is a denied or unknown leg)."""
        return self.refused is None and all(leg.result.status not in _BAD for leg in self.legs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "intent_key": self.intent_key,
            "ok": self.ok,
            "refused": self.refused,
            "legs": [leg.to_dict() for leg in self.legs],
            "positions": [position.to_dict() for position in self.positions],
            "notes": list(self.notes),
        }


_BAD = frozenset({OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.UNKNOWN})


def _leg_dict(leg: Leg) -> dict[str, Any]:
    order = leg.order
    data: dict[str, Any] = {"leg": leg.purpose.value, "denied": leg.denied_reason}
    if order is not None:
        data.update({
            "side": order.side.value,
            "quantity": _str(order.quantity),
            "order_type": order.order_type.value,
            "limit_price": _str(order.limit_price),
            "stop_price": _str(order.stop_price),
            "reduce_only": order.reduce_only,
            "leverage": _str(order.leverage),
            "client_order_id": order.client_order_id,
            "after_fill_of_previous": leg.after_fill,
        })
    return data


def _plain(value: Decimal | None) -> str | None:
    """A position as people write it: ``0`` and ``-0.3``, never ``0.0`` or ``-3E-1``."""
    return None if value is None else format_decimal(value)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
