"""Who drives which API key: instance heartbeats and key leases in PostgreSQL.

Why leases in a table rather than session advisory locks: an advisory lock lives as long as its
connection, and a dead peer's connection can stay open for minutes (TCP keepalive), behind a
pooler it may not exist at all, and the holder cannot tell when it lost it. A lease here has a
bounded, configured life (``lease_seconds``), is judged by one clock (the database's ``now()``),
can be inspected with a SELECT, and its holder knows a deadline after which it must stop.

A lease is not renewed per key: every incarnation renews its own row in ``cluster_instances``,
and a key's lease is held while its ``owner`` incarnation is alive. One UPDATE per heartbeat,
whatever the number of keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .db import Connection
from .schema import LEASE_LOCK


@dataclass(frozen=True, slots=True)
class Balance:
    """One round of lease acquisition, as the database saw it."""

    owned: frozenset[str]  # keys this incarnation holds now (taken this round included)
    taken: dict[str, int]  # keys taken this round, with their new generation
    live: int  # instances alive, this one included
    share: int  # the keys each live instance should drive: ceil(keys / live)


class LeaseTable:
    def __init__(self, db: Connection, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    async def register(self, incarnation: str, instance_id: str) -> None:
        async with self.db.use() as conn:
            await conn.execute(
                "INSERT INTO cluster_instances (incarnation, instance_id, expires_at)"
                " VALUES (%s, %s, now() + make_interval(secs => %s))",
                (incarnation, instance_id, self.lease_seconds))

    async def renew(self, incarnation: str) -> bool:
        """Push this incarnation's expiry forward; False when it had expired already (the
        others may have taken its keys: it must not come back to life)."""
        async with self.db.use() as conn:
            cursor = await conn.execute(
                "UPDATE cluster_instances SET expires_at = now() + make_interval(secs => %s)"
                " WHERE incarnation = %s AND expires_at > now() RETURNING 1",
                (self.lease_seconds, incarnation))
            return await cursor.fetchone() is not None

    async def balance(self, incarnation: str, keys: list[str]) -> Balance:
        """Take free keys (no owner, or a dead one) up to this instance's fair share, in one
        transaction serialised by an advisory lock: two instances never take the same key."""
        async with self.db.use() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LEASE_LOCK,))
            await conn.execute(
                "INSERT INTO cluster_leases (lease_key) SELECT unnest(%s::text[])"
                " ON CONFLICT DO NOTHING", (keys,))
            cursor = await conn.execute(
                "SELECT count(*) FROM cluster_instances WHERE expires_at > now()")
            row = await cursor.fetchone()
            live = max(int(row[0]) if row else 1, 1)
            cursor = await conn.execute(
                "SELECT lease_key, owner IS NOT DISTINCT FROM %s FROM cluster_leases"
                " WHERE lease_key = ANY(%s) AND (owner IS NULL OR owner = %s OR NOT EXISTS"
                " (SELECT 1 FROM cluster_instances i WHERE i.incarnation = cluster_leases.owner"
                " AND i.expires_at > now())) ORDER BY lease_key",
                (incarnation, keys, incarnation))
            rows = await cursor.fetchall()
            owned = {key for key, mine in rows if mine}
            free = [key for key, mine in rows if not mine]
            share = math.ceil(len(keys) / live)
            wanted = free[:max(0, share - len(owned))]
            taken: dict[str, int] = {}
            if wanted:
                cursor = await conn.execute(
                    "UPDATE cluster_leases SET owner = %s, generation = generation + 1,"
                    " acquired_at = now() WHERE lease_key = ANY(%s)"
                    " RETURNING lease_key, generation", (incarnation, wanted))
                taken = {key: int(generation) for key, generation in await cursor.fetchall()}
            return Balance(frozenset(owned | set(taken)), taken, live, share)

    async def release(self, incarnation: str, keys: list[str]) -> None:
        """Give keys up (rebalancing, shutdown): the next heartbeat of another instance takes
        them, without waiting for an expiry."""
        async with self.db.use() as conn:
            await conn.execute(
                "UPDATE cluster_leases SET owner = NULL WHERE owner = %s AND lease_key = ANY(%s)",
                (incarnation, keys))

    async def retire(self, incarnation: str) -> None:
        """A clean stop: every key released, the incarnation gone."""
        async with self.db.use() as conn, conn.transaction():
            await conn.execute("UPDATE cluster_leases SET owner = NULL WHERE owner = %s",
                               (incarnation,))
            await conn.execute("DELETE FROM cluster_instances WHERE incarnation = %s",
                               (incarnation,))

    async def owners(self) -> dict[str, str | None]:
        """Every key's owning instance id (None: free or dead owner), for status pages."""
        async with self.db.use() as conn:
            cursor = await conn.execute(
                "SELECT l.lease_key, i.instance_id FROM cluster_leases l LEFT JOIN"
                " cluster_instances i ON i.incarnation = l.owner AND i.expires_at > now()")
            return {key: instance for key, instance in await cursor.fetchall()}
