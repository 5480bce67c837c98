"""A simulated venue that fills at the alert's price (or a configured one).

Market and limit orders fill at once and in full: market at ``fill_price`` or the order's
reference price, limit at its limit price. Stop, take-profit and trailing orders rest as
``accepted`` (there is no price feed to trigger them) and can be cancelled. Realised profit
and loss moves the cash balance. Orders are idempotent by client order id: sending one twice
returns the first outcome.

``account_kind`` picks which kind of account it rehearses, so every kind can be tried without
keys: ``net`` (futures: one signed position per symbol, the default), ``margin`` (spot margin:
only orders with leverage trade the position) or ``cash`` (a spot wallet: no shorts; ``wallet``
seeds coins the router did not buy, to see that it never sells them).
"""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field

from router_core import (
    AccountKind,
    Balance,
    Broker,
    BrokerConfig,
    BrokerContext,
    CanonicalSymbol,
    Capabilities,
    Instrument,
    InstrumentKind,
    InvalidOrder,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

from .ledger import Ledger

RESTING = frozenset(
    {
        OrderType.STOP,
        OrderType.STOP_LIMIT,
        OrderType.TRAILING_STOP,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)


class PaperConfig(BrokerConfig):
    """Settings of a paper account. Every field has a default: ``broker = "paper"`` suffices."""

    starting_balance: Decimal = Field(Decimal(100_000), gt=0)
    currency: str = "USD"
    fill_price: Decimal | None = Field(None, gt=0, description="fill every order at this price")
    lot_size: Decimal = Field(Decimal("0.0001"), gt=0, description="quantity step")
    tick_size: Decimal = Field(Decimal("0.01"), gt=0, description="price step")
    min_quantity: Decimal = Field(Decimal(0), ge=0)
    min_notional: Decimal = Field(Decimal(0), ge=0)
    account_kind: Literal["net", "margin", "cash"] = Field(
        "net", description="net (futures), margin (spot margin) or cash (a spot wallet)"
    )
    can_short: bool = Field(True, description="false is the older spelling of account_kind cash")
    wallet: dict[str, Decimal] = Field(
        default_factory=dict,
        description="cash accounts: base assets already in the wallet, not bought by the router",
    )


class PaperBroker(Broker):
    name = "paper"
    Config = PaperConfig
    capabilities = Capabilities(
        order_types=frozenset(OrderType),
        time_in_force=frozenset(TimeInForce),
        reduce_only=True,
        post_only=True,
        attached_brackets=True,
        can_short=True,
        net_position=True,
        leverage=True,
    )
    simulated = True  # no order of a paper account reaches a market: never a live account
    config: PaperConfig

    def __init__(self, config: PaperConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self.kind = AccountKind.CASH if not config.can_short else AccountKind(config.account_kind)
        if self.kind is AccountKind.CASH:
            self.capabilities = dataclasses.replace(
                type(self).capabilities, can_short=False, net_position=False, leverage=False,
                account_kind=AccountKind.CASH,
            )
        elif self.kind is AccountKind.MARGIN:
            self.capabilities = dataclasses.replace(
                type(self).capabilities, account_kind=AccountKind.MARGIN
            )
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            path = self.context.state_dir / f"paper-{self.account}.sqlite3"
            self._ledger = Ledger(path, self.config.starting_balance)
        return self._ledger

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        base = symbol.base or symbol.root or symbol.ticker
        quote = symbol.quote or self.config.currency
        name = symbol.ticker.replace("/", "") if symbol.base else symbol.ticker
        # A cash or margin account trades spot, whatever the ticker says (so a perpetual's
        # ticker is refused there, as on a real spot venue); a net account takes any kind.
        kind = symbol.kind if self.kind is AccountKind.NET else InstrumentKind.SPOT
        return Instrument(
            symbol=name,
            base=base,
            quote=quote,
            kind=kind,
            tick_size=self.config.tick_size,
            lot_size=self.config.lot_size,
            min_quantity=self.config.min_quantity,
            min_notional=self.config.min_notional,
        )

    async def balance(self, currency: str | None = None) -> Balance:
        # One simulated cash pot, reported in whatever currency sizing asks for.
        cash = self.ledger.cash()
        return Balance(currency=currency or self.config.currency, equity=cash, available=cash)

    async def position(self, instrument: Instrument) -> Position:
        """Net and margin: the signed position. Cash: the wallet's whole base balance (what
        the router bought plus ``wallet``), as a spot venue reports it."""
        quantity, average = self.ledger.position(instrument.symbol)
        return Position(instrument.symbol, quantity + self._wallet(instrument), average)

    def _wallet(self, instrument: Instrument) -> Decimal:
        if self.kind is not AccountKind.CASH:
            return Decimal(0)
        return self.config.wallet.get(instrument.base, Decimal(0))

    async def reference_price(self, instrument: Instrument) -> Decimal | None:
        return self.config.fill_price

    async def submit_order(self, order: Order) -> OrderResult:
        previous = self.ledger.order(order.client_order_id)
        if previous is not None:
            return OrderResult.from_dict(previous)
        self._check_size(order)
        venue_id = f"PAPER-{uuid.uuid4().hex[:12].upper()}"
        if order.order_type in RESTING:
            result = OrderResult(
                OrderStatus.ACCEPTED,
                order.client_order_id,
                venue_id,
                quantity=order.quantity,
                price=order.limit_price or order.stop_price,
                reason="resting: the paper venue has no price feed to trigger it",
            )
            self.ledger.record(
                order.client_order_id, venue_id, order.instrument.symbol, result.to_dict()
            )
            return result

        if self.kind is AccountKind.MARGIN and order.leverage is None:
            raise InvalidOrder(
                "paper (margin): an order without leverage would trade the cash balance, not "
                "the margin position; give leverage",
                from_venue=True,
            )
        price = self._fill_price(order)
        held, average = self.ledger.position(order.instrument.symbol)
        signed = order.quantity if order.side is Side.BUY else -order.quantity
        holds = held + self._wallet(order.instrument)
        if order.reduce_only and (
            holds == 0 or (holds > 0) == (signed > 0) or abs(signed) > abs(holds)
        ):
            raise InvalidOrder(
                f"paper: reduce-only {order.side} {order.quantity} would not reduce the "
                f"position of {holds}",
                from_venue=True,
            )
        if not self.capabilities.can_short and holds + signed < 0:
            raise InvalidOrder(
                f"paper: selling {order.quantity} would leave a short position; this account "
                "cannot short",
                from_venue=True,
            )
        new_quantity, new_average, realised = _apply_fill(held, average, signed, price)
        cash = self.ledger.cash() + realised * order.instrument.contract_size
        notes = _bracket_note(order)
        result = OrderResult(
            OrderStatus.FILLED,
            order.client_order_id,
            venue_id,
            quantity=order.quantity,
            price=price,
            filled_quantity=order.quantity,
            average_price=price,
            reason=notes,
        )
        self.ledger.record(
            order.client_order_id,
            venue_id,
            order.instrument.symbol,
            result.to_dict(),
            position=(new_quantity, new_average),
            cash=cash,
        )
        return result

    def _check_size(self, order: Order) -> None:
        """Deny, before "sending", what a real venue would refuse: off-step, below-minimum or
        non-positive sizes (a denial, like any plugin that checks precision locally)."""
        instrument = order.instrument
        if order.quantity <= 0 or order.quantity % instrument.lot_size != 0:
            raise InvalidOrder(
                f"paper: quantity {order.quantity} is not a positive multiple of the lot size "
                f"{instrument.lot_size}",
                from_venue=False,
            )
        if order.quantity < instrument.min_quantity:
            raise InvalidOrder(
                f"paper: quantity {order.quantity} is below the minimum {instrument.min_quantity}",
                from_venue=False,
            )

    def _fill_price(self, order: Order) -> Decimal:
        if order.order_type is OrderType.LIMIT and order.limit_price is not None:
            return order.limit_price
        price = self.config.fill_price or order.reference_price
        if price is None:
            raise InvalidOrder(
                "paper: no price to fill at; give the alert a price or set fill_price for "
                "this account"
            )
        return price

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        previous = self.ledger.order(client_order_id)
        if previous is None:
            return OrderResult(OrderStatus.REJECTED, client_order_id, reason="paper: unknown order")
        result = OrderResult.from_dict(previous)
        if result.status is not OrderStatus.ACCEPTED:
            return OrderResult(
                OrderStatus.REJECTED,
                client_order_id,
                result.venue_order_id,
                reason=f"paper: order is {result.status}, not open",
            )
        canceled = OrderResult(
            OrderStatus.CANCELED,
            client_order_id,
            result.venue_order_id,
            quantity=result.quantity,
            price=result.price,
        )
        self.ledger.record(
            client_order_id, result.venue_order_id or "", instrument.symbol, canceled.to_dict()
        )
        return canceled

    async def open_orders(self, instrument: Instrument) -> list[OrderResult]:
        return [
            result for result in map(OrderResult.from_dict, self.ledger.orders(instrument.symbol))
            if result.status is OrderStatus.ACCEPTED
        ]

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        for result in await self.open_orders(instrument):
            if result.venue_order_id == venue_order_id:
                return await self.cancel_order(result.client_order_id, instrument)
        return OrderResult(OrderStatus.REJECTED, "", venue_order_id,
                           reason="paper: no such open order")

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        previous = self.ledger.order(client_order_id)
        return None if previous is None else OrderResult.from_dict(previous)

    async def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def _apply_fill(
    held: Decimal, average: Decimal | None, signed: Decimal, price: Decimal
) -> tuple[Decimal, Decimal | None, Decimal]:
    """New (quantity, average price, realised PnL) after a fill of ``signed`` at ``price``."""
    new = held + signed
    if held == 0 or (held > 0) == (signed > 0):
        total = abs(held) * (average or price) + abs(signed) * price
        return new, total / abs(new), Decimal(0)
    closed = min(abs(signed), abs(held))
    direction = 1 if held > 0 else -1
    realised = closed * (price - (average or price)) * direction
    if new == 0:
        return new, None, realised
    if (new > 0) != (held > 0):  # flipped: the remainder opened at this price
        return new, price, realised
    return new, average, realised


def _bracket_note(order: Order) -> str | None:
    parts = []
    if order.take_profit is not None:
        parts.append(
            f"take profit at {order.take_profit.limit_price or order.take_profit.trigger_price}"
        )
    if order.stop_loss is not None:
        parts.append(f"stop loss at {order.stop_loss.trigger_price}")
    return ("attached " + ", ".join(parts) + " (paper: recorded, not triggered)") if parts else None
