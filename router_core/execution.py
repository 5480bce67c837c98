"""Send one leg: journal the intent, submit through ``router_submit_order``, settle the outcome.

The rules that keep one intent from becoming two orders live here:

* the intent is committed before the first byte goes to the venue;
* a leg journaled earlier (a re-run after a restart) is never sent again blindly: it is looked
  up by its client order id first;
* an ambiguous outcome is looked up several times across the reconcile window; only an order
  still absent after the whole window (longer than any venue deadline, so it can no longer
  appear) is re-sent, with the same client order id;
* an order refused for now (``RetryClass.WAIT``, e.g. ``RateLimited``) was not placed: it is
  re-sent, same client order id, after the venue's ``retry_after``, a few times within a bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pluggy

from .brokers import Broker
from .clock import Clock
from .errors import AmbiguousOutcome, BrokerError, NotSupported, RetryClass, VenueUnavailable
from .hooks import HookCaller, SubmitContext, hook_caller
from .journal import LEG_GIVEN_UP, LEG_PENDING, Journal
from .models import Instrument, Order, OrderResult, OrderStatus

if TYPE_CHECKING:
    from .metrics import RouterMetrics

log = logging.getLogger("router_core.execution")


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    attempts: int = 4  # lookups before an order counts as absent
    window_seconds: float = 40.0  # spread of the lookups; longer than any venue deadline
    resends: int = 1  # re-sends (same client order id) after an order was proven absent
    connect_retries: int = 2  # retries when nothing was sent (connection refused)
    # An order refused for now (RetryClass.WAIT: rate limited, so not placed) is re-sent after
    # the venue's ``retry_after``, else after 1 s, 2 s, 4 s: a few times, within a bound, so a
    # burst of alerts gets through without holding the account's other legs for long.
    wait_resends: int = 3
    wait_first_seconds: float = 1.0
    wait_budget_seconds: float = 10.0  # in all; a longer advised wait is not waited

    def delays(self) -> list[float]:
        """Waits before each lookup: growing, summing to the window."""
        weights = [2**i for i in range(self.attempts)]
        total = sum(weights)
        return [self.window_seconds * w / total for w in weights]


def result_from_error(order: Order, exc: BrokerError) -> OrderResult:
    status = OrderStatus.REJECTED if exc.from_venue else OrderStatus.DENIED
    return OrderResult(
        status,
        order.client_order_id,
        quantity=order.quantity,
        price=order.limit_price,
        reason=str(exc),
        venue_code=exc.venue_code,
    )


class LegRunner:
    def __init__(
        self,
        journal: Journal,
        hooks: HookCaller | pluggy.HookRelay,
        clock: Clock,
        policy: ReconcilePolicy,
    ) -> None:
        self.journal = journal
        self.hooks = hook_caller(hooks)
        self.clock = clock
        self.policy = policy
        self.metrics: RouterMetrics | None = None  # Router.attach_metrics

    async def run(
        self,
        broker: Broker,
        order: Order,
        *,
        alert_id: str,
        intent_key: str,
        symbol_text: str,
    ) -> OrderResult:
        summary = order_summary(order, symbol_text)
        recorded = await self.journal.record_intent_async(
            client_order_id=order.client_order_id,
            alert_id=alert_id,
            account=order.account,
            broker=broker.name,
            symbol=order.instrument.symbol,
            # the summary's texts: the same words, worked out once (~0.5 µs a leg)
            purpose=summary["purpose"],
            side=summary["side"],
            quantity=summary["quantity"],
            notional=None,
            order=summary,
        )
        # a literal: the TypedDict's call builds the same dict through keywords (~0.15 µs)
        context: SubmitContext = {"alert_id": alert_id, "intent_key": intent_key,
                                  "leg": order.purpose}
        if not recorded:
            return await self.resume(broker, order.client_order_id, order, context=context)
        return self._settle(order.client_order_id, await self._send(broker, order, context))

    async def resume(
        self,
        broker: Broker,
        client_order_id: str,
        order: Order | None,
        instrument: Instrument | None = None,
        *,
        context: SubmitContext | None = None,
    ) -> OrderResult:
        """A leg journaled before: use its outcome, or look it up, never send it blindly.

        ``order`` comes with its submit ``context`` when the leg belongs to an alert executing
        now; only then may an order proven absent be sent."""
        leg = self.journal.get_leg(client_order_id)
        if (
            leg is not None
            and leg.result is not None
            and leg.status not in (LEG_PENDING, "unknown")
        ):
            return OrderResult.from_dict(leg.result)
        instrument = instrument or (order.instrument if order else None)
        assert instrument is not None
        found = await self._reconcile(broker, client_order_id, instrument)
        if found is not None:
            if order is not None:
                found = await self._with_brackets(broker, order, found)
            return self._settle(client_order_id, _Outcome(found))
        if order is not None and context is not None:
            # proven absent: the intent was journaled but never placed
            outcome = await self._send(broker, order, context, already_absent=True)
            return self._settle(client_order_id, outcome)
        return self._settle(
            client_order_id,
            _Outcome(
                OrderResult(
                    OrderStatus.UNKNOWN,
                    client_order_id,
                    reason="not found at the venue across the reconcile window and the order is "
                    "not known here; not re-sent: check the venue",
                ),
                given_up=True,
            ),
        )

    async def _send(
        self, broker: Broker, order: Order, context: SubmitContext, *, already_absent: bool = False
    ) -> _Outcome:
        resends = self.policy.resends - (1 if already_absent else 0)
        connect_retries = self.policy.connect_retries
        waits: list[float] = []  # waits before re-sending an order the venue refused for now
        while True:
            ambiguous: AmbiguousOutcome | None = None
            try:
                submit = self.hooks.submit_order(broker, order, context)
                if self.metrics is not None:  # the venue round trip, timed
                    submit = self.metrics.timed_submit(broker.name, submit)
                return _Outcome(await submit)
            except VenueUnavailable as exc:  # nothing was written: safe to try again
                if connect_retries <= 0:
                    return _Outcome(result_from_error(order, exc))
                connect_retries -= 1
                await self.clock.sleep(0.5)
            except BrokerError as exc:
                if isinstance(exc, AmbiguousOutcome):
                    ambiguous = exc
                elif (wait := self._wait_before_resend(exc, waits)) is not None:
                    log.warning("leg %s refused for now (%s); re-sending in %g s",
                                order.client_order_id, exc, wait)
                    await self.clock.sleep(wait)
                    waits.append(wait)
                else:
                    return _Outcome(self._refused(order, exc, waits))
            except Exception as exc:
                # A plugin failed in a way it did not classify, perhaps after the request was
                # written: treat it as unknown and look the order up before anything else.
                log.error(
                    "leg %s: %s raised %s while placing it; treating the outcome as unknown",
                    order.client_order_id, broker.name, type(exc).__name__, exc_info=True,
                )
                ambiguous = AmbiguousOutcome(
                    f"{broker.name} failed with {type(exc).__name__} while placing the order; "
                    "it may exist",
                    from_venue=True,
                )
            if ambiguous is not None:
                log.warning(
                    "leg %s outcome unknown (%s); looking it up", order.client_order_id, ambiguous
                )
                await self.journal.record_outcome_async(
                    order.client_order_id,
                    OrderResult(
                        OrderStatus.UNKNOWN, order.client_order_id, reason=str(ambiguous)
                    ).to_dict(),
                )
                found = await self._reconcile(broker, order.client_order_id, order.instrument)
                if found is not None:
                    return _Outcome(await self._with_brackets(broker, order, found))
                if resends <= 0:
                    return _Outcome(
                        OrderResult(
                            OrderStatus.UNKNOWN,
                            order.client_order_id,
                            reason=f"{ambiguous}; not found across the reconcile window; "
                            "not re-sent again",
                        ),
                        given_up=True,
                    )
                resends -= 1
                log.warning(
                    "leg %s proven absent; re-sending with the same client order id",
                    order.client_order_id,
                )

    def _wait_before_resend(self, exc: BrokerError, waits: list[float]) -> float | None:
        """How long to wait before sending again an order refused with ``RetryClass.WAIT``: the
        venue did not take it, so the same order (same client order id) may go again. ``None``
        for any other class, or when the re-sends or their time budget are spent: waiting
        longer than the budget would only delay the report."""
        policy = self.policy
        if exc.retry is not RetryClass.WAIT or len(waits) >= policy.wait_resends:
            return None
        wait = self._wanted_wait(exc, waits)
        return wait if sum(waits) + wait <= policy.wait_budget_seconds else None

    def _wanted_wait(self, exc: BrokerError, waits: list[float]) -> float:
        if exc.retry_after is None:  # the venue did not say: 1 s, 2 s, 4 s, ...
            return self.policy.wait_first_seconds * 2 ** len(waits)
        return max(0.0, exc.retry_after)

    def _refused(self, order: Order, exc: BrokerError, waits: list[float]) -> OrderResult:
        """The outcome of an order refused for good; a WAIT refusal says what was waited."""
        result = result_from_error(order, exc)
        if exc.retry is not RetryClass.WAIT:
            return result
        if len(waits) >= self.policy.wait_resends:
            note = f"still refused after {len(waits)} re-sends over {sum(waits):g} s"
        else:
            note = (f"not re-sent: waiting {self._wanted_wait(exc, waits):g} s more would pass "
                    f"the {self.policy.wait_budget_seconds:g} s the router waits in all")
        return replace(result, reason=f"{result.reason}; {note}")

    async def _with_brackets(self, broker: Broker, order: Order, found: OrderResult) -> OrderResult:
        """An entry found by lookup never went through the code in ``submit_order`` that places
        its separate take profit and stop loss: place them now (their ids are deterministic)."""
        wants = order.take_profit is not None or order.stop_loss is not None
        caps = broker.capabilities_for(order.instrument)
        if not (wants and caps.separate_brackets and found.status.is_success):
            return found
        try:
            return await broker.place_brackets(order, found)
        except BrokerError as exc:
            reason = f"take profit / stop loss NOT placed after the lookup: {exc}"
            return replace(found, reason=f"{found.reason}; {reason}" if found.reason else reason)

    async def _reconcile(
        self, broker: Broker, client_order_id: str, instrument: Instrument
    ) -> OrderResult | None:
        for delay in self.policy.delays():
            await self.clock.sleep(delay)
            try:
                found = await broker.find_order(client_order_id, instrument)
            except NotSupported:
                return OrderResult(
                    OrderStatus.UNKNOWN,
                    client_order_id,
                    reason=f"{broker.name} cannot look orders up; check the venue by hand",
                )
            except BrokerError as exc:
                log.warning("lookup of %s failed: %s", client_order_id, exc)
                continue
            except Exception as exc:  # a plugin bug in find_order: still only a failed lookup
                log.error("lookup of %s failed with %s", client_order_id, type(exc).__name__,
                          exc_info=True)
                continue
            if found is not None:
                return found
        return None

    def _settle(self, client_order_id: str, outcome: _Outcome) -> OrderResult:
        record = outcome.result.to_dict()
        if outcome.given_up:  # final for the journal, still "unknown" for the report
            record["status"] = LEG_GIVEN_UP
        # Not awaited: the router awaits the alert's final state, which the writer commits
        # after this outcome.
        self.journal.record_outcome_soon(client_order_id, record)
        return outcome.result


@dataclass(frozen=True, slots=True)
class _Outcome:
    result: OrderResult
    given_up: bool = False


def order_summary(order: Order, symbol_text: str) -> dict[str, Any]:
    """What the journal keeps of an order: enough to find it again and to show it."""
    return {
        "ticker": symbol_text,
        "symbol": order.instrument.symbol,
        "side": order.side.value,
        "quantity": _s(order.quantity),
        "order_type": order.order_type.value,
        "purpose": order.purpose.value,
        "limit_price": _s(order.limit_price),
        "stop_price": _s(order.stop_price),
        "reduce_only": order.reduce_only,
        "reference_price": _s(order.reference_price),
    }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
