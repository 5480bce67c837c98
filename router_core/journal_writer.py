"""One thread that owns the journal's write connection and commits in groups.

An fsync costs the same for one row as for a hundred. Writes queue up while a commit is on
the disk and go together into the next transaction. The commit is fsynced
(``synchronous=FULL``) when any write in the group asked for durability. A write that fails
(say, a constraint) must not undo the others: the group is then run again with each write
inside its own savepoint, which is what every write would otherwise pay for.

Threads get a ``concurrent.futures.Future`` (``submit``); coroutines get an asyncio future
(``submit_async``). The answers for one event loop go back in a single call per group, so a
burst of a hundred claims wakes the loop once, not a hundred times, and the writer spends as
little time as possible holding the interpreter lock that the loop needs.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

MAX_GROUP = 256  # writes per transaction, so one commit never grows without bound

Work = Callable[[sqlite3.Connection], Any]
Outcome = tuple[Any, BaseException | None]  # (result, error)


@dataclass(slots=True)
class _Write:
    work: Work
    durable: bool
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None  # set for an asyncio future


_STOP = object()


class GroupCommitWriter:
    def __init__(self, db: sqlite3.Connection, name: str = "journal-writer") -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Write | object] = queue.SimpleQueue()
        self._synchronous_full = True  # the connection is opened with synchronous=FULL
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Work, *, durable: bool) -> Future[Any]:
        """For threads: wait on the returned future (``.result()``)."""
        future: Future[Any] = Future()
        self._put(_Write(work, durable, future))
        return future

    def submit_async(self, work: Work, *, durable: bool) -> asyncio.Future[Any]:
        """For coroutines on the running loop: await the returned future."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put(_Write(work, durable, future, loop))
        return future

    def _put(self, write: _Write) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the journal is closed")
        self._queue.put(write)

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
            _deliver(group, self._commit(group))
            if stop:
                return

    def _commit(self, group: list[_Write]) -> list[Outcome]:
        try:
            self._set_durability(any(write.durable for write in group))
            try:
                return self._transaction(group, isolated=False)
            except Exception:  # some write failed: run them again, each on its own
                return self._transaction(group, isolated=True)
        except Exception as exc:  # the transaction itself failed: nothing of it is on disk
            return [(None, exc)] * len(group)

    def _transaction(self, group: list[_Write], *, isolated: bool) -> list[Outcome]:
        db = self._db
        outcomes: list[Outcome] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for write in group:
                if not isolated:
                    outcomes.append((write.work(db), None))
                    continue
                db.execute("SAVEPOINT w")
                try:
                    result = write.work(db)
                except Exception as exc:  # this write only; the group goes on
                    db.execute("ROLLBACK TO w")
                    outcomes.append((None, exc))
                else:
                    outcomes.append((result, None))
                db.execute("RELEASE w")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return outcomes

    def _set_durability(self, durable: bool) -> None:
        # Outcomes alone skip the fsync; they reach the disk with the next durable commit.
        if durable != self._synchronous_full:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._synchronous_full = durable


def _deliver(group: list[_Write], outcomes: list[Outcome]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
    for write, outcome in zip(group, outcomes, strict=True):
        if write.loop is None:
            result, error = outcome
            if error is not None:
                write.future.set_exception(error)
            else:
                write.future.set_result(result)
        else:
            by_loop.setdefault(write.loop, []).append((write.future, outcome))  # type: ignore[arg-type]
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _settle(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    """On the loop: hand each waiting coroutine its answer."""
    for future, (result, error) in answers:
        if future.cancelled():  # the waiter went away; the write itself stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
