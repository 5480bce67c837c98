"""Pre-trade risk checks: pure functions over a plan and a snapshot of the account.

They run after sizing and planning and before any leg is journaled for sending. A breach
denies the whole plan for that account; nothing is placed and the reason is reported. Missing,
stale or non-finite inputs fail closed: a limit that cannot be checked is a denial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .config import RiskLimits
from .models import LegPurpose, Order, OrderResult, Plan, Position, Side


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """What the checks need to know, gathered by the router before calling them."""

    position: Decimal  # signed, before the plan
    price: Decimal | None  # reference price for notional; None when unknown
    # Read from the journal only when a limit needs them (None otherwise): counting an
    # account's recent legs on every alert costs more than everything else the router does.
    orders_last_minute: int | None = None
    realised_pnl_today: Decimal | None = None  # negative is a loss


def any_limit(limits: RiskLimits) -> bool:
    """Whether any limit is set (any field not ``None``, a limit added later included);
    without one, ``check_plan`` passes every plan and needs no snapshot."""
    return any(getattr(limits, name) is not None for name in type(limits).model_fields)


def check_plan(plan: Plan, limits: RiskLimits, snapshot: RiskSnapshot) -> str | None:
    """The first breached limit as a sentence, or ``None`` when the plan passes."""
    sending = [
        leg.order for leg in plan.legs if leg.order is not None and leg.denied_reason is None
    ]
    if not sending:
        return None
    realised = snapshot.realised_pnl_today
    if limits.daily_loss_limit is not None and realised is None:
        return "daily loss limit is set but today's realised PnL is unknown (failing closed)"
    if (
        limits.daily_loss_limit is not None
        and realised is not None
        and -realised >= limits.daily_loss_limit
    ):
        return (
            f"daily loss limit reached: realised {snapshot.realised_pnl_today} today, "
            f"limit {limits.daily_loss_limit}"
        )
    if limits.max_orders_per_minute is not None:
        if snapshot.orders_last_minute is None:
            return "max orders per minute is set but the recent count is unknown (failing closed)"
        count = snapshot.orders_last_minute + len(sending)
        if count > limits.max_orders_per_minute:
            return (
                f"max orders per minute: {snapshot.orders_last_minute} in the last minute plus "
                f"{len(sending)} would exceed {limits.max_orders_per_minute}"
            )
    # Limits bound what opens or grows exposure; a close is bounded by the position it
    # closes (the planner never closes more than is held), so it is never refused here.
    position = snapshot.position
    for order in sending:
        if order.purpose is LegPurpose.CANCEL:
            continue
        after = position + (order.quantity if order.side is Side.BUY else -order.quantity)
        opening = _opening_part(position, after)
        position = after
        if opening <= 0:
            continue
        if limits.max_order_notional is not None:
            if snapshot.price is None or not snapshot.price.is_finite():
                return ("max order notional is set but no price is known for this alert "
                        "(failing closed)")
            notional = _notional(
                opening,
                order.limit_price or snapshot.price,
                order.instrument.contract_size,
                order.instrument.inverse,
            )
            if notional > limits.max_order_notional:
                return (
                    f"order notional {notional} for {opening} {order.instrument.symbol} "
                    f"exceeds max_order_notional {limits.max_order_notional}"
                )
        if limits.max_position is not None and abs(after) > limits.max_position:
            return (
                f"position would reach {after} {plan.symbol}, beyond max_position "
                f"{limits.max_position}"
            )
    return None


def _opening_part(before: Decimal, after: Decimal) -> Decimal:
    """How much of a move from ``before`` to ``after`` opens or grows exposure."""
    if before == 0 or (before > 0) != (after > 0):
        return abs(after)  # from flat, or through zero: all of the new side is opening
    return max(abs(after) - abs(before), Decimal(0))


@dataclass(frozen=True, slots=True)
class LagRefusal:
    """Why an alert is too old to trade (or cannot tell its age): the field and the reason."""

    field: str
    reason: str


def check_lag(
    timenow: datetime | None,
    bar_time: datetime | None,
    now: datetime,
    max_lag_seconds: float | None,
) -> LagRefusal | None:
    """At acceptance: refuse an alert that arrives more than ``max_lag_seconds`` after it
    fired, and one that does not say when it fired while the limit is set (it cannot be
    checked, so it fails closed). ``timenow`` (TradingView's ``{{timenow}}``, the firing
    time) is used when present, else ``time`` (``{{time}}``, when the bar opened)."""
    if max_lag_seconds is None:
        return None
    limit = f"[server] max_lag_seconds ({_duration(max_lag_seconds)})"
    if timenow is None and bar_time is None:
        return LagRefusal(
            "timenow",
            f"required while {limit} is set: add \"timenow\": \"{{{{timenow}}}}\" to the "
            "alert message (TradingView fills it in with the time the alert fired); nothing "
            "was placed",
        )
    if timenow is not None:
        lag = (now - timenow).total_seconds()
        if lag <= max_lag_seconds:
            return None
        return LagRefusal(
            "timenow",
            f"the alert fired {_duration(lag)} before it arrived (timenow {_iso(timenow)}), "
            f"later than {limit}; nothing was placed. TradingView may queue alerts when busy; "
            "if this is frequent, check this host's clock (NTP) or raise max_lag_seconds",
        )
    assert bar_time is not None
    lag = (now - bar_time).total_seconds()
    if lag <= max_lag_seconds:
        return None
    return LagRefusal(
        "time",
        f"the bar time is {_duration(lag)} old (time {_iso(bar_time)}), older than {limit}; "
        "nothing was placed. {{time}} is when the bar opened, not when the alert fired: add "
        "\"timenow\": \"{{timenow}}\" to the alert message (TradingView fills it in)",
    )


def check_recovered_lag(
    timenow: datetime | None, received_at: datetime, now: datetime,
    max_lag_seconds: float | None,
) -> str | None:
    """At execution, for an alert accepted before a restart and executed only now: refuse it
    when it has become older than the limit, counted from its ``timenow``, else from when it
    arrived (the journal knows; ``time``, the bar's opening, says less)."""
    if max_lag_seconds is None:
        return None
    sent_at, label = (timenow, "timenow") if timenow is not None else (received_at, "received")
    lag = (now - sent_at).total_seconds()
    if lag <= max_lag_seconds:
        return None
    return (
        f"accepted but not executed before the router stopped; it is now {_duration(lag)} old "
        f"({label} {_iso(sent_at)}), older than [server] max_lag_seconds "
        f"({_duration(max_lag_seconds)}), so it is refused rather than traded late; nothing "
        "was placed"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _notional(
    quantity: Decimal, price: Decimal | None, contract_size: Decimal, inverse: bool
) -> Decimal:
    if inverse:  # quantity already counts quote-currency contracts
        return quantity * contract_size
    return quantity * (price or Decimal(0)) * contract_size


def realised_pnl(before: Position | None, order: Order, result: OrderResult) -> Decimal | None:
    """Profit (negative: loss) realised by a closing fill, for the daily loss limit.

    ``None`` when it cannot be known: no fill, or no average entry price from the venue.
    Linear instruments count in the quote currency; inverse contracts in the base coin.
    """
    if before is None or before.quantity == 0 or before.average_price is None:
        return None
    fill, filled = result.average_price, result.filled_quantity
    if fill is None or not filled or fill <= 0:
        return None
    closing = (before.quantity > 0) == (order.side is Side.SELL)
    if not closing:
        return None
    closed = min(filled, abs(before.quantity))
    direction = 1 if before.quantity > 0 else -1
    entry, size = before.average_price, order.instrument.contract_size
    if order.instrument.inverse:
        return closed * size * (1 / entry - 1 / fill) * direction
    return closed * (fill - entry) * direction * size
