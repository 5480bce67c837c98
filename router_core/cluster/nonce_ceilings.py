"""Nonce ceilings in the shared database (``router_core.nonces.CeilingStore``).

A nonce source writes a ceiling before handing out nonces above the last one (once per minute
of nonces); here that ceiling also goes to ``cluster_nonces``, and an instance taking a key over
starts above it. Blocking calls on purpose: the write is rare and must be durable before the
nonce it covers is used. It comes from the nonce source's helper thread (ahead of need) or, when
that has not kept up, from the caller of ``next``; the lock keeps one statement at a time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..journal_location import PgTarget


class PgCeilings:
    def __init__(self, target: PgTarget) -> None:
        self._target = target
        self._conn: Any = None
        self._lock = threading.Lock()

    def _run(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            for attempt in (1, 2):  # one reconnect: the database restarted since the last use
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = self._target.connect(autocommit=True)
                    return self._conn.execute(sql, args).fetchone()
                except Exception:
                    conn, self._conn = self._conn, None
                    if conn is not None:
                        conn.close()
                    if attempt == 2:
                        raise
        return None

    def read(self, key_fingerprint: str) -> int:
        row = self._run("SELECT ceiling FROM cluster_nonces WHERE key_fingerprint = %s",
                        (key_fingerprint,))
        return int(row[0]) if row else 0

    def write(self, key_fingerprint: str, ceiling: int) -> None:
        self._run("INSERT INTO cluster_nonces (key_fingerprint, ceiling) VALUES (%s, %s)"
                  " ON CONFLICT (key_fingerprint) DO UPDATE"
                  " SET ceiling = greatest(cluster_nonces.ceiling, excluded.ceiling)"
                  " RETURNING ceiling", (key_fingerprint, ceiling))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
