"""A broker's per-order memory of this session, bounded.

A broker remembers what it learnt placing an order (Tradovate's orderId, TradeLocker's strategy
tag) so that a later lookup needs no extra request. ``serve`` runs for weeks: kept forever, one
entry per order would grow without end. The newest ``REMEMBERED_ORDERS`` are kept; a forgotten
order is found the way an order of an earlier session is (the venue's own records).
"""

from __future__ import annotations

from typing import TypeVar

REMEMBERED_ORDERS = 10_000

_V = TypeVar("_V")


def remember(table: dict[str, _V], key: str, value: _V) -> None:
    """Keep ``value`` under ``key``, forgetting the oldest entry past ``REMEMBERED_ORDERS``."""
    table.pop(key, None)  # a key learnt again counts as new
    table[key] = value
    if len(table) > REMEMBERED_ORDERS:
        del table[next(iter(table))]
