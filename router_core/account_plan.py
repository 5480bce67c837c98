"""One account's plan for one alert: position, price, size, legs, orders, risk.

Nothing is sent from here (the venue is only read), so a dry run is this module alone; the
router hands the plan to ``sequencing`` to send it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .brokers import Broker
from .clock import Clock
from .config import AccountConfig, RiskLimits
from .decimals import format_decimal
from .errors import BrokerError
from .hooks import PlanContext, hook_caller
from .journal import Journal
from .models import (
    AccountKind,
    Action,
    CanonicalSymbol,
    Instrument,
    InstrumentKind,
    Leg,
    Plan,
    Position,
    QuantityType,
)
from .orders import build_order, draft_order, stop_for_risk
from .planning import PlanRequest, plan_legs
from .positions import PositionView, read_position
from .risk import RiskSnapshot, any_limit, check_plan
from .sizing import SizingDenied, SizingRequest, equity_currency, size_quantity

if TYPE_CHECKING:
    from .alert import Alert

log = logging.getLogger("router_core")

EQUITY_TYPES = frozenset({QuantityType.PERCENT_OF_EQUITY, QuantityType.RISK_PERCENT})
SIZED_ACTIONS = frozenset({Action.BUY, Action.SELL, Action.ADD})
ZERO = Decimal(0)
FLAT_POSITIONS_KEPT = 1024  # symbols whose flat Position is kept; forgotten all at once


class AccountPlanner:
    def __init__(self, journal: Journal, hook: Any, clock: Clock) -> None:
        self.journal = journal
        self.hook = hook
        self.hooks = hook_caller(hook)  # resolved once: its calls run per leg
        self.clock = clock
        self._limits: dict[str, tuple[RiskLimits, bool]] = {}  # see _limits_set
        self._flat_positions: dict[str, Position] = {}  # see _flat

    async def plan(
        self,
        alert: Alert,
        intent_key: str,
        account: AccountConfig,
        broker: Broker,
        instrument: Instrument,
        multiplier: Decimal,
        *,
        always_read_position: bool = False,
    ) -> Plan:
        """The plan; raises BrokerError when the venue cannot tell what planning needs (the
        account then fails closed: nothing is sent)."""
        view: PositionView | None = None
        if always_read_position or needs_position(alert, account, broker):
            view = await read_position(broker, account, instrument, self.journal)
            position = view.position
        else:
            position = self._flat(instrument.symbol)
        price = alert_price(alert)
        if price is None:  # only then a coroutine and a call to the venue
            price = await self._venue_price(broker, instrument)
        quantity, sizing_denial = None, None
        if alert.action in SIZED_ACTIONS or alert.quantity is not None:
            quantity, sizing_denial = await self._size(
                alert, account, broker, instrument, position, price, multiplier
            )
        caps = broker.capabilities_for(instrument)
        request = (
            PlanRequest(
                action=alert.action,
                sentiment=alert.sentiment,
                position=position.quantity,
                quantity=quantity,
                sizing_denial=sizing_denial,
                explicit=alert.quantity is not None,
                of_position=alert.quantity_type is QuantityType.PERCENT_OF_POSITION,
                reduce_only=alert.reduce_only,
                kind=caps.kind,
                can_short=caps.can_short,
                reverse=account.reverse,
                flip=caps.single_order_flip
                and getattr(broker.config, "reverse_mode", "") == "single_order",
                leverage=alert.leverage or account.leverage,
                position_leverage=position.leverage,
                lot_size=instrument.lot_size,
            )
        )
        decision = plan_legs(request)
        source = view.source if view is not None else None
        if view is not None and view.promised > 0 and not decision.cancel_resting:
            # The router's resting sells stay and may still sell part of the holding: this
            # plan may only sell the rest, or a stop would later sell the user's coins.
            position = replace(position, quantity=max(position.quantity - view.promised, ZERO))
            decision = plan_legs(replace(request, position=position.quantity))
            source = (f"{view.source}, less {format_decimal(view.promised)} its resting sells "
                      f"may still sell")
        legs = []
        for spec in decision.legs:
            denied = spec.denied
            order = None
            if denied is None and spec.side is not None:
                try:
                    order = build_order(
                        spec, alert, account.name, broker, instrument, intent_key, price
                    )
                except (SizingDenied, BrokerError) as exc:
                    denied = exc.reason if isinstance(exc, SizingDenied) else str(exc)
            if order is None:
                order = draft_order(spec, account.name, instrument, intent_key)
            legs.append(Leg(spec.purpose, order, denied, after_fill=spec.after_fill))
        plan = Plan(
            account.name,
            broker.name,
            instrument.symbol,
            tuple(legs),
            position if view is not None else None,
            decision.notes,
            target=decision.target if view is not None else None,
            cancel_resting=decision.cancel_resting,
            position_source=source,
        )
        denial = await self._risk(plan, account, position, price)
        if denial is not None:
            plan = replace(
                plan,
                legs=tuple(
                    replace(leg, denied_reason=leg.denied_reason or f"risk: {denial}")
                    for leg in plan.legs
                ),
            )
        return plan

    async def _size(
        self,
        alert: Alert,
        account: AccountConfig,
        broker: Broker,
        instrument: Instrument,
        position: Position,
        price: Decimal | None,
        multiplier: Decimal,
    ) -> tuple[Decimal | None, str | None]:
        """The sized quantity, or why there is none."""
        quantity_type = alert.quantity_type or (
            QuantityType.FIXED_QUANTITY if alert.quantity is not None else account.quantity_type
        )
        equity = currency = None
        if quantity_type in EQUITY_TYPES:
            balance = await broker.balance(equity_currency(instrument))
            equity, currency = balance.equity, balance.currency
        request = SizingRequest(
            quantity=alert.quantity,
            quantity_type=quantity_type,
            price=price,
            stop_price=stop_for_risk(alert, price),
            multiplier=multiplier,
            leverage=alert.leverage,
            default_quantity=account.quantity,
        )
        try:
            quantity = size_quantity(
                request,
                instrument,
                equity=equity,
                position=position.quantity,
                equity_currency=currency,
            )
        except SizingDenied as exc:
            return None, exc.reason
        return quantity, None

    async def _risk(
        self, plan: Plan, account: AccountConfig, position: Position, price: Decimal | None
    ) -> str | None:
        # Without a configured limit ``check_plan`` passes every plan: neither the journal
        # nor the clock is read for it. The plugins' checks run either way.
        if self._limits_set(account):
            denial = check_plan(plan, account.risk, self._snapshot(account, position, price))
            if denial is not None:
                return denial
        if not self.hooks.implemented("router_check_plan"):
            return None  # no plugin checks plans: no context, no hook call (~0.6 µs a leg)
        context = PlanContext(account=account, position=position)
        return await self.hooks.check_plan(plan, context)

    def _snapshot(
        self, account: AccountConfig, position: Position, price: Decimal | None
    ) -> RiskSnapshot:
        """What the limits need, the journal read only for the limits that are set."""
        limits = account.risk
        now = self.clock.time()
        recent = pnl = None
        if limits.max_orders_per_minute is not None:
            # one past the limit is enough to tell a breach
            recent = self.journal.legs_since(
                account.name, now - 60, at_most=limits.max_orders_per_minute + 1
            )
        if limits.daily_loss_limit is not None:
            day = datetime.fromtimestamp(now, UTC).date().isoformat()
            pnl = Decimal(self.journal.realised_pnl(account.name, day))
        return RiskSnapshot(position.quantity, price, recent, pnl)

    def _limits_set(self, account: AccountConfig) -> bool:
        """``any_limit(account.risk)``, worked out once per account config (it is frozen):
        the same object gives the answer kept, the new object a reload builds is asked
        again."""
        cached = self._limits.get(account.name)
        if cached is None or cached[0] is not account.risk:
            cached = self._limits[account.name] = (account.risk, any_limit(account.risk))
        return cached[1]

    def _flat(self, symbol: str) -> Position:
        """The flat position on ``symbol``, made once per symbol (0.6 µs a leg): a Position
        is immutable, so every plan may hold the same one."""
        position = self._flat_positions.get(symbol)
        if position is None:
            if len(self._flat_positions) >= FLAT_POSITIONS_KEPT:
                self._flat_positions.clear()
            position = self._flat_positions[symbol] = Position(symbol, ZERO)
        return position

    async def _venue_price(self, broker: Broker, instrument: Instrument) -> Decimal | None:
        """The reference price from the venue, for an alert that names none."""
        try:
            quote = await broker.reference_price(instrument)
        except BrokerError as exc:
            log.warning("%s: no reference price for %s: %s", broker.name, instrument.symbol, exc)
            return None
        return Decimal(str(quote)) if quote is not None else None


def alert_price(alert: Alert) -> Decimal | None:
    """The reference price the alert itself gives: its price, limit price, signal price or
    stop price, the first one set."""
    for candidate in (alert.price, alert.limit_price, alert.signal_price, alert.stop_price):
        if candidate is not None:
            return candidate
    return None


def needs_position(alert: Alert, account: AccountConfig, broker: Broker) -> bool:
    """False only when the position cannot change the plan: a plain buy on a cash account
    (nothing to reverse or close), sized without the position, under no position limit. It
    saves a round trip to the venue on the most common spot alert."""
    if broker.capabilities.kind is not AccountKind.CASH or alert.action is not Action.BUY:
        return True
    if alert.reduce_only or (alert.sentiment is not None and alert.sentiment.direction <= 0):
        return True
    sizing = alert.quantity_type or account.quantity_type
    return sizing is QuantityType.PERCENT_OF_POSITION or account.risk.max_position is not None


def class_mismatch(
    symbol: CanonicalSymbol, instrument: Instrument, account: AccountConfig
) -> str | None:
    """Why the alert's ticker names another class of instrument than the account trades: a
    perpetual or dated ticker on a spot account, or a spot pair on a futures account (unless
    the account takes spot tickers as its perpetual's)."""
    if symbol.kind is not InstrumentKind.SPOT and instrument.kind is InstrumentKind.SPOT:
        return (f"{symbol.raw} is a {symbol.kind.value} ticker and account {account.name} "
                f"trades spot ({instrument.symbol}): nothing sent; route it to a futures "
                f"account")
    pair = symbol.base is not None and symbol.quote is not None
    if (symbol.kind is InstrumentKind.SPOT and pair and instrument.kind is not InstrumentKind.SPOT
            and not account.spot_tickers_as_perpetual):
        return (f"{symbol.raw} is a spot pair and account {account.name} trades "
                f"{instrument.kind.value} contracts ({instrument.symbol}): nothing sent; send "
                f"the contract's ticker (such as {symbol.ticker}.P for the perpetual), or set "
                f"spot_tickers_as_perpetual = true on the account")
    return None

