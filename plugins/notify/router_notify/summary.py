"""The daily summary: counts kept from the reports this process observed, and when it is due.

Pure: the service records every report here (whatever the level) and asks for the message at
the configured time of day. The counts live in memory, so a restart begins a new tally; the
journal (``alert-router journal``) stays the record of everything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from router_core import ExecutionReport

from .messages import Kind, Message, failed


@dataclass
class Tally:
    """What happened since the last summary."""

    alerts: int = 0
    failed_alerts: int = 0
    refused_alerts: int = 0
    legs: Counter[str] = field(default_factory=Counter)
    per_account: dict[str, Counter[str]] = field(default_factory=dict)
    fills: int = 0  # recorded fills (router_fill_recorded), the router's and foreign
    foreign_fills: int = 0

    def record(self, report: ExecutionReport) -> None:
        self.alerts += 1
        if report.refused is not None:
            self.refused_alerts += 1
        elif failed(report):
            self.failed_alerts += 1
        for leg in report.legs:
            outcome = leg.result.status.value
            self.legs[outcome] += 1
            self.per_account.setdefault(leg.account, Counter())[outcome] += 1

    def record_fill(self, foreign: bool) -> None:
        self.fills += 1
        self.foreign_fills += foreign

    def message(self, since: datetime, until: datetime, dropped: int = 0) -> Message:
        """The summary of ``since`` .. ``until`` (both aware datetimes, in the summary's zone)."""
        title = f"alert-router: summary {until:%Y-%m-%d %H:%M %Z}"
        lines = [f"since {since:%Y-%m-%d %H:%M %Z}: {self.alerts} alert(s), "
                 f"{self.failed_alerts} failed, {self.refused_alerts} refused"]
        if self.legs:
            lines.append("legs: " + _counts(self.legs))
            lines.extend(f"  {account}: {_counts(counts)}"
                         for account, counts in sorted(self.per_account.items()))
        else:
            lines.append("no orders")
        lines.append(f"fills: {self.fills} ({self.foreign_fills} foreign)")
        if dropped:
            lines.append(f"{dropped} notification(s) were dropped (queue full or notifier down)")
        kind = Kind.WARNING if self.failed_alerts or self.refused_alerts else Kind.INFO
        return Message(title, "\n".join(lines), kind)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(counter.items()))


def next_due(now: float, at: time, zone: ZoneInfo) -> float:
    """The first moment after ``now`` (epoch seconds) when the wall clock in ``zone`` reads
    ``at``. On a day the clocks skip that time (daylight saving), the moment after the gap."""
    local = datetime.fromtimestamp(now, zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate.timestamp() <= now:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.timestamp()
