"""One PostgreSQL connection for one job, reopened after it broke (psycopg 3, asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..journal_location import PgTarget


class Connection:
    """An autocommit ``psycopg.AsyncConnection`` used by one coroutine at a time.

    The cluster keeps its jobs on separate connections so a slow one never delays another:
    the heartbeat (whose lateness would cost the leases) never waits behind work queries."""

    def __init__(self, target: PgTarget, name: str) -> None:
        self.target = target
        self.name = name
        self._conn: Any = None
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[Any]:
        import psycopg

        async with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await self.target.connect_async(autocommit=True)
            try:
                yield self._conn
            except (psycopg.OperationalError, psycopg.InterfaceError):
                await self._drop()
                raise

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
