"""Profit and loss from the journaled fills, by the average cost method. Pure: no I/O.

Per account and symbol, a running position and its average cost: a fill that adds to the
position (or opens one) moves the average cost; a fill against it realises
``closed quantity x (fill price - average cost)`` (sign reversed for a short), and a fill
larger than the position closes it and opens the rest at the fill price. A fee reported in a
venue's answer is taken off the realised figure of the fill it came with. The realised amount
of a fill is attributed to the strategy of the alert that caused that fill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ..journal_views import Fill

ZERO = Decimal(0)


@dataclass(slots=True)
class Book:
    """One account's position on one symbol, as counted from the router's own fills."""

    account: str
    symbol: str
    quantity: Decimal = ZERO  # signed: positive long, negative short
    average_cost: Decimal = ZERO
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0

    def unrealised(self, price: Decimal | None) -> Decimal | None:
        if price is None or self.quantity == 0:
            return None
        return self.quantity * (price - self.average_cost)


@dataclass(slots=True)
class PnL:
    books: dict[tuple[str, str], Book] = field(default_factory=dict)
    by_strategy: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    curve: list[tuple[float, Decimal]] = field(default_factory=list)  # time, cumulative realised

    @property
    def realised(self) -> Decimal:
        return sum((book.realised for book in self.books.values()), ZERO)

    def by_account(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for book in self.books.values():
            totals[book.account] = totals.get(book.account, ZERO) + book.realised
        return totals


def compute(fills: Iterable[Fill]) -> PnL:
    """Realised profit and loss of ``fills`` (oldest first)."""
    pnl = PnL()
    total = ZERO
    for fill in fills:
        key = (fill.account, fill.symbol)
        book = pnl.books.get(key)
        if book is None:
            book = pnl.books[key] = Book(fill.account, fill.symbol)
        realised = _apply(book, fill)
        if fill.fee is not None:
            realised -= fill.fee
            book.fees += fill.fee
        book.realised += realised
        book.fills += 1
        strategy_key = (fill.account, fill.symbol, fill.strategy)
        pnl.by_strategy[strategy_key] = pnl.by_strategy.get(strategy_key, ZERO) + realised
        total += realised
        pnl.curve.append((fill.time, total))
    return pnl


def _apply(book: Book, fill: Fill) -> Decimal:
    """Move the book by one fill; returns what the fill realised (before its fee)."""
    signed = fill.quantity if fill.side == "buy" else -fill.quantity
    if book.quantity == 0 or (book.quantity > 0) == (signed > 0):
        size = abs(book.quantity) + fill.quantity
        book.average_cost = (abs(book.quantity) * book.average_cost
                             + fill.quantity * fill.price) / size
        book.quantity += signed
        return ZERO
    closed = min(fill.quantity, abs(book.quantity))
    direction = 1 if book.quantity > 0 else -1
    realised = closed * (fill.price - book.average_cost) * direction
    book.quantity += signed
    if book.quantity == 0:
        book.average_cost = ZERO
    elif (book.quantity > 0) != (direction > 0):  # crossed zero: the rest opened at the fill
        book.average_cost = fill.price
    return realised


def chart_points(curve: list[tuple[float, Decimal]], width: int = 600,
                 height: int = 160) -> tuple[str, float | None]:
    """The cumulative realised curve as SVG polyline points (``"x,y x,y"``) scaled into
    ``width`` x ``height``, and the y of the zero line (``None`` without points)."""
    if not curve:
        return "", None
    values = [ZERO, *(value for _, value in curve)]
    low, high = min(values), max(values)
    if low == high:  # a flat curve: draw it across the middle
        low, high = low - 1, high + 1
    span = high - low
    steps = max(len(curve), 1)

    def y(value: Decimal) -> float:
        return round(float((high - value) / span) * (height - 8) + 4, 1)

    points = [f"0,{y(ZERO)}"]
    for index, (_, value) in enumerate(curve, start=1):
        points.append(f"{round(index / steps * width, 1)},{y(value)}")
    return " ".join(points), y(ZERO)


def unrealised_total(books: Iterable[Book], prices: Mapping[tuple[str, str], Decimal]) -> Decimal:
    total = ZERO
    for book in books:
        value = book.unrealised(prices.get((book.account, book.symbol)))
        if value is not None:
            total += value
    return total
