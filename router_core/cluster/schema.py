"""The cluster's own tables in the journal's PostgreSQL database, created idempotently.

Five tables, all prefixed ``cluster_``:

* ``cluster_instances``: one row per running process (an *incarnation*: the instance id plus a
  random suffix, new at every start and after every lost lease), with ``expires_at`` pushed
  forward by its heartbeat. An incarnation whose ``expires_at`` is past is dead for everyone.
* ``cluster_leases``: one row per API key (its fingerprint, never the key), naming the
  incarnation that drives it. A lease is held while its owner is alive; taking a key whose
  owner is dead bumps ``generation``.
* ``cluster_work``: one row per (alert, account): the account's part of an alert, executed by the
  owner of the account's key. ``state`` is pending, running (``owner``) or done (``result``).
* ``cluster_alerts``: which incarnation assembles an alert's report (the one that accepted it,
  or the one that adopted it after that one died).
* ``cluster_nonces``: each key's nonce ceiling (``router_core.nonces``), so the next owner of a
  key starts above every nonce the previous one could have used.

They are versioned migrations of the component ``cluster`` (``journal_pg.migrate``: one
transaction holding the migration lock, so instances starting together never race each other's
``CREATE``; the version is kept beside the journal's in ``schema_versions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..journal_location import PgTarget

LEASE_LOCK = 0x616C_7274_6C73  # "alrtls": serialises lease acquisition (one short transaction)

# Each entry is one migration (a script run in one transaction); append, never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE cluster_instances (
        incarnation text PRIMARY KEY,
        instance_id text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE cluster_leases (
        lease_key text PRIMARY KEY,
        owner text,
        generation bigint NOT NULL DEFAULT 0,
        acquired_at timestamptz
    );
    CREATE TABLE cluster_work (
        alert_id text NOT NULL,
        account text NOT NULL,
        lease_key text NOT NULL,
        multiplier text NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        owner text,
        result jsonb,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        started_at timestamptz,
        finished_at timestamptz,
        PRIMARY KEY (alert_id, account)
    );
    CREATE INDEX cluster_work_open ON cluster_work (lease_key, created_at) WHERE state <> 'done';
    CREATE TABLE cluster_alerts (
        alert_id text PRIMARY KEY,
        incarnation text NOT NULL
    );
    CREATE TABLE cluster_nonces (
        key_fingerprint text PRIMARY KEY,
        ceiling bigint NOT NULL
    );
    """,
)

def ensure_schema(target: PgTarget) -> int:
    """Bring the cluster tables to the current version (blocking: run it in a thread)."""
    from ..journal_pg import migrate

    with target.connect() as conn:
        return migrate(conn, "cluster", MIGRATIONS, where=f" of {target.display}")
