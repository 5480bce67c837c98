"""The durable journal: SQLite in WAL mode with ``synchronous=FULL`` (the embedded default), or
PostgreSQL (``[journal] url``) for several instances sharing one.

What it guarantees, and what the rest of the router relies on:

* an alert is *claimed* in one atomic insert (two unique keys: the delivery key, a hash of the
  raw body, and the intent key); a resent body or a re-fired alert finds the first claim. A
  claim answered only after its alert executed may defer its fsync (``claim_deferred_async``):
  the next durable commit covers it, and ``ensure_durable_async`` says when it has;
* a leg's intent (its client order id and the order) is committed before the first byte goes to
  a venue, and its outcome after; a leg without a final outcome is reconciled at start;
* the report of every alert is kept for ``GET /alerts`` and ``alert-router journal``.

Schema changes are migrations (``journal_schema.MIGRATIONS``), applied in order, never dropped.
The queries below are the same text on both backends (``journal_store`` says how they run;
``journal_pg`` what PostgreSQL needs to run them): a query that works on one only is a bug.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from .journal_location import PgTarget, is_pg_url
from .journal_store import Db, JournalStore, SqliteStore, Work
from .json_text import text_encoder
from .models import Fill

log = logging.getLogger("router_core.journal")

REFUSED_PER_PEER_PER_MINUTE = 20
REFUSED_PER_MINUTE = 60
REFUSED_WINDOW_SECONDS = 60.0
REFUSED_REASON_CHARS = 400
_REFUSED_TRACKED_PEERS = 256  # per minute, for the summary's "mostly from"


class AlertState(StrEnum):
    RECEIVED = "received"  # durable, answered 2xx, not executed yet
    EXECUTING = "executing"
    DONE = "done"
    REFUSED = "refused"  # refused before any leg (halt, risk, stale); reason says why


LEG_PENDING = "pending"  # intent committed; the venue may or may not have it
LEG_GIVEN_UP = "absent_given_up"  # not found across the reconcile window: for the operator
# Legs an operator must still see: never purged, whatever their age.
UNSETTLED = (LEG_PENDING, "unknown", LEG_GIVEN_UP)
# Legs whose order may still change at the venue.
_LIVE = (LEG_PENDING, "unknown", "accepted", "partially_filled")
# A leg the router sent, not one journaled for an order the venue created from one of its
# orders (``record_venue_child_async``; its order names the parent).
_NOT_A_CHILD = "json_extract(order_json, '$.parent_venue_order_id') IS NULL"
# The JSON of leg intents, outcomes and alert reports (twice a leg, and a report per alert).
_LEG_JSON = text_encoder()


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
    # {account: {"broker", "digest"}} chosen at acceptance; None for alerts
    # journaled before routing was recorded, or refused before any account was chosen
    routing: dict[str, dict[str, str]] | None = None


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


@dataclass(frozen=True, slots=True)
class RefusedRecord:
    """A delivery the webhook refused, or (``dropped`` > 0, ``status`` None) the count of one
    minute's refusals that were over the recording limits."""

    received_at: float
    peer: str | None
    route: str | None
    body_bytes: int | None
    content_type: str | None
    body_sha256: str | None
    status: int | None
    reason: str
    dropped: int


@dataclass(slots=True)
class _RefusedWindow:
    """One minute of refused deliveries: what was recorded, and what was only counted."""

    start: float
    total: int = 0
    recorded: dict[str, int] = field(default_factory=dict)  # peer -> rows this minute
    dropped: int = 0
    dropped_by_peer: dict[str, int] = field(default_factory=dict)
    first_dropped_at: float = 0.0
    summary_id: int | None = None
    summary_queued: bool = False


