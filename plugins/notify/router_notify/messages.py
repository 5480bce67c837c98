"""Which execution reports become a notification, and what it says. Pure: no I/O.

A message is built from the ``ExecutionReport`` only: account, symbol, side, quantity,
outcome and the reason the venue or the router gave. The report never carries a secret (the
core keeps them out of it), and nothing else goes into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from router_core import ExecutionReport, Fill, LegReport, OrderStatus, format_decimal

from .settings import Level

FAILED = frozenset({OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.UNKNOWN})
FILLED = frozenset({OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED})
MAX_LEGS_SHOWN = 20  # a fan-out to many accounts still fits a chat message


class Kind(StrEnum):
    """How a notifier colours the message (apprise's notify types)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    kind: Kind = Kind.INFO


def failed(report: ExecutionReport) -> bool:
    """The alert did not reach its intent: refused as a whole, or a leg denied, rejected or
    of unknown outcome."""
    return report.refused is not None or any(leg.result.status in FAILED for leg in report.legs)


def filled(report: ExecutionReport) -> bool:
    return any(leg.result.status in FILLED for leg in report.legs)


def wanted(report: ExecutionReport, level: Level) -> bool:
    """``failures``: only failed alerts; ``fills``: those and every alert with a fill;
    ``all``: every report."""
    if level == "all":
        return True
    return failed(report) or (level == "fills" and filled(report))


def render(report: ExecutionReport) -> Message:
    """One message for one alert: a title saying what happened, one line per leg."""
    short_id = report.alert_id[:8]
    if report.refused is not None:
        return Message(f"alert-router: alert {short_id} refused",
                       f"refused: {report.refused}", Kind.FAILURE)
    bad = [leg for leg in report.legs if leg.result.status in FAILED]
    accounts = ", ".join(dict.fromkeys(leg.account for leg in (bad or report.legs)))
    symbols = ", ".join(dict.fromkeys(leg.symbol for leg in (bad or report.legs) if leg.symbol))
    where = " ".join(part for part in (accounts, symbols) if part)
    if bad:
        outcomes = ", ".join(dict.fromkeys(leg.result.status.value for leg in bad))
        title, kind = f"alert-router: {outcomes} on {where}", Kind.FAILURE
    elif filled(report):
        title, kind = f"alert-router: filled on {where}", Kind.SUCCESS
    elif report.legs:
        title, kind = f"alert-router: {where} ok", Kind.INFO
    else:
        title, kind = f"alert-router: alert {short_id}: nothing to do", Kind.INFO
    lines = [leg_line(leg) for leg in report.legs[:MAX_LEGS_SHOWN]]
    if len(report.legs) > MAX_LEGS_SHOWN:
        lines.append(f"... and {len(report.legs) - MAX_LEGS_SHOWN} more legs")
    lines.append(f"alert {report.alert_id}")
    return Message(title, "\n".join(lines), kind)


def leg_line(leg: LegReport) -> str:
    """``account symbol side quantity: outcome (reason)``, e.g.
    ``main BTC/USD buy 0.5 open: rejected (insufficient funds)``."""
    result = leg.result
    parts = [leg.account, leg.symbol or "?", leg.side.value if leg.side else "",
             _number(result.quantity), leg.purpose.value]
    head = " ".join(part for part in parts if part)
    outcome = result.status.value
    if result.status in FILLED and result.filled_quantity is not None:
        outcome += f" {_number(result.filled_quantity)}"
        if result.average_price is not None:
            outcome += f" @ {_number(result.average_price)}"
    if result.reason:
        outcome += f" ({result.reason})"
    return f"{head}: {outcome}"


def _number(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def wanted_fill(level: Level) -> bool:
    """A recorded fill is news at ``fills`` and ``all``; ``failures`` stays about failures."""
    return level in ("fills", "all")


def render_fill(fill: Fill, context: dict[str, Any]) -> Message:
    """One message for one recorded fill (``router_fill_recorded``): who, what, at what price
    and fee, and whether the order was the router's (with its leg and alert) or foreign."""
    where = f"{context['account']} {context['symbol']}"
    head = f"{where} {fill.side.value} {_number(fill.quantity)} @ {_number(fill.price)}"
    fee = f"fee {_number(fill.fee)}" + (f" {fill.fee_currency}" if fill.fee_currency else "")
    if context.get("client_order_id"):
        owner = f"router's order, leg {context.get('purpose') or '?'}"
        if context.get("alert_id"):
            owner += f" of alert {context['alert_id']}"
    else:
        owner = "foreign order (not placed by this router)"
    lines = [head, fee, owner, f"trade {fill.trade_id}"]
    return Message(f"alert-router: fill on {where}", "\n".join(lines), Kind.SUCCESS)
