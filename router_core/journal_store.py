"""What the journal needs from a database (``JournalStore``), and the SQLite implementation.

The journal's queries are written once, in SQL both backends run (``?`` placeholders; the
PostgreSQL store translates them), inside small *work* functions that take a ``Db``: a
connection whose ``execute(sql, args)`` returns a cursor with ``rowcount``, ``fetchone`` and
``fetchall``. A store owns the connections and runs those functions:

* ``writer.write(work, durable=...)`` runs one write in its own transaction, from any thread;
* ``writer.submit_async(work, durable=...)`` queues one for the event loop's next group commit;
* ``writer.submit_deferred_async(work)`` queues one whose durability is asked for later, with
  ``writer.ensure_durable_async(group)`` (a claim answered only after its alert executed);
* ``read(sql, args)`` answers a query at once, from any thread.

``SqliteStore`` (the embedded default) is the WAL database of ``journal_schema`` with the group
commit writer of ``journal_writer``; ``journal_pg.PgStore`` is its PostgreSQL counterpart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .journal_schema import connect, migrate
from .journal_writer import GroupCommitWriter


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """A connection inside a write transaction, as a work function sees it."""

    def execute(self, sql: str, parameters: tuple[Any, ...] = ..., /) -> Cursor: ...


Work = Callable[[Db], Any]


class Writer(Protocol):
    inline_when: Callable[[], bool] | None  # see GroupCommitWriter; PostgreSQL ignores it

    def write(self, work: Work, *, durable: bool) -> Any: ...

    def submit_async(self, work: Work, *, durable: bool) -> asyncio.Future[Any]: ...

    def write_async(self, work: Work, *, durable: bool, inline: bool = False
                    ) -> asyncio.Future[Any]: ...

    def submit_deferred_async(self, work: Work) -> asyncio.Future[tuple[Any, int]]: ...

    async def ensure_durable_async(self, group: int | None = None) -> None: ...

    def ensure_durable(self, group: int | None = None) -> None: ...

    def close(self) -> None: ...


class JournalStore(Protocol):
    """One journal database. ``location`` names it for people (a path, or host:port/db, never a
    password); ``errors`` are what its driver raises when the database fails."""

    @property
    def backend(self) -> str: ...  # "sqlite" or "postgresql"

    @property
    def location(self) -> str: ...

    @property
    def writer(self) -> Writer: ...

    @property
    def errors(self) -> tuple[type[Exception], ...]: ...

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    # ``read`` for a short query on the event loop's per-alert path (the halt flags)
    def read_short(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


class SqliteStore:
    """The journal in one SQLite file (WAL, ``synchronous=FULL``). Writes share commits in
    groups (``journal_writer``); reads use their own connection, which WAL lets run beside the
    writes."""

    backend = "sqlite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path | str) -> None:
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.location = str(path)
        db = connect(str(path))
        migrate(db)
        # An in-memory database exists once per connection: reads share the writer's.
        self._reader = db if memory else connect(str(path))
        self._read_lock = threading.Lock()
        self._db = db
        self.writer = GroupCommitWriter(db, sync_mark=_sync_mark)

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def read_short(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """``read`` on the write connection while it is free (``read_if_free``: it need not
        reload what the last commit changed, as the read connection must), else ``read``."""
        rows = self.writer.read_if_free(sql, args)
        return self.read(sql, args) if rows is None else rows

    def schema_version(self) -> int:
        return int(self.read("PRAGMA user_version")[0][0])

    def close(self) -> None:
        self.writer.close()
        with self._read_lock:
            if self._reader is not self._db:
                self._reader.close()
        self._db.close()


SYNC_MARK_FLAG = "journal:forced_syncs"


def _sync_mark(db: Db) -> None:
    """Count one forced fsync in the flags table. A commit that changes nothing writes nothing
    to the WAL, so it would sync nothing: this one always changes a row, so committing it
    durably fsyncs the log, and with it every commit before (``journal_writer``)."""
    db.execute(
        "INSERT INTO flags VALUES (?, '1', ?) ON CONFLICT (name) DO UPDATE"
        " SET value = CAST(CAST(flags.value AS INTEGER) + 1 AS TEXT),"
        " updated_at = excluded.updated_at",
        (SYNC_MARK_FLAG, time.time()),
    )