class Journal:
    """One journal database: a SQLite file (``path``) or a PostgreSQL database (a ``PgTarget``,
    or its ``postgresql://`` URL without a password). Writes share commits in groups; every
    method is safe to call from any thread; the ``*_async`` ones never wait for the disk or the
    network on the event loop."""

    def __init__(self, target: Path | str | PgTarget, *, clock: Any = None) -> None:
        self._time = clock.time if clock is not None else time.time
        store: JournalStore
        if isinstance(target, str) and is_pg_url(target):
            target = PgTarget.from_url(target)
        if isinstance(target, PgTarget):
            from .journal_pg import PgStore  # psycopg only where PostgreSQL is configured

            store = PgStore(target)
            self.path: Path | None = None
            self.pg_target: PgTarget | None = target
        else:
            store = SqliteStore(target)
            self.path = Path(target)
            self.pg_target = None
        self._store = store
        self.backend = store.backend
        self.location = store.location  # a path, or host:port/database: for messages
        self._writer = store.writer
        self._refused_lock = threading.Lock()
        self._refused_window: _RefusedWindow | None = None

    # -- plumbing -----------------------------------------------------------------------------

    def _write(self, work: Work, *, durable: bool = True) -> Any:
        return self._writer.write(work, durable=durable)

    def _write_async(self, work: Work, *, durable: bool = True, inline: bool = False
                     ) -> asyncio.Future[Any]:
        # the writer's future itself, for the caller to await (a coroutine around it cost
        # ~0.1 µs a write)
        return self._writer.write_async(work, durable=durable, inline=inline)

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, ``?`` placeholders, on either backend (see ``journal_store``)."""
        return self._store.read(sql, args)

    @property
    def schema_version(self) -> int:
        return self._store.schema_version()

    # -- alerts -------------------------------------------------------------------------------

    def claim(self, **fields: Any) -> Claim:
        """Record a new alert durably, or say which earlier alert it repeats. Keywords:
        alert_id, delivery_key, intent_key, fingerprint, alert, peer, source, state, reason,
        routing (and, optionally, ``routing_json`` and ``alert_json``: the ``json.dumps`` texts
        of ``routing`` and ``alert``, made already)."""
        return self._write(self._claim_work(**fields))

    async def claim_async(self, **fields: Any) -> Claim:
        return await self._write_async(self._claim_work(**fields))

    async def claim_deferred_async(self, **fields: Any) -> tuple[Claim, int]:
        """``claim_async`` without an fsync of its own, for an alert executed before anyone is
        answered: returns the claim and the number of the group that committed it. The caller
        must ``ensure_durable_async(group)`` before answering; anything sent to a venue before
        that must follow a durable write (a leg intent) or ``ensure_durable_async()``."""
        claim, group = await self._writer.submit_deferred_async(self._claim_work(**fields))
        return claim, group

    async def ensure_durable_async(self, group: int | None = None) -> None:
        """Return once the journal's commit ``group`` (by default: every claim made so far
        without its own fsync) is on disk; at once when a later durable commit covered it."""
        await self._writer.ensure_durable_async(group)

    def ensure_durable(self, group: int | None = None) -> None:
        """``ensure_durable_async`` for threads and code without a loop (blocks)."""
        self._writer.ensure_durable(group)

    def _claim_work(
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
        routing: Mapping[str, Any] | None = None,
        routing_json: str | None = None,
        alert_json: str | None = None,
    ) -> Work:
        # ``routing_json``: ``json.dumps(routing)`` done already by the caller (the router
        # keeps it for every alert to the same accounts); ``alert_json``: ``json.dumps(alert)``,
        # the very text, made by the router beside the fingerprint's
        if routing_json is None and routing is not None:
            routing_json = json.dumps(routing)
        if alert_json is None:
            alert_json = json.dumps(alert)
        row = (alert_id, delivery_key, intent_key, fingerprint, alert_json, self._time(),
               peer, source, state.value, reason, routing_json)

        def work(db: Db) -> Claim:
            cursor = db.execute(
                "INSERT INTO alerts (alert_id, delivery_key, intent_key, fingerprint, alert,"
                " received_at, peer, source, state, reason, routing)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                row,
            )
            if cursor.rowcount == 1:
                return Claim(ClaimOutcome.NEW, alert_id)
            existing_id, existing_fingerprint, existing_delivery = db.execute(
                "SELECT alert_id, fingerprint, delivery_key FROM alerts"
                " WHERE delivery_key = ? OR intent_key = ? ORDER BY delivery_key = ? DESC LIMIT 1",
                (delivery_key, intent_key, delivery_key),
            ).fetchone()
            if existing_delivery == delivery_key or existing_fingerprint == fingerprint:
                return Claim(ClaimOutcome.DUPLICATE, existing_id)
            return Claim(ClaimOutcome.CONFLICT, existing_id)

        return work

    def earlier_claim(self, delivery_key: str, intent_key: str, fingerprint: str) -> Claim | None:
        """What ``claim`` would answer for these keys if the alert is journaled already (a
        DUPLICATE or a CONFLICT naming the earlier alert), or ``None``; writes nothing."""
        rows = self._read(
            "SELECT alert_id, fingerprint, delivery_key FROM alerts"
            " WHERE delivery_key = ? OR intent_key = ? ORDER BY delivery_key = ? DESC LIMIT 1",
            (delivery_key, intent_key, delivery_key),
        )
        if not rows:
            return None
        existing_id, existing_fingerprint, existing_delivery = rows[0]
        if existing_delivery == delivery_key or existing_fingerprint == fingerprint:
            return Claim(ClaimOutcome.DUPLICATE, existing_id)
        return Claim(ClaimOutcome.CONFLICT, existing_id)

    def set_state(self, alert_id: str, state: AlertState, **details: Any) -> None:
        """The alert's state, with ``reason`` and ``report`` when given; not fsynced."""
        self._write(self._state_work(alert_id, state, **details), durable=False)

    async def set_state_async(self, alert_id: str, state: AlertState, **details: Any) -> None:
        """``set_state``, committed with the outcomes queued before it (``record_outcome_soon``
        says why that is safe); at once, in the caller, when the journal is free."""
        await self._write_async(self._state_work(alert_id, state, **details), durable=False)

    def _state_work(
        self, alert_id: str, state: AlertState, *, reason: str | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> Work:
        finished = self._time() if state in (AlertState.DONE, AlertState.REFUSED) else None
        args = (state.value, reason, _LEG_JSON(report) if report is not None else None,
                finished, alert_id)

        def work(db: Db) -> None:
            db.execute(
                "UPDATE alerts SET state = ?, reason = coalesce(?, reason),"
                " report = coalesce(?, report), finished_at = coalesce(?, finished_at)"
                " WHERE alert_id = ?",
                args,
            )

        return work

    def get_alert(self, alert_id: str) -> AlertRecord | None:
        rows = self._read(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ?", (alert_id,))
        return _alert_record(rows[0]) if rows else None

    def recent_alerts(self, limit: int = 50) -> list[AlertRecord]:
        rows = self._read(
            f"SELECT {ALERT_COLUMNS} FROM alerts ORDER BY received_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [_alert_record(row) for row in rows]

    def unfinished_alerts(self) -> list[AlertRecord]:
        """Alerts answered 2xx whose execution never finished: they must not be lost."""
        rows = self._read(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE state IN (?, ?) ORDER BY received_at, rowid",
            (AlertState.RECEIVED.value, AlertState.EXECUTING.value),
        )
        return [_alert_record(row) for row in rows]

    def purge(self, older_than_seconds: float) -> int:
        """Forget finished alerts (and their final legs) and refused deliveries older than the
        retention. Returns how many alerts were forgotten."""
        cutoff = self._time() - older_than_seconds

        def work(db: Db) -> int:
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
            db.execute("DELETE FROM refused WHERE received_at < ?", (cutoff,))
            return cursor.rowcount

        return int(self._write(work))

    # -- legs ---------------------------------------------------------------------------------

    def record_intent(self, **fields: Any) -> bool:
        """Commit a leg's intent before it is sent. False when the leg was already journaled
        (a re-run after a restart): the caller must then use the recorded outcome. Keywords:
        client_order_id, alert_id, account, broker, symbol, purpose, side, quantity, notional,
        order."""
        return bool(self._write(self._intent_work(**fields)))

    async def record_intent_async(self, **fields: Any) -> bool:
        """Journal a leg before its order is sent, durably (fsynced). While the owner's
        ``commit_inline_when`` probe says nothing else is under way, SQLite fsyncs it on the
        event loop itself instead of the helper thread."""
        return bool(await self._write_async(self._intent_work(**fields), inline=True))

    def commit_inline_when(self, probe: Callable[[], bool]) -> None:
        """Let leg intents be fsynced on the event loop while ``probe()`` is true: when one
        account's alert is all the process is executing, the loop has nothing to do during
        the fsync, and the hand-over to the commit thread (two cross-thread wake-ups) would
        cost more CPU than the fsync. Claims never commit this way. PostgreSQL's writer has
        its own thread for every write and ignores it."""
        self._writer.inline_when = probe

    async def record_resting_async(self, **fields: Any) -> bool:
        """Journal an order a broker placed by itself for a leg (a separate take profit or
        stop loss) as resting, so an exit or a reversal finds and cancels it. Same keywords as
        ``record_intent``."""
        return bool(await self._write_async(self._intent_work(**fields, status="accepted")))

    async def note_venue_closes_async(self, client_order_id: str, purposes: list[str]) -> None:
        """Mark a sent leg as carrying closes the venue places by itself once it executes
        (Kraken's conditional close): its venue id is then asked about in
        ``venue_close_parents`` until what the venue placed for it is known and finished."""
        args = (json.dumps(purposes), client_order_id)

        def work(db: Db) -> None:
            db.execute(
                "UPDATE legs SET order_json = json_set(order_json, '$.venue_closes', json(?))"
                " WHERE client_order_id = ? AND json_valid(order_json)",
                args,
            )

        await self._write_async(work, durable=False)

    async def record_venue_child_async(
        self, *, client_order_id: str, alert_id: str, account: str, broker: str, symbol: str,
        purpose: str, side: str, quantity: str | None, order: Mapping[str, Any],
        result: Mapping[str, Any],
    ) -> Decimal:
        """Journal an order the venue created from one of the router's (``order`` names its
        parent in ``parent_venue_order_id``) as a leg of the parent's alert, with its latest
        outcome: its fill counts into the holdings once, however often it is seen. Such a leg
        is never sent, looked up by client order id or cancelled by it (``open_legs`` and
        ``unresolved_legs`` never list it). Returns the part of its fill counted now."""
        now = self._time()
        row = (client_order_id, alert_id, account, broker, symbol, purpose, side, quantity,
               None, json.dumps(order), result["status"], None, now, now)
        outcome = self._outcome_work(client_order_id, result)
        text = json.dumps(result)

        def work(db: Db) -> Decimal:
            db.execute(
                "INSERT INTO legs (client_order_id, alert_id, account, broker, symbol, purpose,"
                " side, quantity, notional, order_json, status, result, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                row,
            )
            stored = db.execute(
                "SELECT result FROM legs WHERE client_order_id = ?", (client_order_id,)
            ).fetchone()
            if stored is not None and stored[0] == text:
                return Decimal(0)  # seen before, unchanged
            return outcome(db) or Decimal(0)

        return Decimal(await self._write_async(work))

    def _intent_work(
        self, *, client_order_id: str, alert_id: str, account: str, broker: str, symbol: str,
        purpose: str, side: str | None, quantity: str | None, notional: str | None,
        order: Mapping[str, Any], status: str = LEG_PENDING,
    ) -> Work:
        now = self._time()
        row = (client_order_id, alert_id, account, broker, symbol, purpose, side, quantity,
               notional, _LEG_JSON(order), status, None, now, now)

        def work(db: Db) -> bool:
            cursor = db.execute(
                "INSERT INTO legs (client_order_id, alert_id, account, broker, symbol, purpose,"
                " side, quantity, notional, order_json, status, result, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                row,
            )
            return cursor.rowcount == 1

        return work

    def record_outcome(self, client_order_id: str, result: Mapping[str, Any]) -> None:
        self._write(self._outcome_work(client_order_id, result), durable=False)

    async def record_outcome_async(self, client_order_id: str, result: Mapping[str, Any]) -> None:
        await self._write_async(self._outcome_work(client_order_id, result), durable=False)

    def record_outcome_soon(self, client_order_id: str, result: Mapping[str, Any]) -> None:
        """Queue an outcome without waiting for it: the loop's next step commits it, or the
        next awaited write takes it into its own transaction first. The alert's final state
        (``set_state_async``), awaited right after its last leg's outcome, therefore commits
        in one transaction with it (``journal_writer``); never before it, as the writer keeps
        order.

        Why losing either to a crash is safe: the final state never commits without the
        outcomes queued before it, so a crash before that commit leaves the alert RECEIVED or
        EXECUTING. ``Router.recover`` then leaves its legs alone and executes the alert again;
        ``record_intent`` finds each leg journaled already, and ``LegRunner.resume`` takes its
        recorded final outcome or, for a leg still pending, looks the order up at the venue by
        its client order id. Nothing is sent again blindly, and the state is written then. A
        failing outcome (its own savepoint) leaves the leg pending, to be looked up likewise,
        and does not undo the state committed with it."""
        work = self._outcome_work(client_order_id, result)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing to queue behind
            self._write(work, durable=False)
            return
        self._writer.submit_async(work, durable=False).add_done_callback(_log_failure)

    async def flush(self) -> None:
        """Wait until every write queued so far is committed (the writer keeps order)."""
        await self._writer.submit_async(lambda db: None, durable=False)

    def _outcome_work(self, client_order_id: str, result: Mapping[str, Any]) -> Work:
        status, text, now = result["status"], _LEG_JSON(result), self._time()
        filled = result.get("filled_quantity")

        def work(db: Db) -> Decimal | None:
            if filled is None:
                db.execute(
                    "UPDATE legs SET status = ?, result = ?, updated_at = ?"
                    " WHERE client_order_id = ?",
                    (status, text, now, client_order_id),
                )
                return None
            return _record_filled_outcome(db, client_order_id, status, text, now,
                                          Decimal(str(filled)))

        return work

    def get_leg(self, client_order_id: str) -> LegRecord | None:
        rows = self._read(
            f"SELECT {LEG_COLUMNS} FROM legs WHERE client_order_id = ?", (client_order_id,)
        )
        return _leg_record(rows[0]) if rows else None

    def legs_for_alert(self, alert_id: str) -> list[LegRecord]:
        rows = self._read(
            f"SELECT {LEG_COLUMNS} FROM legs WHERE alert_id = ? ORDER BY created_at, rowid",
            (alert_id,),
        )
        return [_leg_record(row) for row in rows]

    def unresolved_legs(self) -> list[LegRecord]:
        """Legs sent (or about to be) without a final outcome: reconcile before new alerts."""
        rows = self._read(
            f"SELECT {LEG_COLUMNS} FROM legs WHERE status IN (?, ?) ORDER BY created_at",
            (LEG_PENDING, "unknown"),
        )
        return [_leg_record(row) for row in rows]

    def open_legs(self, account: str, symbol: str) -> list[LegRecord]:
        """Orders this router placed that rest at the venue, partly filled ones included
        (for ``cancel``, an exit and a reversal)."""
        rows = self._read(
            f"SELECT {LEG_COLUMNS} FROM legs WHERE account = ? AND symbol = ?"
            f" AND status IN (?, ?) AND {_NOT_A_CHILD} ORDER BY created_at, rowid",
            (account, symbol, "accepted", "partially_filled"),
        )
        return [_leg_record(row) for row in rows]

    def has_resting(self, account: str, symbol: str) -> bool:
        """Whether, as last journaled, an order of this router or one the venue placed for it
        rests on the symbol."""
        rows = self._read(
            "SELECT 1 FROM legs WHERE account = ? AND symbol = ? AND status IN (?, ?) LIMIT 1",
            (account, symbol, "accepted", "partially_filled"),
        )
        return bool(rows)

    def venue_close_parents(self, account: str, symbol: str) -> dict[str, LegRecord]:
        """The router's orders on the symbol, by venue id, whose closes placed by the venue
        (``note_venue_closes_async``) may still change: the order itself may still execute,
        or it executed and no finished close of it is journaled yet. An order that ended
        without executing has none."""
        rows = self._read(
            f"SELECT {LEG_COLUMNS} FROM legs WHERE account = ? AND symbol = ?"
            " AND json_extract(order_json, '$.venue_closes') IS NOT NULL"
            " AND result IS NOT NULL AND json_valid(result)"
            " AND json_extract(result, '$.venue_order_id') IS NOT NULL",
            (account, symbol),
        )
        if not rows:
            return {}
        finished = {
            str(row[0]) for row in self._read(
                "SELECT json_extract(order_json, '$.parent_venue_order_id') FROM legs"
                f" WHERE account = ? AND symbol = ? AND NOT ({_NOT_A_CHILD})"
                f" AND status NOT IN ({', '.join('?' * len(_LIVE))})",
                (account, symbol, *_LIVE),
            )
        }
        parents = {}
        for leg in map(_leg_record, rows):
            result = leg.result or {}
            venue_id = str(result["venue_order_id"])
            if leg.status not in _LIVE:
                executed = leg.status == "filled" or Decimal(
                    str(result.get("filled_quantity") or 0)) > 0
                if not executed or venue_id in finished:
                    continue
            parents[venue_id] = leg
        return parents

    def venue_order_ids(self, account: str, symbol: str) -> set[str]:
        """The venue's ids of every order this router placed for the account and symbol,
        whatever became of it (from the legs' outcomes): an order a venue created from one
        of them (a conditional close) names it as its parent."""
        rows = self._read(
            "SELECT DISTINCT json_extract(result, '$.venue_order_id') FROM legs"
            " WHERE account = ? AND symbol = ? AND result IS NOT NULL AND json_valid(result)",
            (account, symbol),
        )
        return {str(row[0]) for row in rows if row[0]}

    def holdings(self, account: str, symbol: str) -> Decimal:
        """What this router bought for the account and symbol and still holds: its buys'
        fills less its sells' fills (a cash account's position, before the balance cap)."""
        rows = self._read(
            "SELECT quantity FROM holdings WHERE account = ? AND symbol = ?", (account, symbol)
        )
        return Decimal(rows[0][0]) if rows else Decimal(0)

    def resting_sells(self, account: str, symbol: str) -> Decimal:
        """How much of what the router holds is already promised to sell orders that may still
        execute: its own resting, pending or unknown sells, and the venue's resting closes of
        its orders, each for what is left unfilled."""
        rows = self._read(
            "SELECT quantity, result FROM legs WHERE account = ? AND symbol = ? AND side = 'sell'"
            " AND status IN ('accepted', 'partially_filled', 'pending', 'unknown')",
            (account, symbol),
        )
        total = Decimal(0)
        for quantity, result in rows:
            filled = json.loads(result).get("filled_quantity") if result else None
            left = Decimal(quantity or 0) - Decimal(filled or 0)
            total += max(left, Decimal(0))
        return total

    def all_holdings(self) -> list[tuple[str, str, Decimal]]:
        """Every (account, symbol, quantity) the router counts as its own on cash accounts."""
        rows = self._read("SELECT account, symbol, quantity FROM holdings ORDER BY account, symbol")
        return [(account, symbol, Decimal(quantity)) for account, symbol, quantity in rows]

    def set_holdings(self, account: str, symbol: str, quantity: Decimal) -> Decimal:
        """Set what the router counts as its own (an operator adopting coins bought before
        the router counted its fills); returns the previous figure."""

        def work(db: Db) -> Decimal:
            before = _held(db, account, symbol)
            _store_held(db, account, symbol, quantity)
            return before

        return Decimal(self._write(work))

    def legs_since(self, account: str, since: float, *, at_most: int) -> int:
        """How many legs were committed for an account since a time (orders per minute),
        counting no further than ``at_most``: a busy account must not make every check slower."""
        rows = self._read(
            "SELECT count(*) FROM (SELECT 1 FROM legs WHERE account = ? AND created_at >= ?"
            f" AND purpose != 'cancel' AND {_NOT_A_CHILD} LIMIT ?) AS recent",
            (account, since, at_most),
        )
        return int(rows[0][0])

    # -- refused deliveries -------------------------------------------------------------------

    def record_refused(
        self, *, status: int, reason: str, peer: str | None = None, route: str | None = None,
        body_bytes: int | None = None, content_type: str | None = None,
        body_sha256: str | None = None,
    ) -> bool:
        """Journal a delivery the webhook refused, without waiting for the disk: on the event
        loop the row joins the next group commit (not fsynced), elsewhere it is written at
        once. Never pass a body or a secret: ``reason`` and ``content_type`` are cut short and
        made printable, nothing else is read from the request.

        At most ``REFUSED_PER_PEER_PER_MINUTE`` rows per peer and ``REFUSED_PER_MINUTE`` in
        all are written per minute; beyond that a refusal is only counted, in one summary row
        per minute. Returns whether this refusal got a row of its own. Never raises."""
        now = self._time()
        key = peer or "-"
        with self._refused_lock:
            window = self._refused_window
            if window is None or not window.start <= now < window.start + REFUSED_WINDOW_SECONDS:
                start = now - now % REFUSED_WINDOW_SECONDS
                window = self._refused_window = _RefusedWindow(start)
            if (window.total < REFUSED_PER_MINUTE
                    and window.recorded.get(key, 0) < REFUSED_PER_PEER_PER_MINUTE):
                window.total += 1
                window.recorded[key] = window.recorded.get(key, 0) + 1
                row = (now, _printable(peer, 64), _printable(route, 100), body_bytes,
                       _printable(content_type, 100), body_sha256, status,
                       _printable(reason, REFUSED_REASON_CHARS) or "-")
                work: Work = _refused_insert(row)
                recorded = True
            else:
                if window.dropped == 0:
                    window.first_dropped_at = now
                window.dropped += 1
                if key in window.dropped_by_peer or (
                        len(window.dropped_by_peer) < _REFUSED_TRACKED_PEERS):
                    window.dropped_by_peer[key] = window.dropped_by_peer.get(key, 0) + 1
                if window.summary_queued:  # the queued write reads the count when it runs
                    return False
                window.summary_queued = True
                work = self._refused_summary_work(window)
                recorded = False
        self._write_soon(work)
        return recorded

    def _refused_summary_work(self, window: _RefusedWindow) -> Work:
        """Insert or bring up to date the minute's summary row. One such write is queued at a
        time, and it reads the counts when it runs: a flood costs one write per commit."""

        def work(db: Db) -> None:
            with self._refused_lock:
                window.summary_queued = False
                dropped, summary_id = window.dropped, window.summary_id
                top = sorted(window.dropped_by_peer.items(), key=lambda kv: -kv[1])[:3]
            reason = (
                f"rate limit: {dropped} more refused deliveries in this minute were counted but "
                f"not recorded one by one (at most {REFUSED_PER_PEER_PER_MINUTE} per address and "
                f"{REFUSED_PER_MINUTE} in all per minute)"
            )
            if top:
                reason += "; most from " + ", ".join(f"{peer} ({n})" for peer, n in top)
            reason = _printable(reason, REFUSED_REASON_CHARS) or "-"
            if summary_id is not None and db.execute(
                "UPDATE refused SET reason = ?, dropped = ? WHERE id = ?",
                (reason, dropped, summary_id),
            ).rowcount == 1:
                return
            window.summary_id = db.execute(
                "INSERT INTO refused (received_at, reason, dropped) VALUES (?, ?, ?) RETURNING id",
                (window.first_dropped_at, reason, dropped),
            ).fetchone()[0]

        return work

    def _write_soon(self, work: Work) -> None:
        """A non-durable write nobody waits for; a failure is logged, never raised."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop: write in place
            try:
                self._write(work, durable=False)
            except Exception as exc:
                log.error("journal write failed: %s", exc)
            return
        try:
            self._writer.submit_async(work, durable=False).add_done_callback(_log_failure)
        except RuntimeError as exc:  # the journal is closed
            log.error("journal write failed: %s", exc)

    def refused_deliveries(self, limit: int = 50) -> list[RefusedRecord]:
        """Refused deliveries (and rate-limit summaries), newest first."""
        rows = self._read(
            "SELECT received_at, peer, route, body_bytes, content_type, body_sha256, status,"
            " reason, dropped FROM refused ORDER BY received_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [RefusedRecord(*row) for row in rows]

    # -- flags and profit and loss ------------------------------------------------------------

    def set_flag(self, name: str, value: str | None) -> None:
        now = self._time()

        def work(db: Db) -> None:
            if value is None:
                db.execute("DELETE FROM flags WHERE name = ?", (name,))
            else:
                db.execute(
                    "INSERT INTO flags VALUES (?, ?, ?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (name, value, now),
                )

        self._write(work)

    def get_flag(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM flags WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def get_flags(self, names: list[str]) -> dict[str, str]:
        """The flags among ``names`` that are set, by name, read in one query (an alert's
        global and per-account halt flags). The table holds a few rows (the halt flags set
        and the journal's own sync counter), so the query reads it whole and the names are
        picked here: one statement, the same text for any number of names, instead of one
        placeholder per name to build and bind (51 names: 15 -> 5.6 µs of CPU)."""
        if not names:
            return {}
        rows = self._store.read_short("SELECT name, value FROM flags", ())
        wanted = set(names)
        return {name: value for name, value in rows if name in wanted}

    def add_realised_pnl(self, account: str, day: str, amount: str) -> None:
        def work(db: Db) -> None:
            row = db.execute(
                "SELECT realised FROM pnl WHERE account = ? AND day = ?", (account, day)
            ).fetchone()
            total = Decimal(row[0] if row else 0) + Decimal(amount)
            db.execute(
                "INSERT INTO pnl VALUES (?, ?, ?) ON CONFLICT (account, day)"
                " DO UPDATE SET realised = excluded.realised",
                (account, day, str(total)),
            )

        self._write(work)

    def realised_pnl(self, account: str, day: str) -> str:
        rows = self._read(
            "SELECT realised FROM pnl WHERE account = ? AND day = ?", (account, day)
        )
        return rows[0][0] if rows else "0"

    def writable(self) -> bool:
        """Whether a write transaction can start and commit now (health checks)."""
        failures: tuple[type[Exception], ...] = (*self._store.errors, RuntimeError)
        try:
            self._write(lambda db: None, durable=False)
        except failures:
            return False
        return True

    def close(self) -> None:
        self._store.close()

    # -- fills (router_core.fills: a broker's fill stream and its REST backfill) --------------

    async def record_fill_async(self, account: str, fill: Fill, source: str) -> FillOutcome:
        """Record one execution once per ``(account, trade_id)`` and, in the same transaction,
        bring its leg up to date: filled quantity, average price and fees summed over the leg's
        fills, its status, and the holdings ledger (``_record_filled_outcome`` counts only what
        is new, so a REST lookup reporting the same fill later adds nothing). A fill whose order
        is not a leg of this account is kept as foreign (``client_order_id`` NULL).
        ``source``: "stream" or "rest", for the operator."""
        return await self._write_async(self._fill_work(account, fill, source))

    def _fill_work(self, account: str, fill: Fill, source: str) -> Work:
        now = self._time()

        def work(db: Db) -> FillOutcome:
            leg = _leg_of_fill(db, account, fill)
            cursor = db.execute(
                "INSERT INTO fills (account, trade_id, venue_order_id, client_order_id, symbol,"
                " side, quantity, price, fee, fee_currency, filled_at, recorded_at, source)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (account, fill.trade_id, fill.venue_order_id, leg[0] if leg else None,
                 leg[1] if leg else fill.symbol, fill.side.value, format(fill.quantity, "f"),
                 format(fill.price, "f"), format(fill.fee, "f"), fill.fee_currency,
                 fill.time, now, source),
            )
            if cursor.rowcount != 1:
                return FillOutcome(new=False)
            if leg is None:
                return FillOutcome(new=True)
            status = _apply_fill_to_leg(db, leg[0], fill.order_done, now)
            return FillOutcome(new=True, client_order_id=leg[0], leg_status=status)

        return work

    def last_fill_time(self, account: str) -> float | None:
        """When the newest fill journaled for ``account`` executed (the backfill's start)."""
        rows = self._read("SELECT max(filled_at) FROM fills WHERE account = ?", (account,))
        return rows[0][0] if rows and rows[0][0] is not None else None

    def fills(self, account: str | None = None) -> list[FillRecord]:
        """Journaled fills, oldest first; of one account, or of all."""
        where, args = ("WHERE account = ?", (account,)) if account else ("", ())
        rows = self._read(
            f"SELECT {FILL_COLUMNS} FROM fills {where} ORDER BY filled_at, id", args
        )
        return [_fill_record(row) for row in rows]


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What recording one fill did: ``new`` False for a trade id already journaled."""

    new: bool
    client_order_id: str | None = None  # the leg it updated; None for a foreign fill
    leg_status: str | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    account: str
    trade_id: str
    venue_order_id: str
    client_order_id: str | None  # None: foreign (not an order of this router)
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    filled_at: float
    source: str


FILL_COLUMNS = (
    "account, trade_id, venue_order_id, client_order_id, symbol, side, quantity, price, fee,"
    " fee_currency, filled_at, source"
)


def _fill_record(row: tuple) -> FillRecord:
    return FillRecord(row[0], row[1], row[2], row[3], row[4], row[5], Decimal(row[6]),
                      Decimal(row[7]), Decimal(row[8]), row[9], row[10], row[11])


def _leg_of_fill(db: Db, account: str, fill: Fill) -> tuple[str, str] | None:
    """The leg (client order id, symbol) of this account a fill belongs to: by its client
    order id, else by the venue order id the leg's outcome names; None for a foreign fill."""
    if fill.client_order_id:
        row = db.execute(
            "SELECT client_order_id, symbol FROM legs WHERE client_order_id = ? AND account = ?",
            (fill.client_order_id, account),
        ).fetchone()
        if row is not None:
            return row[0], row[1]
    row = db.execute(
        "SELECT client_order_id, symbol FROM legs WHERE account = ?"
        " AND json_extract(result, '$.venue_order_id') = ?",
        (account, fill.venue_order_id),
    ).fetchone()
    return (row[0], row[1]) if row is not None else None


def _apply_fill_to_leg(db: Db, client_order_id: str, done: bool | None, now: float) -> str:
    """Set a leg's outcome from all its journaled fills; returns its new status."""
    rows = db.execute(
        "SELECT quantity, price, fee FROM fills WHERE client_order_id = ?", (client_order_id,)
    ).fetchall()
    filled = sum((Decimal(row[0]) for row in rows), Decimal(0))
    cost = sum((Decimal(row[0]) * Decimal(row[1]) for row in rows), Decimal(0))
    fees = sum((Decimal(row[2]) for row in rows), Decimal(0))
    leg = db.execute(
        "SELECT quantity, result FROM legs WHERE client_order_id = ?", (client_order_id,)
    ).fetchone()
    result = json.loads(leg[1]) if leg[1] else {"client_order_id": client_order_id}
    wanted = Decimal(leg[0]) if leg[0] else None
    complete = wanted is not None and filled >= wanted
    # the venue ended the order short of its size: the rest was cancelled
    status = "filled" if complete or (done and wanted is None) else (
        "canceled" if done else "partially_filled")
    if result.get("status") == "filled" and not complete:
        status = "filled"  # a lookup already saw it finished: fills arriving late keep that
    result.update(status=status, filled_quantity=format(filled, "f"),
                  average_price=format(cost / filled, "f") if filled else None,
                  fees=format(fees, "f"))
    _record_filled_outcome(db, client_order_id, status, json.dumps(result), now, filled)
    return status


def _record_filled_outcome(db: Db, client_order_id: str, status: str, text: str, now: float,
                           filled: Decimal) -> Decimal:
    """A leg's outcome that says how much it filled, and the part of that fill not counted
    yet added to the holdings (``counted`` says how much was); returns that part. Three
    statements, as every order's outcome and every fill pays for them: the leg and its holding
    are read together, and ``counted`` is set with the outcome."""
    row = db.execute(
        "SELECT legs.account, legs.symbol, legs.side, legs.counted, holdings.quantity FROM legs"
        " LEFT JOIN holdings ON holdings.account = legs.account"
        " AND holdings.symbol = legs.symbol WHERE legs.client_order_id = ?",
        (client_order_id,),
    ).fetchone()
    delta = Decimal(0)
    if row is not None and row[2] in ("buy", "sell"):
        delta = filled - Decimal(row[3] or 0)
        if not delta.is_finite():
            delta = Decimal(0)
    if delta == 0:  # nothing new to count: ``counted`` stays as it is
        db.execute(
            "UPDATE legs SET status = ?, result = ?, updated_at = ? WHERE client_order_id = ?",
            (status, text, now, client_order_id),
        )
        return delta
    account, symbol, side, _, held = row
    db.execute(
        "UPDATE legs SET status = ?, result = ?, updated_at = ?, counted = ?"
        " WHERE client_order_id = ?",
        (status, text, now, format(filled, "f"), client_order_id),
    )
    _store_held(db, account, symbol, Decimal(held or 0) + (delta if side == "buy" else -delta))
    return delta


def _held(db: Db, account: str, symbol: str) -> Decimal:
    row = db.execute(
        "SELECT quantity FROM holdings WHERE account = ? AND symbol = ?", (account, symbol)
    ).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


def _store_held(db: Db, account: str, symbol: str, quantity: Decimal) -> None:
    db.execute(
        "INSERT INTO holdings VALUES (?, ?, ?) ON CONFLICT (account, symbol)"
        " DO UPDATE SET quantity = excluded.quantity",
        (account, symbol, format(quantity, "f")),
    )


def _refused_insert(row: tuple[Any, ...]) -> Work:
    def work(db: Db) -> None:
        db.execute(
            "INSERT INTO refused (received_at, peer, route, body_bytes, content_type,"
            " body_sha256, status, reason) VALUES (?,?,?,?,?,?,?,?)",
            row,
        )

    return work


def _printable(text: str | None, limit: int) -> str | None:
    """``text`` on one line of printable characters (no terminal escapes), at most ``limit``
    characters long."""
    if text is None:
        return None
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        log.error("journal write failed: %s", future.exception())


ALERT_COLUMNS = (
    "alert_id, intent_key, alert, received_at, peer, source, state, reason, report, routing"
)
LEG_COLUMNS = (
    "client_order_id, alert_id, account, broker, symbol, purpose, status, order_json, result"
)


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
        routing=json.loads(row[9]) if row[9] else None,
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
