"""Running one account's plan in order: all or nothing, honestly reported.

* An exit or a reversal first cancels the router's own resting orders on the symbol (entries,
  separate take profits and stop losses, and the conditional closes a venue placed for the
  router's entries), and reports each cancel (``account`` makes that step, then plans again
  on a cash account, and hands the reports to ``run``).
* Legs go one at a time. A leg refused by the planner or the risk checks, or one that ended
  denied, rejected or unknown, stops every leg after it: they all depend on it.
* An opening leg marked ``after_fill`` goes only once the close before it has filled. The
  close is looked up until it fills or ``close_fill_timeout_seconds`` pass; a close that did
  not fill is cancelled (or left, per ``on_close_timeout``) and nothing is opened.
* The position after is the position before plus what is known to have filled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .brokers import Broker
from .clock import Clock
from .config import AccountConfig
from .decimals import format_decimal
from .errors import BrokerError, NotSupported, OrderNotFound
from .execution import LegRunner, order_summary
from .fills import FillEvents
from .journal import Journal
from .models import (
    Instrument,
    Leg,
    LegPurpose,
    LegReport,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Plan,
    Side,
)
from .orders import client_order_id

log = logging.getLogger("router_core.sequencing")

FIRST_POLL_SECONDS = 0.2
LONGEST_POLL_SECONDS = 1.0
RESTING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
# With a fill stream, a close is still looked up this often, in case its fill was missed.
STREAMED_CHECK_SECONDS = 5.0

# Called after each closing leg with its order and outcome (the daily profit and loss).
CloseObserver = Callable[[Order, OrderResult], None]


@dataclass
class AccountRun:
    """What became of one account's plan."""

    reports: list[LegReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    filled: Decimal = Decimal(0)  # signed quantity known to have filled


class PlanSequencer:
    def __init__(self, runner: LegRunner, journal: Journal, clock: Clock) -> None:
        self.runner = runner
        self.journal = journal
        self.clock = clock
        # Set by the router: with the account's fill stream connected, a close is waited for
        # on its fill event rather than polled (router_core.fills).
        self.fill_events: FillEvents | None = None

    async def run(
        self,
        plan: Plan,
        broker: Broker,
        account: AccountConfig,
        instrument: Instrument,
        *,
        alert_id: str,
        intent_key: str,
        ticker: str,
        on_close: CloseObserver | None = None,
        cancelled: Sequence[LegReport] | None = None,
    ) -> AccountRun:
        """Send the plan's legs. ``cancelled``: the reports of the cancels the caller already
        made for this plan (they come first in the run, and nothing is cancelled again);
        ``None`` cancels here first when the plan says so."""
        run = AccountRun()
        if cancelled is not None:
            run.reports.extend(cancelled)
        elif plan.cancel_resting and goes_ahead(plan):
            run.reports.extend(await self.cancel_resting(
                broker, account.name, instrument, foreign=account.cancel_foreign_orders
            ))
        blocked: str | None = None
        previous: tuple[int, Order, OrderResult] | None = None
        for leg in plan.legs:
            order = leg.order
            if leg.denied_reason is not None or order is None or blocked is not None:
                reason = leg.denied_reason or blocked or "no order"
                run.reports.append(_denied_report(plan, broker, leg, reason, intent_key))
                blocked = blocked or _blocks(leg, reason)
                continue
            if leg.after_fill and previous is not None:
                index, close_order, close_result = previous
                settled, why = await self._await_fill(broker, account, close_order, close_result)
                run.reports[index] = replace(run.reports[index], result=settled)
                run.filled += _signed_fill(close_order, settled) - _signed_fill(
                    close_order, close_result
                )
                if why is not None:
                    blocked = f"skipped: {why}; nothing opened"
                    run.reports.append(_denied_report(plan, broker, leg, blocked, intent_key))
                    continue
            result = await self.runner.run(
                broker, order, alert_id=alert_id, intent_key=intent_key, symbol_text=ticker
            )
            if _acknowledged_only(order, result):
                result = await self._look_up_once(broker, order, result)
            run.reports.append(
                LegReport(plan.account, broker.name, leg.purpose, result, order.side,
                          order.instrument.symbol)
            )
            run.filled += _signed_fill(order, result)
            if order.take_profit is not None or order.stop_loss is not None:
                # most legs carry neither: no coroutine for them (~0.4 µs a leg)
                await self._journal_brackets(broker, order, result, alert_id, ticker)
            if on_close is not None and leg.purpose in (LegPurpose.CLOSE, LegPurpose.FLIP):
                on_close(order, result)
            if not result.status.is_success:
                blocked = f"skipped: the {leg.purpose.value} leg ended {result.status.value}"
            previous = (len(run.reports) - 1, order, result)
        return run

    # -- waiting for a close ------------------------------------------------------------------

    async def _look_up_once(self, broker: Broker, order: Order, result: OrderResult) -> OrderResult:
        """A market order the venue only acknowledged (Kraken spot answers with an id, not a
        fill): one lookup, so the report and the holdings know whether it filled."""
        try:
            found = await broker.find_order(order.client_order_id, order.instrument)
        except BrokerError:  # NotSupported included: the acknowledgement stands
            return result
        if found is None or found == result or found.status not in (*RESTING,
                                                                     OrderStatus.FILLED):
            return result
        await self.journal.record_outcome_async(order.client_order_id, found.to_dict())
        return found

    async def _await_fill(
        self, broker: Broker, account: AccountConfig, order: Order, result: OrderResult
    ) -> tuple[OrderResult, str | None]:
        """Look the close up until it has filled or the time is up. Returns its latest outcome
        and, when it did not fill, why."""
        timeout = account.close_fill_timeout_seconds
        deadline = self.clock.monotonic() + timeout
        delay = FIRST_POLL_SECONDS
        cid = order.client_order_id
        while not _filled(order, result) and result.status in RESTING:
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                break
            events = self.fill_events
            if events is not None and events.streaming(account.name):
                # the stream journals the close's fills and wakes us: no lookup then
                leg = self.journal.get_leg(cid)
                journaled = OrderResult.from_dict(leg.result) if leg and leg.result else None
                if journaled is not None and journaled != result:
                    result = journaled
                    continue
                if await events.wait(cid, min(STREAMED_CHECK_SECONDS, remaining)):
                    continue
            else:
                await self.clock.sleep(min(delay, remaining))
            delay = min(delay * 1.5, LONGEST_POLL_SECONDS)
            try:
                found = await broker.find_order(cid, order.instrument)
            except NotSupported:
                return result, (f"{broker.name} cannot look orders up, so the close's fill "
                                f"cannot be confirmed")
            except BrokerError as exc:
                log.warning("lookup of close %s failed: %s", cid, exc)
                continue
            if found is not None and found != result:
                result = found
                await self.journal.record_outcome_async(cid, found.to_dict())
        if _filled(order, result):
            return result, None
        if result.status not in RESTING:
            return result, f"the close ended {result.status.value} without filling"
        waited = f"the close did not fill within {format_decimal(Decimal(str(timeout)))} s"
        if account.on_close_timeout == "leave":
            return result, f"{waited} (left resting, on_close_timeout = leave)"
        return await self._cancel_unfilled(broker, order, result), f"{waited} (cancelled)"

    async def _cancel_unfilled(
        self, broker: Broker, order: Order, result: OrderResult
    ) -> OrderResult:
        cid = order.client_order_id
        try:
            await broker.cancel_order(cid, order.instrument)
        except BrokerError as exc:
            log.warning("cancelling the unfilled close %s failed: %s", cid, exc)
            return replace(result, reason=f"cancel failed: {exc}")
        try:  # the fill may have raced the cancel: the lookup tells what really happened
            final = await broker.find_order(cid, order.instrument)
        except BrokerError:
            final = None
        final = final or replace(result, status=OrderStatus.CANCELED)
        await self.journal.record_outcome_async(cid, final.to_dict())
        return final

    # -- resting orders ---------------------------------------------------------------------

    async def cancel_resting(
        self, broker: Broker, account: str, instrument: Instrument, *, foreign: bool = False
    ) -> list[LegReport]:
        """Cancel every order this router placed that rests on the symbol, and the orders the
        venue placed for them (conditional closes), and, with ``foreign``, every other order
        resting there; one report each."""
        # The first thing an exit, a reversal or a cancel sends, before any leg intent: a claim
        # that deferred its fsync (Router.accept_and_execute) must be on disk first.
        await self.journal.ensure_durable_async()
        reports = await self._cancel_own(broker, account, instrument)
        if foreign:
            done = {r.result.venue_order_id for r in reports if r.result.venue_order_id}
            reports.extend(await self._cancel_foreign(broker, account, instrument, done))
        return reports

    async def _cancel_foreign(
        self, broker: Broker, account: str, instrument: Instrument,
        done: Collection[str] = (),
    ) -> list[LegReport]:
        try:
            resting = await broker.open_orders(instrument)
        except BrokerError as exc:  # NotSupported included: the user asked, so say it failed
            result = OrderResult(OrderStatus.DENIED, "", reason=f"cancel_foreign_orders: the "
                                 f"orders not placed here could not be listed: {exc}")
            return [LegReport(account, broker.name, LegPurpose.CANCEL, result, None,
                              instrument.symbol)]
        ours = self.journal.venue_order_ids(account, instrument.symbol)
        reports = []
        for order in resting:
            if order.client_order_id and self.journal.get_leg(order.client_order_id):
                continue  # one of ours: handled with the journal's own
            if order.venue_order_id in ours or order.venue_order_id in done:
                continue  # ours without a client order id (Kraken's userref orders), or a
                # conditional close of ours, cancelled (or tried) just before
            venue_id = order.venue_order_id or ""
            cancelled = await _cancel_by_venue_id(broker, order, instrument)
            if cancelled is None:
                continue  # filled or cancelled since
            reason = "not placed by this router (cancel_foreign_orders = true)"
            result = replace(cancelled, venue_order_id=cancelled.venue_order_id or venue_id,
                             reason=f"{cancelled.reason}; {reason}" if cancelled.reason
                             else reason)
            reports.append(LegReport(account, broker.name, LegPurpose.CANCEL, result, None,
                                     instrument.symbol))
        return reports

    async def _cancel_own(
        self, broker: Broker, account: str, instrument: Instrument
    ) -> list[LegReport]:
        reports = []
        for leg in self.journal.open_legs(account, instrument.symbol):
            cid = leg.client_order_id
            # keep the venue's id in the journal: an order the venue creates from this one
            # (a conditional close on a partial fill) names it as its parent
            known = (leg.result or {}).get("venue_order_id")
            try:
                result = await broker.cancel_order(cid, instrument)
            except OrderNotFound:  # filled or cancelled since: journal which, report nothing
                gone = await self._gone(broker, cid, instrument)
                gone = replace(gone, venue_order_id=gone.venue_order_id or known)
                await self.journal.record_outcome_async(cid, gone.to_dict())
                continue
            except BrokerError as exc:
                result = OrderResult(
                    OrderStatus.REJECTED if exc.from_venue else OrderStatus.DENIED,
                    cid,
                    reason=f"cancel failed: {exc}",
                )
            result = replace(result, venue_order_id=result.venue_order_id or known)
            if result.status is not OrderStatus.REJECTED and result.status is not (
                OrderStatus.DENIED
            ):
                await self.journal.record_outcome_async(cid, result.to_dict())
            side = leg.order.get("side")
            reports.append(
                LegReport(account, broker.name, LegPurpose.CANCEL, result,
                          Side(side) if side in ("buy", "sell") else None, instrument.symbol)
            )
        if broker.capabilities_for(instrument).attached_brackets:
            reports.extend(await self._cancel_conditional_closes(broker, account, instrument))
        return reports

    async def _cancel_conditional_closes(
        self, broker: Broker, account: str, instrument: Instrument
    ) -> list[LegReport]:
        """Cancel the orders the venue placed by itself for this router's orders: a take
        profit or stop loss sent as a conditional close becomes an order of its own once the
        entry executes, unknown to the journal. Found among the resting orders by their
        parent's venue id; an order whose parent the router did not place is left alone
        (``cancel_foreign_orders`` decides about those)."""
        ours = self.journal.venue_order_ids(account, instrument.symbol)
        if not ours:
            return []
        try:
            resting = await broker.open_orders(instrument)
        except NotSupported:  # such brokers cancel attached brackets with their parent
            return []
        except BrokerError as exc:
            result = OrderResult(
                OrderStatus.DENIED, "", reason=f"the conditional closes of the router's orders "
                f"could not be listed, so none was cancelled: {exc}",
            )
            return [LegReport(account, broker.name, LegPurpose.CANCEL, result, None,
                              instrument.symbol)]
        reports = []
        for order in resting:
            parent = order.parent_venue_order_id
            if not parent or parent not in ours or not order.venue_order_id:
                continue
            venue_id = order.venue_order_id
            cancelled = await _cancel_by_venue_id(broker, order, instrument)
            if cancelled is None:
                continue  # filled or cancelled since
            result = cancelled
            # Its outcome is not journaled here: a fill just before the cancel is counted by
            # the next look at the venue's closes (``positions``), which reads the final state.
            reason = f"conditional close of the router's order {parent}"
            result = replace(
                result, venue_order_id=result.venue_order_id or venue_id,
                quantity=result.quantity if result.quantity is not None else order.quantity,
                price=result.price if result.price is not None else order.price,
                parent_venue_order_id=parent,
                reason=f"{result.reason}; {reason}" if result.reason else reason,
            )
            reports.append(LegReport(account, broker.name, LegPurpose.CANCEL, result, None,
                                     instrument.symbol))
        return reports

    async def _gone(self, broker: Broker, cid: str, instrument: Instrument) -> OrderResult:
        try:
            found = await broker.find_order(cid, instrument)
        except BrokerError:
            found = None
        if found is not None and found.status not in RESTING:
            return found
        return OrderResult(OrderStatus.CANCELED, cid, reason="no longer resting at the venue")

    async def _journal_brackets(
        self, broker: Broker, order: Order, result: OrderResult, alert_id: str, ticker: str
    ) -> None:
        """Journal what the broker or the venue places for the take profit and stop loss of
        a leg that has either (the caller checks): separate orders as resting legs (once the
        leg is placed), and, for brackets attached to the leg, a mark on the leg itself, so
        what the venue places from it once it executes (a conditional close) is looked up
        later (``positions``). The mark is made for an unknown outcome too: such a leg may
        turn out placed."""
        separate = broker.bracket_order_ids(order) if result.status.is_success else ()
        placed = result.status.is_success or result.status is OrderStatus.UNKNOWN
        caps = broker.capabilities_for(order.instrument)
        if placed and caps.attached_brackets and not caps.separate_brackets:
            purposes = [purpose.value for purpose, bracket in (
                (LegPurpose.TAKE_PROFIT, order.take_profit),
                (LegPurpose.STOP_LOSS, order.stop_loss)) if bracket is not None]
            await self.journal.note_venue_closes_async(order.client_order_id, purposes)
        for purpose, cid in separate:
            await self.journal.record_resting_async(
                client_order_id=cid,
                alert_id=alert_id,
                account=order.account,
                broker=broker.name,
                symbol=order.instrument.symbol,
                purpose=purpose.value,
                side=order.side.opposite.value,
                quantity=format(order.quantity, "f"),
                notional=None,
                order={**order_summary(order, ticker), "purpose": purpose.value,
                       "side": order.side.opposite.value},
            )


async def _cancel_by_venue_id(
    broker: Broker, order: OrderResult, instrument: Instrument
) -> OrderResult | None:
    """Cancel a resting order the journal does not know by its venue id; ``None`` when it is
    no longer there (filled or cancelled since)."""
    venue_id = order.venue_order_id or ""
    try:
        return await broker.cancel_venue_order(venue_id, instrument)
    except OrderNotFound:
        return None
    except BrokerError as exc:
        return OrderResult(
            OrderStatus.REJECTED if exc.from_venue else OrderStatus.DENIED,
            order.client_order_id, venue_id, reason=f"cancel failed: {exc}",
        )


def goes_ahead(plan: Plan) -> bool:
    """Whether the plan will act: it sends a leg, or refuses nothing (an exit while flat
    still cancels the router's resting orders). A refused plan cancels nothing either."""
    sends = any(leg.order is not None and leg.denied_reason is None for leg in plan.legs)
    refuses = any(leg.denied_reason is not None for leg in plan.legs)
    return sends or not refuses


def _acknowledged_only(order: Order, result: OrderResult) -> bool:
    return (order.order_type is OrderType.MARKET and result.status is OrderStatus.ACCEPTED
            and not result.filled_quantity)


def _blocks(leg: Leg, reason: str) -> str | None:
    """A refused close stops what follows it; a refused open is the last leg anyway."""
    if leg.purpose in (LegPurpose.CLOSE, LegPurpose.FLIP):
        return f"skipped: the {leg.purpose.value} leg was refused ({reason})"
    return None


def _filled(order: Order, result: OrderResult) -> bool:
    if result.status is OrderStatus.FILLED:
        return True
    return result.filled_quantity is not None and result.filled_quantity >= order.quantity


def _signed_fill(order: Order, result: OrderResult) -> Decimal:
    filled = result.filled_quantity
    if filled is None:
        filled = order.quantity if result.status is OrderStatus.FILLED else Decimal(0)
    return filled if order.side is Side.BUY else -filled


def _denied_report(
    plan: Plan, broker: Broker, leg: Leg, reason: str, intent_key: str
) -> LegReport:
    order = leg.order
    cid = order.client_order_id if order else client_order_id(intent_key, plan.account,
                                                              leg.purpose)
    result = OrderResult(
        OrderStatus.DENIED, cid, quantity=order.quantity if order else None, reason=reason
    )
    return LegReport(plan.account, broker.name, leg.purpose, result,
                     order.side if order else None, plan.symbol)
