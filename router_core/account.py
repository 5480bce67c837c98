"""One alert on one account: resolve the symbol, check its class, plan, send, report.

An exit or a reversal cancels the router's resting orders on the symbol before its legs go;
on a cash account the position is then read, and the plan made, again (see ``execute``).

Work for one (account, symbol) is serialised here, so two alerts cannot race each other into a
double position; different accounts and symbols run side by side. ``router`` fans an alert
out to its accounts and calls this once per account.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from .account_plan import AccountPlanner, class_mismatch
from .brokers import Broker
from .clock import Clock
from .config import AccountConfig
from .errors import AlertError, BrokerError
from .journal import Journal
from .models import (
    AccountKind,
    Action,
    Instrument,
    LegPurpose,
    LegReport,
    Order,
    OrderResult,
    OrderStatus,
    Plan,
    Position,
    PositionReport,
)
from .normalize import normalize
from .orders import client_order_id
from .risk import realised_pnl
from .sequencing import PlanSequencer, goes_ahead

if TYPE_CHECKING:
    from .alert import Alert
    from .metrics import RouterMetrics

log = logging.getLogger("router_core")

RE_PLANNED = ("the router's resting orders on the symbol are cancelled first; as they may "
              "hold some of its coins, the position is then read again and the legs planned "
              "from it")


@dataclass(frozen=True, slots=True)
class AccountResult:
    """One account's part of an alert's report."""

    reports: list[LegReport]
    notes: list[str]
    position: PositionReport | None


class AccountExecutor:
    def __init__(self, planner: AccountPlanner, sequencer: PlanSequencer, journal: Journal,
                 clock: Clock) -> None:
        self.planner = planner
        self.sequencer = sequencer
        self.journal = journal
        self.clock = clock
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.metrics: RouterMetrics | None = None  # Router.attach_metrics

    async def execute(
        self,
        alert: Alert,
        alert_id: str,
        intent_key: str,
        account: AccountConfig,
        multiplier: Decimal,
        broker: Broker,
    ) -> AccountResult:
        symbol = normalize(alert.ticker)
        try:
            instrument = await broker.resolve(symbol)
        except (BrokerError, AlertError) as exc:
            return refused(account, broker, intent_key, str(exc))
        except Exception as exc:  # one plugin's bug must not stop the other accounts
            reason = plugin_failure(broker, "resolving the symbol", exc)
            return refused(account, broker, intent_key, reason)
        mismatch = class_mismatch(symbol, instrument, account)
        if mismatch is not None:
            return refused(account, broker, intent_key, mismatch, instrument)
        key = (account.name, instrument.symbol)
        lock = self._locks.get(key) or self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if alert.action is Action.CANCEL:
                return await self.cancel(broker, account, instrument)
            planned = await self._plan(alert, intent_key, account, broker, instrument,
                                       multiplier)
            if isinstance(planned, AccountResult):
                return planned
            plan = planned
            cancelled: list[LegReport] = []
            if plan.cancel_resting and goes_ahead(plan):
                # The one cancel step of an exit or a reversal: here, not in the sequencer,
                # so the position can be read again after it. A cash account's position is
                # capped at the free balance, and the router's own resting sells (a stop, a
                # take profit, a conditional close the venue placed for its entry) hold some
                # of its coins out of it: planned from the position read before the cancels,
                # the close would cancel them and then sell less than the router holds, or
                # nothing. So once the cancels have released those coins, the position is
                # read and the plan made again. Chosen over adding back what the router's
                # resting sells hold: it needs no model of what a venue holds for an order,
                # and it sees what happened meanwhile (a stop that executed just before its
                # cancel is counted off the holdings, not sold a second time).
                cash = broker.capabilities.kind is AccountKind.CASH
                # read before the cancels change it, and only where it decides something
                resting = cash and self.journal.has_resting(account.name, instrument.symbol)
                cancelled = await self.sequencer.cancel_resting(
                    broker, account.name, instrument, foreign=account.cancel_foreign_orders
                )
                if cash and (cancelled or resting):
                    planned = await self._plan(alert, intent_key, account, broker, instrument,
                                               multiplier)
                    if isinstance(planned, AccountResult):  # the cancels happened: say so
                        return AccountResult([*cancelled, *planned.reports], planned.notes,
                                             planned.position)
                    plan = planned
            run = await self.sequencer.run(
                plan,
                broker,
                account,
                instrument,
                alert_id=alert_id,
                intent_key=intent_key,
                ticker=alert.ticker,
                on_close=lambda order, result: self._record_pnl(
                    account.name, plan.position_before, order, result
                ),
                cancelled=cancelled,
            )
        before = plan.position_before.quantity if plan.position_before is not None else None
        position = PositionReport(
            account.name,
            plan.symbol,
            before,
            before + run.filled if before is not None else None,
            plan.target,
            plan.position_source,
        )
        notes = [f"{account.name}: {note}" for note in (*plan.notes, *run.notes)]
        return AccountResult(run.reports, notes, position)

    async def _plan(
        self, alert: Alert, intent_key: str, account: AccountConfig, broker: Broker,
        instrument: Instrument, multiplier: Decimal,
    ) -> Plan | AccountResult:
        """The account's plan, or the account refused when there is none."""
        started = time.perf_counter()
        try:
            plan = await self.planner.plan(
                alert, intent_key, account, broker, instrument, multiplier
            )
            if self.metrics is not None:
                self.metrics.planned(broker.name, time.perf_counter() - started)
            return plan
        except BrokerError as exc:  # the venue could not tell position or balance
            return refused(account, broker, intent_key, str(exc), instrument)
        except Exception as exc:  # nothing was sent while planning: a denial, said plainly
            reason = plugin_failure(broker, "planning the order", exc)
            return refused(account, broker, intent_key, reason, instrument)

    async def preview(
        self, alert: Alert, intent_key: str, account: AccountConfig, multiplier: Decimal,
        broker: Broker,
    ) -> Plan | str:
        """The account's plan, read from the venue and never sent; or why there is none."""
        symbol = normalize(alert.ticker)
        try:
            instrument = await broker.resolve(symbol)
            mismatch = class_mismatch(symbol, instrument, account)
            if mismatch is not None:
                return f"{account.name}: {mismatch}"
            plan = await self.planner.plan(
                alert, intent_key, account, broker, instrument, multiplier,
                always_read_position=True,
            )
        except (BrokerError, AlertError) as exc:
            return f"{account.name}: {exc}"
        if (plan.cancel_resting and goes_ahead(plan)
                and broker.capabilities.kind is AccountKind.CASH
                and self.journal.has_resting(account.name, instrument.symbol)):
            plan = replace(plan, notes=(*plan.notes, RE_PLANNED))
        return plan

    def _record_pnl(
        self, account: str, before: Position | None, order: Order, result: OrderResult
    ) -> None:
        pnl = realised_pnl(before, order, result)
        if pnl is not None:
            day = datetime.fromtimestamp(self.clock.time(), UTC).date().isoformat()
            self.journal.add_realised_pnl(account, day, format(pnl, "f"))

    async def cancel(
        self, broker: Broker, account: AccountConfig, instrument: Instrument
    ) -> AccountResult:
        reports = await self.sequencer.cancel_resting(broker, account.name, instrument)
        if not reports:
            reason = (f"no open orders placed by this router for {instrument.symbol} on "
                      f"{account.name}")
            reports.append(
                LegReport(
                    account.name,
                    broker.name,
                    LegPurpose.CANCEL,
                    OrderResult(OrderStatus.DENIED, "", reason=reason),
                    None,
                    instrument.symbol,
                )
            )
        return AccountResult(reports, [], None)



def plugin_failure(broker: Broker, doing: str, exc: Exception) -> str:
    """The denial reason for an exception a plugin did not classify; the traceback goes to the
    log (through the secret-masking handler), not into the report."""
    log.error("%s failed while %s: %s", broker.name, doing, type(exc).__name__, exc_info=True)
    return (
        f"{broker.name} failed with {type(exc).__name__} while {doing} (a bug in the plugin or "
        "an answer it did not expect; the log has the details); nothing was sent"
    )


def refused(
    account: AccountConfig,
    broker: Broker,
    intent_key: str,
    reason: str,
    instrument: Instrument | None = None,
) -> AccountResult:
    """One account refused before any plan: a single denied leg that says why."""
    cid = client_order_id(intent_key, account.name, LegPurpose.OPEN)
    result = OrderResult(OrderStatus.DENIED, cid, reason=reason)
    symbol = instrument.symbol if instrument else None
    leg = LegReport(account.name, broker.name, LegPurpose.OPEN, result, None, symbol)
    return AccountResult([leg], [], None)
