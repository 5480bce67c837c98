"""The durable journal: SQLite in WAL mode with ``synchronous=FULL``.

What it guarantees, and what the rest of the router relies on:

* an alert is *claimed* in one atomic insert (two unique keys: the delivery key, a hash of the
  raw body, and the intent key); a resent body or a re-fired alert finds the first claim;
* a leg's intent (its client order id and the order) is committed before the first byte goes to
  a venue, and its outcome after; a leg without a final outcome is reconciled at start;
* the report of every alert is kept for ``GET /alerts`` and ``alert-router journal``.

Schema changes are migrations (``MIGRATIONS``), applied in order and never dropped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

MIGRATIONS: tuple[str, ...] = (
    # 1: alerts, legs, flags
    """
    CREATE TABLE alerts (
        alert_id     TEXT PRIMARY KEY,
        delivery_key TEXT NOT NULL UNIQUE,
        intent_key   TEXT NOT NULL UNIQUE,
        fingerprint  TEXT NOT NULL,
        alert        TEXT NOT NULL,
        received_at  REAL NOT NULL,
        peer         TEXT,
        source       TEXT NOT NULL,
        state        TEXT NOT NULL,
        reason       TEXT,
        report       TEXT,
        finished_at  REAL
    );
    CREATE INDEX alerts_received ON alerts (received_at);
    CREATE INDEX alerts_state ON alerts (state);
    CREATE TABLE legs (
        client_order_id TEXT PRIMARY KEY,
        alert_id        TEXT NOT NULL REFERENCES alerts (alert_id),
        account         TEXT NOT NULL,
        broker          TEXT NOT NULL,
        symbol          TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        side            TEXT,
        quantity        TEXT,
        notional        TEXT,
        order_json      TEXT NOT NULL,
        status          TEXT NOT NULL,
        result          TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX legs_status ON legs (status);
    CREATE INDEX legs_account_time ON legs (account, created_at);
    CREATE TABLE flags (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
    """,
    # 2: realised profit and loss per account and UTC day, for the daily loss limit
    """
    CREATE TABLE pnl (
        account TEXT NOT NULL, day TEXT NOT NULL, realised TEXT NOT NULL,
        PRIMARY KEY (account, day)
    );
    """,
)


class AlertState(StrEnum):
    RECEIVED = "received"  # durable, answered 2xx, not executed yet
    EXECUTING = "executing"
    DONE = "done"
    REFUSED = "refused"  # refused before any leg (halt, risk, stale); reason says why


LEG_PENDING = "pending"  # intent committed; the venue may or may not have it
LEG_GIVEN_UP = "absent_given_up"  # not found across the reconcile window: for the operator
# Legs an operator must still see: never purged, whatever their age.
UNSETTLED = (LEG_PENDING, "unknown", LEG_GIVEN_UP)


class ClaimOutcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # same body, or same intent with the same order content
    CONFLICT = "conflict"  # same intent key, different order content


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    alert_id: str


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert_id: str
    intent_key: str
    alert: dict[str, Any]
    received_at: float
    peer: str | None
    source: str
    state: AlertState
    reason: str | None
    report: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LegRecord:
    client_order_id: str
    alert_id: str
    account: str
    broker: str
    symbol: str
    purpose: str
    status: str
    order: dict[str, Any]
    result: dict[str, Any] | None


class Journal:
    """One SQLite database; safe to call from several threads (one writer at a time)."""

    def __init__(self, path: Path | str, *, clock: Any = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._time = clock.time if clock is not None else time.time
        self._migrate()

    # -- schema -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._tx():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction. ``durable=False`` skips the fsync at commit: the rows reach the
        disk with the next durable commit and survive a crash of the process, but not a power
        loss. Only outcomes use it; a lost outcome is found again at the venue by
        reconciliation, while claims and intents are always fsynced."""
        with self._lock:
            if not durable:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if not durable:
                    self._db.execute("PRAGMA synchronous=FULL")

    # -- alerts -------------------------------------------------------------------------------

    def claim(
        self,
        *,
        alert_id: str,
        delivery_key: str,
        intent_key: str,
        fingerprint: str,
        alert: Mapping[str, Any],
        peer: str | None,
        source: str,
        state: AlertState = AlertState.RECEIVED,
        reason: str | None = None,
    ) -> Claim:
        """Record a new alert durably, or say which earlier alert it repeats."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO alerts (alert_id, delivery_key, intent_key, fingerprint, alert,"
                " received_at, peer, source, state, reason) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (
                    alert_id,
                    delivery_key,
                    intent_key,
                    fingerprint,
                    json.dumps(alert),
                    self._time(),
                    peer,
                    source,
                    state.value,
                    reason,
                ),
            )
            if cursor.rowcount == 1:
                return Claim(ClaimOutcome.NEW, alert_id)
            row = db.execute(
                "SELECT alert_id, fingerprint, delivery_key FROM alerts"
                " WHERE delivery_key = ? OR intent_key = ? ORDER BY delivery_key = ? DESC LIMIT 1",
                (delivery_key, intent_key, delivery_key),
            ).fetchone()
        existing_id, existing_fingerprint, existing_delivery = row
        if existing_delivery == delivery_key or existing_fingerprint == fingerprint:
            return Claim(ClaimOutcome.DUPLICATE, existing_id)
        return Claim(ClaimOutcome.CONFLICT, existing_id)

    def set_state(
        self,
        alert_id: str,
        state: AlertState,
        *,
        reason: str | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        finished = self._time() if state in (AlertState.DONE, AlertState.REFUSED) else None
        with self._tx(durable=False) as db:
            db.execute(
                "UPDATE alerts SET state = ?, reason = coalesce(?, reason),"
                " report = coalesce(?, report), finished_at = coalesce(?, finished_at)"
                " WHERE alert_id = ?",
                (
                    state.value,
                    reason,
                    json.dumps(report) if report is not None else None,
                    finished,
                    alert_id,
                ),
            )

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        row = self._db.execute(
            "SELECT alert_id, intent_key, alert, received_at, peer, source, state, reason, report"
            " FROM alerts WHERE alert_id = ?",
            (alert_id,),
        ).fetchone()
        return _alert_record(row) if row else None

    def recent_alerts(self, limit: int = 50) -> list[AlertRecord]:
        rows = self._db.execute(
            "SELECT alert_id, intent_key, alert, received_at, peer, source, state, reason, report"
            " FROM alerts ORDER BY received_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_alert_record(row) for row in rows]

    def unfinished_alerts(self) -> list[AlertRecord]:
        """Alerts answered 2xx whose execution never finished: they must not be lost."""
        rows = self._db.execute(
            "SELECT alert_id, intent_key, alert, received_at, peer, source, state, reason, report"
            " FROM alerts WHERE state IN (?, ?) ORDER BY received_at, rowid",
            (AlertState.RECEIVED.value, AlertState.EXECUTING.value),
        ).fetchall()
        return [_alert_record(row) for row in rows]

    def purge(self, older_than_seconds: float) -> int:
        """Forget finished alerts (and their final legs) older than the retention."""
        cutoff = self._time() - older_than_seconds
        with self._tx() as db:
            db.execute(
                "DELETE FROM legs WHERE status NOT IN (?, ?, ?) AND alert_id IN (SELECT alert_id"
                " FROM alerts WHERE received_at < ? AND state IN ('done', 'refused'))",
                (*UNSETTLED, cutoff),
            )
            cursor = db.execute(
                "DELETE FROM alerts WHERE received_at < ? AND state IN ('done', 'refused')"
                " AND alert_id NOT IN (SELECT alert_id FROM legs)",
                (cutoff,),
            )
            return cursor.rowcount

    # -- legs ---------------------------------------------------------------------------------

    def record_intent(
        self,
        *,
        client_order_id: str,
        alert_id: str,
        account: str,
        broker: str,
        symbol: str,
        purpose: str,
        side: str | None,
        quantity: str | None,
        notional: str | None,
        order: Mapping[str, Any],
    ) -> bool:
        """Commit a leg's intent before it is sent. False when the leg was already journaled
        (a re-run after a restart): the caller must then use the recorded outcome."""
        now = self._time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO legs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    client_order_id,
                    alert_id,
                    account,
                    broker,
                    symbol,
                    purpose,
                    side,
                    quantity,
                    notional,
                    json.dumps(order),
                    LEG_PENDING,
                    None,
                    now,
                    now,
                ),
            )
            return cursor.rowcount == 1

    def record_outcome(self, client_order_id: str, result: Mapping[str, Any]) -> None:
        with self._tx(durable=False) as db:
            db.execute(
                "UPDATE legs SET status = ?, result = ?, updated_at = ? WHERE client_order_id = ?",
                (result["status"], json.dumps(result), self._time(), client_order_id),
            )

    def get_leg(self, client_order_id: str) -> LegRecord | None:
        row = self._db.execute(
            "SELECT client_order_id, alert_id, account, broker, symbol, purpose, status,"
            " order_json, result FROM legs WHERE client_order_id = ?",
            (client_order_id,),
        ).fetchone()
        return _leg_record(row) if row else None

    def legs_for_alert(self, alert_id: str) -> list[LegRecord]:
        rows = self._db.execute(
            "SELECT client_order_id, alert_id, account, broker, symbol, purpose, status,"
            " order_json, result FROM legs WHERE alert_id = ? ORDER BY created_at, rowid",
            (alert_id,),
        ).fetchall()
        return [_leg_record(row) for row in rows]

    def unresolved_legs(self) -> list[LegRecord]:
        """Legs sent (or about to be) without a final outcome: reconcile before new alerts."""
        rows = self._db.execute(
            "SELECT client_order_id, alert_id, account, broker, symbol, purpose, status,"
            " order_json, result FROM legs WHERE status IN (?, ?) ORDER BY created_at",
            (LEG_PENDING, "unknown"),
        ).fetchall()
        return [_leg_record(row) for row in rows]

    def open_legs(self, account: str, symbol: str) -> list[LegRecord]:
        """Orders this router placed that rest at the venue (for ``cancel``)."""
        rows = self._db.execute(
            "SELECT client_order_id, alert_id, account, broker, symbol, purpose, status,"
            " order_json, result FROM legs WHERE account = ? AND symbol = ? AND status = ?",
            (account, symbol, "accepted"),
        ).fetchall()
        return [_leg_record(row) for row in rows]

    def legs_since(self, account: str, since: float) -> int:
        """How many legs were committed for an account since a time (orders per minute)."""
        return int(
            self._db.execute(
                "SELECT count(*) FROM legs WHERE account = ? AND created_at >= ?"
                " AND purpose != 'cancel'",
                (account, since),
            ).fetchone()[0]
        )

    # -- flags and profit and loss ------------------------------------------------------------

    def set_flag(self, name: str, value: str | None) -> None:
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM flags WHERE name = ?", (name,))
            else:
                db.execute(
                    "INSERT INTO flags VALUES (?, ?, ?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (name, value, self._time()),
                )

    def get_flag(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM flags WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def add_realised_pnl(self, account: str, day: str, amount: str) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT realised FROM pnl WHERE account = ? AND day = ?", (account, day)
            ).fetchone()
            total = Decimal(row[0] if row else 0) + Decimal(amount)
            db.execute(
                "INSERT INTO pnl VALUES (?, ?, ?) ON CONFLICT (account, day)"
                " DO UPDATE SET realised = excluded.realised",
                (account, day, str(total)),
            )

    def realised_pnl(self, account: str, day: str) -> str:
        row = self._db.execute(
            "SELECT realised FROM pnl WHERE account = ? AND day = ?", (account, day)
        ).fetchone()
        return row[0] if row else "0"

    def writable(self) -> bool:
        """Whether a write transaction can start now (health checks); writes nothing."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _alert_record(row: tuple) -> AlertRecord:
    return AlertRecord(
        alert_id=row[0],
        intent_key=row[1],
        alert=json.loads(row[2]),
        received_at=row[3],
        peer=row[4],
        source=row[5],
        state=AlertState(row[6]),
        reason=row[7],
        report=json.loads(row[8]) if row[8] else None,
    )


def _leg_record(row: tuple) -> LegRecord:
    return LegRecord(
        client_order_id=row[0],
        alert_id=row[1],
        account=row[2],
        broker=row[3],
        symbol=row[4],
        purpose=row[5],
        status=row[6],
        order=json.loads(row[7]),
        result=json.loads(row[8]) if row[8] else None,
    )
