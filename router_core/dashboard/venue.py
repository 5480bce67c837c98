"""What each account's venue says now (balance, positions, open orders, prices), read through
the Broker methods and cached, so a page view does not become a burst of signed requests. The
Accounts page shows the cached reading and its age; its refresh button reads again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import journal_views
from ..journal import _printable
from ..normalize import normalize

if TYPE_CHECKING:
    from ..brokers import Broker
    from ..router import Router

CALL_TIMEOUT_SECONDS = 5.0
MAX_SYMBOLS = 20  # the most recently traded symbols of an account that are read


@dataclass(slots=True)
class Snapshot:
    """One reading of an account at its venue; ``problems`` says what could not be read."""

    account: str
    taken_at: float
    balance: Any = None  # Balance
    positions: list[Any] = field(default_factory=list)  # Position
    open_orders: list[tuple[str, Any]] = field(default_factory=list)  # (symbol, OrderResult)
    prices: dict[str, Decimal] = field(default_factory=dict)  # venue symbol -> price
    problems: list[str] = field(default_factory=list)


class VenueSnapshots:
    """The latest reading per account; one refresh at a time per account."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._snapshots: dict[str, Snapshot] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, account: str) -> Snapshot | None:
        return self._snapshots.get(account)

    def prices(self) -> dict[tuple[str, str], Decimal]:
        """Every price known from the cached readings: (account, venue symbol) -> price."""
        return {(name, symbol): price for name, snap in self._snapshots.items()
                for symbol, price in snap.prices.items()}

    async def refresh(self, account: str) -> Snapshot:
        broker = self.router.brokers.get(account)
        lock = self._locks.setdefault(account, asyncio.Lock())
        async with lock:
            snapshot = Snapshot(account, time.time())
            if broker is None:
                snapshot.problems.append("the account has no started broker")
            else:
                await self._read(broker, account, snapshot)
            self._snapshots[account] = snapshot
            return snapshot

    async def _read(self, broker: Broker, account: str, snapshot: Snapshot) -> None:
        snapshot.balance = await _call(snapshot, "balance", broker.balance())
        tickers = await asyncio.to_thread(journal_views.traded_tickers, self.router.journal,
                                          account)
        for symbol, ticker in list(tickers.items())[:MAX_SYMBOLS]:
            try:
                canonical = normalize(ticker)
            except Exception as exc:  # an old leg with a ticker this version no longer reads
                snapshot.problems.append(f"{symbol}: {_printable(str(exc), 200)}")
                continue
            instrument = await _call(snapshot, f"{symbol}: instrument", broker.resolve(canonical))
            if instrument is None:
                continue
            position = await _call(snapshot, f"{symbol}: position", broker.position(instrument))
            if position is not None:
                snapshot.positions.append(position)
            orders = await _call(snapshot, f"{symbol}: open orders",
                                 broker.open_orders(instrument))
            snapshot.open_orders.extend((symbol, order) for order in orders or [])
            price = await _call(snapshot, f"{symbol}: price", broker.reference_price(instrument))
            if price is not None:
                snapshot.prices[symbol] = Decimal(str(price))


async def _call(snapshot: Snapshot, what: str, call: Any) -> Any:
    """Await one venue read; a failure or a timeout becomes a line in ``problems``."""
    try:
        return await asyncio.wait_for(call, CALL_TIMEOUT_SECONDS)
    except TimeoutError:
        snapshot.problems.append(f"{what}: no answer within {CALL_TIMEOUT_SECONDS:.0f} s")
    except Exception as exc:  # the venue's words (broker errors never carry a secret)
        snapshot.problems.append(f"{what}: {type(exc).__name__}: {_printable(str(exc), 300)}")
    return None
