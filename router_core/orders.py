"""From a planned leg to the Order a broker sends: ids, order types, prices, brackets.

Pure: reads the alert, the instrument and the broker's capabilities; no I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from .errors import BrokerError
from .models import Action, Bracket, Instrument, LegPurpose, Order, OrderType, Side
from .planning import LegSpec
from .sizing import PriceTarget, SizingDenied, bracket_prices, round_price

if TYPE_CHECKING:
    from .alert import Alert, StopLoss
    from .brokers import Broker

CLIENT_ID_NAMESPACE = uuid.UUID("6f6d1f57-3b51-4c47-9a7e-2f1c0b1e8a11")
# The namespace hashed once; each id hashes its own name on a copy of it.
_NAMESPACE_SHA1 = hashlib.sha1(CLIENT_ID_NAMESPACE.bytes, usedforsecurity=False)


def client_order_id(intent_key: str, account: str, purpose: LegPurpose) -> str:
    """Deterministic: the same intent, account and leg give the same id after any restart.

    A UUID, which every venue accepts (Kraken spot ``cl_ord_id`` takes a UUID or 18 characters
    of free text; Kraken Futures ``cliOrdId`` up to 100 characters)."""
    return uuid5_text(f"{intent_key}\x1f{account}\x1f{purpose.value}")


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(CLIENT_ID_NAMESPACE, name))``, the very same text (a test compares
    them), built without a ``uuid.UUID`` object: RFC 4122's steps for version 5 (the SHA-1 of
    namespace and name, its first 16 bytes with the version and variant bits set). Every leg
    takes an id, and ``uuid.UUID``'s checks and formatting cost twice the hash."""
    digest = _NAMESPACE_SHA1.copy()
    digest.update(name.encode())
    return uuid_text(digest.digest()[:16], 5)


