"""One thread that owns the journal's write connection and commits in groups.

An fsync costs the same for one row as for a hundred. Writes queue up while a commit is on
the disk and go together into the next transaction, each inside its own savepoint so one
failing write does not undo the others. The commit is fsynced (``synchronous=FULL``) when any
write in the group asked for durability. Callers get a ``concurrent.futures.Future``: threads
wait on it, coroutines await it, and the event loop never blocks on the disk.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

MAX_GROUP = 256  # writes per transaction, so one commit never grows without bound

Work = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Write:
    work: Work
    durable: bool
    future: Future[Any] = field(default_factory=Future)


_STOP = object()


class GroupCommitWriter:
    def __init__(self, db: sqlite3.Connection, name: str = "journal-writer") -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Write | object] = queue.SimpleQueue()
        self._synchronous_full = True  # the connection is opened with synchronous=FULL
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Work, *, durable: bool) -> Future[Any]:
        if not self._thread.is_alive():
            raise RuntimeError("the journal is closed")
        write = _Write(work, durable)
        self._queue.put(write)
        return write.future

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group: list[_Write] = [first]  # type: ignore[list-item]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)  # type: ignore[arg-type]
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Write]) -> None:
        outcomes: list[tuple[_Write, Any, BaseException | None]] = []
        try:
            self._set_durability(any(write.durable for write in group))
            self._db.execute("BEGIN IMMEDIATE")
            for write in group:
                self._db.execute("SAVEPOINT w")
                try:
                    result = write.work(self._db)
                except Exception as exc:  # this write only; the group goes on
                    self._db.execute("ROLLBACK TO w")
                    self._db.execute("RELEASE w")
                    outcomes.append((write, None, exc))
                else:
                    self._db.execute("RELEASE w")
                    outcomes.append((write, result, None))
            self._db.execute("COMMIT")
        except Exception as exc:  # the transaction itself failed: nothing of it is on disk
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            for write in group:
                write.future.set_exception(exc)
            return
        for write, result, error in outcomes:
            if error is not None:
                write.future.set_exception(error)
            else:
                write.future.set_result(result)

    def _set_durability(self, durable: bool) -> None:
        # Outcomes alone skip the fsync; they reach the disk with the next durable commit.
        if durable != self._synchronous_full:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._synchronous_full = durable
