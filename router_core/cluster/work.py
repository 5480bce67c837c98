"""The work table: each account's part of an alert, executed by the owner of the account's key.

An instance that accepts an alert writes one row per target account. When it drives the
account's key itself the row is written as running under it and executed at once; otherwise the
row is pending, and a ``NOTIFY`` wakes the key's owner, which claims it with
``FOR UPDATE SKIP LOCKED`` (its polling finds it too, should the notification be lost). The
owner writes the account's result into the row and notifies; whoever assembles the alert's
report (the accepting instance, or one that adopted the alert after it died) reads it there.

A row is executed at most by one incarnation at a time (the lease); a row left running by an
incarnation that died is claimed again by the key's next owner, whose re-run resumes the legs
the journal holds (looked up by client order id, never sent twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .db import Connection

WORK_CHANNEL = "alert_router_work"  # payload: the lease key with new work
DONE_CHANNEL = "alert_router_done"  # payload: "<alert_id> <account>"
CLAIM_BATCH = 200
ASSEMBLE = ("INSERT INTO cluster_alerts (alert_id, incarnation) VALUES (%s, %s)"
            " ON CONFLICT (alert_id) DO UPDATE SET incarnation = EXCLUDED.incarnation")


@dataclass(frozen=True, slots=True)
class WorkRow:
    alert_id: str
    account: str
    lease_key: str
    multiplier: str
    state: str
    owner: str | None
    result: dict[str, Any] | None
    inserted: bool = False


class WorkTable:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def enqueue(self, alert_id: str, account: str, lease_key: str, multiplier: str,
                      owner: str | None, *, assembler: str | None = None) -> WorkRow:
        """Write the row (running under ``owner`` when given, else pending, with a NOTIFY to
        the key's owner), or return the row written before (a re-run of the alert). With
        ``assembler``, the same transaction records who assembles the alert's report."""
        state = "running" if owner else "pending"
        async with self.db.use() as conn, conn.transaction():
            if assembler is not None:
                await conn.execute(ASSEMBLE, (alert_id, assembler))
            cursor = await conn.execute(
                "INSERT INTO cluster_work (alert_id, account, lease_key, multiplier, state, owner,"
                " started_at) VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                (alert_id, account, lease_key, multiplier, state, owner, owner is not None))
            if await cursor.fetchone() is not None:
                if owner is None:
                    await conn.execute("SELECT pg_notify(%s, %s)", (WORK_CHANNEL, lease_key))
                return WorkRow(alert_id, account, lease_key, multiplier, state, owner, None,
                               inserted=True)
            cursor = await conn.execute(
                "SELECT lease_key, multiplier, state, owner, result FROM cluster_work"
                " WHERE alert_id = %s AND account = %s", (alert_id, account))
            row = await cursor.fetchone()
            assert row is not None  # the conflict says it exists; rows are never deleted early
            return WorkRow(alert_id, account, row[0], row[1], row[2], row[3], row[4])

    async def claim(self, incarnation: str, keys: list[str]) -> list[WorkRow]:
        """Rows of these keys that no live run holds: pending ones, and running ones of an
        earlier owner (dead, or this process before it lost its leases), oldest first."""
        async with self.db.use() as conn:
            cursor = await conn.execute(
                "UPDATE cluster_work w SET state = 'running', owner = %s, started_at = now()"
                " FROM (SELECT alert_id, account FROM cluster_work"
                "       WHERE state <> 'done' AND lease_key = ANY(%s)"
                "       AND owner IS DISTINCT FROM %s ORDER BY created_at"
                "       LIMIT %s FOR UPDATE SKIP LOCKED) c"
                " WHERE w.alert_id = c.alert_id AND w.account = c.account"
                " RETURNING w.alert_id, w.account, w.lease_key, w.multiplier, w.created_at",
                (incarnation, keys, incarnation, CLAIM_BATCH))
            rows = sorted(await cursor.fetchall(), key=lambda r: r[4])
        return [WorkRow(a, acc, key, mult, "running", incarnation, None)
                for a, acc, key, mult, _ in rows]

    async def complete(self, alert_id: str, account: str, incarnation: str,
                       result: dict[str, Any]) -> bool:
        """Store the account's result; False when the row is no longer this incarnation's
        (its lease was lost and another owner re-ran it)."""
        async with self.db.use() as conn, conn.transaction():
            cursor = await conn.execute(
                "UPDATE cluster_work SET state = 'done', result = %s, finished_at = now()"
                " WHERE alert_id = %s AND account = %s AND owner = %s AND state = 'running'"
                " RETURNING 1", (json.dumps(result), alert_id, account, incarnation))
            if await cursor.fetchone() is None:
                return False
            await conn.execute("SELECT pg_notify(%s, %s)", (DONE_CHANNEL, f"{alert_id} {account}"))
            return True

    async def results(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The results of those (alert, account) rows that are done."""
        if not pairs:
            return {}
        async with self.db.use() as conn:
            cursor = await conn.execute(
                "SELECT alert_id, account, result FROM cluster_work WHERE state = 'done'"
                " AND (alert_id, account) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([a for a, _ in pairs], [b for _, b in pairs]))
            return {(a, b): r for a, b, r in await cursor.fetchall()}

    async def assemble(self, alert_id: str, incarnation: str) -> None:
        """This incarnation assembles the alert's report (it accepted or adopted it)."""
        async with self.db.use() as conn:
            await conn.execute(ASSEMBLE, (alert_id, incarnation))

    async def adopt(self, alert_id: str, incarnation: str) -> bool:
        """Become the assembler of an unfinished alert whose assembler is dead (or that never
        had one: its instance died between the answer and the first row)."""
        async with self.db.use() as conn:
            cursor = await conn.execute(
                "INSERT INTO cluster_alerts (alert_id, incarnation) VALUES (%s, %s)"
                " ON CONFLICT (alert_id) DO UPDATE SET incarnation = EXCLUDED.incarnation"
                " WHERE NOT EXISTS (SELECT 1 FROM cluster_instances i"
                " WHERE i.incarnation = cluster_alerts.incarnation AND i.expires_at > now())"
                " RETURNING 1", (alert_id, incarnation))
            return await cursor.fetchone() is not None

    async def purge(self, older_than_seconds: float) -> int:
        """Forget finished rows past the journal's retention."""
        async with self.db.use() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM cluster_work WHERE state = 'done'"
                " AND finished_at < now() - make_interval(secs => %s)", (older_than_seconds,))
            await conn.execute(
                "DELETE FROM cluster_alerts a WHERE NOT EXISTS (SELECT 1 FROM cluster_work w"
                " WHERE w.alert_id = a.alert_id) AND NOT EXISTS (SELECT 1 FROM cluster_instances i"
                " WHERE i.incarnation = a.incarnation AND i.expires_at > now())")
            return int(cursor.rowcount or 0)
