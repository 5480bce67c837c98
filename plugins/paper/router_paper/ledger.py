"""The paper venue's books in SQLite, so a restart keeps positions, cash and orders."""

from __future__ import annotations

import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cash (id INTEGER PRIMARY KEY CHECK (id = 1), amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY, quantity TEXT NOT NULL, average_price TEXT
);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, venue_order_id TEXT NOT NULL, symbol TEXT NOT NULL,
    result TEXT NOT NULL
);
"""


class Ledger:
    def __init__(self, path: Path, starting_cash: Decimal) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._db.execute("INSERT OR IGNORE INTO cash VALUES (1, ?)", (str(starting_cash),))

    def cash(self) -> Decimal:
        (amount,) = self._db.execute("SELECT amount FROM cash").fetchone()
        return Decimal(amount)

    def position(self, symbol: str) -> tuple[Decimal, Decimal | None]:
        row = self._db.execute(
            "SELECT quantity, average_price FROM positions WHERE symbol = ?", (symbol,)
        ).fetchone()
        if row is None:
            return Decimal(0), None
        return Decimal(row[0]), Decimal(row[1]) if row[1] is not None else None

    def order(self, client_order_id: str) -> dict | None:
        row = self._db.execute(
            "SELECT result FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def orders(self, symbol: str) -> list[dict]:
        rows = self._db.execute("SELECT result FROM orders WHERE symbol = ?", (symbol,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count_orders(self) -> int:
        return self._db.execute("SELECT count(*) FROM orders").fetchone()[0]

    def record(
        self,
        client_order_id: str,
        venue_order_id: str,
        symbol: str,
        result: dict,
        *,
        position: tuple[Decimal, Decimal | None] | None = None,
        cash: Decimal | None = None,
    ) -> None:
        """Write an order and, for a fill, the new position and cash in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                    (client_order_id, venue_order_id, symbol, json.dumps(result)),
                )
                if position is not None:
                    quantity, average = position
                    self._db.execute(
                        "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                        (symbol, str(quantity), None if average is None else str(average)),
                    )
                if cash is not None:
                    self._db.execute("UPDATE cash SET amount = ? WHERE id = 1", (str(cash),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()