def uuid_text(raw: bytes, version: int) -> str:
    """The text of the RFC 4122 UUID of ``version`` made from 16 bytes (``raw``): its version
    and variant bits set, as ``str(uuid.UUID(bytes=raw, version=version))`` writes it."""
    data = bytearray(raw)
    data[6] = data[6] & 0x0F | version << 4
    data[8] = data[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = data.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def build_order(
    spec: LegSpec,
    alert: Alert,
    account: str,
    broker: Broker,
    instrument: Instrument,
    intent_key: str,
    price: Decimal | None,
) -> Order:
    """The Order for one planned leg: type, prices rounded to the tick, brackets attached.

    Every leg, closes included, has the alert's order type and prices: a limit reversal
    closes with a limit order (the open waits for that close to fill, see ``sequencing``).
    Raises SizingDenied or BrokerError (never sent) when the alert asks for what this venue or
    this leg cannot do; the router turns those into denied legs.
    """
    assert spec.side is not None
    caps = broker.capabilities_for(instrument)
    order_type = alert.order_type
    if type(order_type) is not OrderType:  # the Enum call costs ~0.25 µs even for a member
        order_type = OrderType(order_type)
    if order_type not in caps.order_types:
        raise BrokerError(f"{broker.name} does not support {order_type.value} orders")
    limit_price = stop_price = None
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        raw = alert.limit_price or (alert.price if order_type is OrderType.LIMIT else None)
        if raw is None:
            raise SizingDenied(f"a {order_type.value} order needs limitPrice")
        limit_price = round_price(raw, instrument, spec.side, purpose="limit")
    if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        if alert.stop_price is None:
            raise SizingDenied(f"a {order_type.value} order needs stopPrice")
        stop_price = round_price(alert.stop_price, instrument, spec.side, purpose="stop")
    opening = spec.purpose in (LegPurpose.OPEN, LegPurpose.FLIP)
    if spec.leverage is not None and not caps.leverage:
        raise BrokerError(f"{broker.name} cannot trade with leverage on this account")
    take_profit, stop_loss = (None, None)
    if opening and (alert.take_profit or alert.stop_loss):
        take_profit, stop_loss = brackets_for(
            alert, spec.side, instrument, limit_price or price, broker
        )
        if spec.opening is not None:  # a flip: the brackets guard the new position only
            take_profit = take_profit and replace(take_profit, quantity=spec.opening)
            stop_loss = stop_loss and replace(stop_loss, quantity=spec.opening)
    return Order(
        client_order_id=client_order_id(intent_key, account, spec.purpose),
        account=account,
        instrument=instrument,
        side=spec.side,
        quantity=spec.quantity,
        order_type=order_type,
        purpose=spec.purpose,
        limit_price=limit_price,
        stop_price=stop_price,
        trail_amount=alert.trail_amount if order_type is OrderType.TRAILING_STOP else None,
        trail_percent=alert.trail_percent if order_type is OrderType.TRAILING_STOP else None,
        time_in_force=alert.time_in_force,
        expire_time=int(alert.expire_time.timestamp()) if alert.expire_time else None,
        reduce_only=spec.reduce_only and caps.reduce_only,
        post_only=alert.post_only and opening,
        leverage=spec.leverage,
        take_profit=take_profit,
        stop_loss=stop_loss,
        reference_price=price,
        extras=alert.extras,
    )


def brackets_for(
    alert: Alert, side: Side, instrument: Instrument, entry: Decimal | None, broker: Broker
) -> tuple[Bracket | None, Bracket | None]:
    caps = broker.capabilities_for(instrument)
    if not (caps.attached_brackets or caps.separate_brackets):
        raise BrokerError(f"{broker.name} cannot attach a take profit or stop loss to an order")
    if entry is None:
        raise SizingDenied("take profit and stop loss need an entry price: give the alert a price")
    tp_target = sl_target = None
    if alert.take_profit is not None:
        tp = alert.take_profit
        tp_target = PriceTarget(price=tp.limit_price, amount=tp.amount, percent=tp.percent)
    sl: StopLoss | None = alert.stop_loss
    if sl is not None and sl.type.value != "trailing_stop":
        sl_target = PriceTarget(price=sl.stop_price, amount=sl.amount, percent=sl.percent)
    prices = bracket_prices(entry, side, instrument, take_profit=tp_target, stop_loss=sl_target)
    take_profit = None
    if prices.take_profit is not None:
        take_profit = Bracket(OrderType.LIMIT, limit_price=prices.take_profit)
    stop_loss = None
    if sl is not None:
        kind = OrderType(sl.type.value)
        limit = None
        if kind is OrderType.STOP_LIMIT and sl.limit_price is not None:
            limit = round_price(sl.limit_price, instrument, side.opposite, purpose="limit")
        stop_loss = Bracket(
            kind,
            trigger_price=prices.stop_loss,
            limit_price=limit,
            trail_amount=sl.trail_amount,
            trail_percent=sl.trail_percent,
        )
    return take_profit, stop_loss


def stop_for_risk(alert: Alert, price: Decimal | None) -> Decimal | None:
    """The absolute stop price for risk sizing, from the stop loss however it is given."""
    sl = alert.stop_loss
    if sl is None:
        return alert.stop_price
    if sl.stop_price is not None:
        return sl.stop_price
    if price is None:
        return None
    direction = -1 if alert.action is Action.BUY or alert.sentiment in ("long", "bullish") else 1
    if sl.amount is not None:
        return price + direction * sl.amount
    if sl.percent is not None:
        return price + direction * price * sl.percent / 100
    return None


def draft_order(
    spec: LegSpec, account: str, instrument: Instrument, intent_key: str
) -> Order | None:
    if spec.side is None:
        return None
    return Order(
        client_order_id=client_order_id(intent_key, account, spec.purpose),
        account=account,
        instrument=instrument,
        side=spec.side,
        quantity=spec.quantity,
        purpose=spec.purpose,
    )
