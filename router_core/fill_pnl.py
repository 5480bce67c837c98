"""Positions and profit and loss per account and symbol, from the journaled fills (the fill
streams' and their REST catch-up; ``Journal.fills``). The method is the average cost, with fees
included, as docs/positions.md explains with a worked example (a test checks that example):

* a fill that opens or adds to a position moves its average cost: the new cost is the old
  cost of what is held plus this fill's price times its size, plus its fee for a buy (a long
  costs more) and minus it for a sell (a short's entry is lowered), over the new size;
* a fill that reduces a position realises (price - average cost) times the size closed, times
  the sign of the position, minus the fee's share of the size closed; what is left of the fill
  after the position reaches zero opens the other way, with the rest of the fee, as above;
* the unrealised P&L, where a price is known, is (price - average cost) times the signed size.

Sizes are the venue's: base units on spot and linear contracts (an inverse contract counted
in USD needs another formula and is not supported). Fees are counted in the quote currency,
as Kraken charges them by default; every amount is a Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .journal import FillRecord

ZERO = Decimal(0)


@dataclass(slots=True)
class PositionLine:
    """One account's position in one symbol after its fills, oldest first."""

    account: str
    symbol: str
    quantity: Decimal = ZERO  # signed: > 0 long, < 0 short
    average_cost: Decimal = ZERO  # per unit, fees of the opening fills included
    realized: Decimal = ZERO  # closing fees deducted
    fees: Decimal = ZERO  # every fee paid, for the record
    fills: int = 0
    foreign_fills: int = 0  # of orders this router did not place
    unrealized: Decimal | None = None  # None: no price known

    def apply(self, side: str, size: Decimal, price: Decimal, fee: Decimal) -> None:
        """Add one fill (``side`` "buy" or "sell")."""
        sign = Decimal(1) if side == "buy" else Decimal(-1)
        self.fees += fee
        self.fills += 1
        if self.quantity == 0 or (self.quantity > 0) == (sign > 0):
            self._open(sign, size, price, fee)
            return
        closed = min(size, abs(self.quantity))
        closing_fee = fee * closed / size
        direction = Decimal(1) if self.quantity > 0 else Decimal(-1)
        self.realized += (price - self.average_cost) * closed * direction - closing_fee
        self.quantity += sign * closed
        if self.quantity == 0:
            self.average_cost = ZERO
        rest = size - closed
        if rest > 0:  # the fill went through zero: the rest opens the other way
            self._open(sign, rest, price, fee - closing_fee)

    def _open(self, sign: Decimal, size: Decimal, price: Decimal, fee: Decimal) -> None:
        held = abs(self.quantity)
        cost = self.average_cost * held + price * size + sign * fee
        self.quantity += sign * size
        self.average_cost = cost / (held + size)

    def mark(self, price: Decimal) -> None:
        self.unrealized = (price - self.average_cost) * self.quantity


def positions_from_fills(fills: Iterable[FillRecord],
                         prices: Mapping[str, Decimal] | None = None) -> list[PositionLine]:
    """One line per account and symbol, sorted; ``prices``: symbol -> a current price, for
    the unrealised P&L."""
    lines: dict[tuple[str, str], PositionLine] = {}
    for fill in sorted(fills, key=lambda f: f.filled_at):
        line = lines.setdefault((fill.account, fill.symbol),
                                PositionLine(fill.account, fill.symbol))
        line.apply(fill.side, fill.quantity, fill.price, fill.fee)
        line.foreign_fills += fill.client_order_id is None
    for line in lines.values():
        price = (prices or {}).get(line.symbol)
        if price is not None:
            line.mark(price)
    return [lines[key] for key in sorted(lines)]
