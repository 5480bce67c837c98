"""The journal's write connection, shared by the event loop and by threads, committing in groups.

An fsync costs the same for one row as for a hundred, so writes that arrive while a commit is on
the disk go together into the next transaction. The commit is fsynced (``synchronous=FULL``)
when any write in the group asked for durability.

Where each part runs, and why:

* Coroutines (``submit_async``): the statements of a group run on the event loop thread itself,
  in one transaction, and only the ``COMMIT`` (the fsync) goes to a helper thread. The Python
  work of a write is then done by the thread that already holds the interpreter lock. A writer
  thread running the statements instead had to win that lock back from a busy loop after every
  statement, which made a burst of claims wait tens of milliseconds for a commit that needed 5.
  The helper is one thread fed by a queue, which wakes the loop with ``call_soon_threadsafe``:
  about 40 µs of CPU less per durable commit than ``run_in_executor``'s futures (bench/).
  Committing on the loop itself would save more alone but stalls every other alert for the
  length of the fsync, which cost more with many alerts in flight.
* Threads and code without a loop (``write``): run their one write and commit in place.

Durability can also be asked for after the write (``submit_deferred_async``, then
``ensure_durable_async``): every group gets a number, in commit order, and the writer knows the
highest one on disk. In WAL mode the log is appended in commit order and a ``synchronous=FULL``
commit fsyncs all of it, so one durable commit makes every commit before it durable too. A
claim answered only after its alert executed therefore needs no fsync of its own: the first leg
intent's durable commit covers it, and ``ensure_durable_async`` forces one (a row that changes,
since a commit that changes nothing writes nothing to the log) only when nothing durable has
followed.

One lock owns the connection from ``BEGIN`` to the end of ``COMMIT``; the helper thread releases
it after the commit it was handed. A write that fails (say, a constraint) must not undo the
others: its group is then run again with each write inside its own savepoint, which is what
every write would otherwise pay for.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

MAX_GROUP = 256  # writes per transaction, so one commit never grows without bound
LOCK_POLL_SECONDS = 0.001  # while a thread's own write holds the connection

Work = Callable[[sqlite3.Connection], Any]
Outcome = tuple[Any, BaseException | None]  # (result, error)
# Told of each committed group: its seconds (statements and commit), writes, durability.
CommitObserver = Callable[[float, int, bool], None]


@dataclass(slots=True)
class _Write:
    work: Work
    durable: bool
    future: asyncio.Future[Any]
    deferred: bool = False  # resolves to (result, group number): ``submit_deferred_async``


_Commit = tuple[asyncio.AbstractEventLoop, "asyncio.Future[BaseException | None]", int]


@dataclass(slots=True)
class _Queue:
    """Writes from one event loop waiting for their group, and the task committing them."""

    writes: list[_Write] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class GroupCommitWriter:
    """``sync_mark``: a write that always changes a row (and so always writes to the log),
    committed durably by ``ensure_durable*`` when no durable commit has covered a group yet."""

    def __init__(self, db: sqlite3.Connection, *, sync_mark: Work) -> None:
        self._db = db
        self._sync_mark = sync_mark
        self._lock = threading.Lock()
        # (loop, its future, group number) of each durable COMMIT handed over; None: stop
        self._commits: SimpleQueue[_Commit | None] = SimpleQueue()
        self._committer: threading.Thread | None = None  # started by the first hand-over
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}
        self._synchronous_full = True  # the connection is opened with synchronous=FULL
        self._closed = False
        # Groups are numbered as they begin, with the lock held: numbers follow commit order.
        self._groups = 0  # the last number given
        self._durable_through = 0  # every group up to this one is on disk
        self._deferred_through = 0  # the last group holding a deferred write
        self.on_commit: CommitObserver | None = None  # /metrics, when on

    @property
    def durable_through(self) -> int:
        """The highest group number known to be on disk (every group before it is too)."""
        return self._durable_through

    # -- threads ------------------------------------------------------------------------------

    def write(self, work: Work, *, durable: bool) -> Any:
        """Run one write in its own transaction and commit it; returns what ``work`` returned.
        Blocks the calling thread (on the event loop, prefer ``submit_async``)."""
        self._check_open()
        with self._lock:
            number = self._next_group()
            self._set_durability(durable)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            if durable:
                self._durable_through = number
        return result

    def ensure_durable(self, group: int | None = None) -> None:
        """``ensure_durable_async`` for threads and code without a loop (blocks)."""
        target = self._deferred_through if group is None else group
        if target > self._durable_through:
            self.write(self._sync_mark, durable=True)

    # -- coroutines ---------------------------------------------------------------------------

    def submit_async(self, work: Work, *, durable: bool) -> asyncio.Future[Any]:
        """Queue a write for the running loop's next group; await the returned future for what
        ``work`` returned, once its group is committed. Writes keep their order."""
        return self._queue_write(work, durable=durable, deferred=False)

    def submit_deferred_async(self, work: Work) -> asyncio.Future[tuple[Any, int]]:
        """Queue a write whose durability is asked for later: it commits without an fsync of
        its own, and the future resolves to (what ``work`` returned, the number of the group
        that committed it), for ``ensure_durable_async``."""
        return self._queue_write(work, durable=False, deferred=True)

    async def ensure_durable_async(self, group: int | None = None) -> None:
        """Return once group ``group`` (by default: every group that held a deferred write so
        far) is on disk: at once when a durable commit has covered it, else after a durable
        commit of ``sync_mark``, which covers it (one fsync, shared by the writes in its
        group)."""
        target = self._deferred_through if group is None else group
        if target > self._durable_through:
            await self.submit_async(self._sync_mark, durable=True)

    def _queue_write(self, work: Work, *, durable: bool, deferred: bool) -> asyncio.Future[Any]:
        self._check_open()
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future = loop.create_future()
        queue.writes.append(_Write(work, durable, future, deferred))
        if queue.task is None:
            queue.task = loop.create_task(self._drain(loop, queue))
        return future

    async def _drain(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        try:
            while queue.writes:
                group, queue.writes = queue.writes[:MAX_GROUP], queue.writes[MAX_GROUP:]
                # Held only by this thread between here and the hand-over, by the helper during
                # a commit, or by a thread's own write: waiting here never holds anyone up.
                while not self._lock.acquire(blocking=False):
                    await asyncio.sleep(LOCK_POLL_SECONDS)
                number = self._next_group()
                started = time.perf_counter()
                try:
                    outcomes = self._run_group(group)
                except BaseException as exc:
                    self._lock.release()
                    _settle(group, [(None, exc)] * len(group), number)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                if any(write.deferred for write in group):
                    # before the commit: a reader that sees these rows sees this number too
                    self._deferred_through = number
                durable = any(write.durable for write in group)
                if durable:
                    error = await self._commit_durably(loop, number)
                else:  # no fsync: quick enough for the loop
                    error = self._commit_and_unlock(number, False)
                if self.on_commit is not None and error is None:
                    self.on_commit(time.perf_counter() - started, len(group), durable)
                _settle(group, outcomes if error is None else [(None, error)] * len(group),
                        number)
        finally:
            queue.task = None
            if not queue.writes:
                self._queues.pop(loop, None)

    def _run_group(self, group: list[_Write]) -> list[Outcome]:
        """BEGIN and every write of the group, with the lock held; the transaction stays open
        for the commit. Raises (with nothing open) when the transaction cannot even start."""
        self._set_durability(any(write.durable for write in group))
        try:
            try:
                return self._statements(group, isolated=False)
            except Exception:  # some write failed: run them again, each on its own
                self._db.execute("ROLLBACK")
                return self._statements(group, isolated=True)
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _statements(self, group: list[_Write], *, isolated: bool) -> list[Outcome]:
        db = self._db
        outcomes: list[Outcome] = []
        db.execute("BEGIN IMMEDIATE")
        for write in group:
            if not isolated:
                outcomes.append((write.work(db), None))
                continue
            db.execute("SAVEPOINT w")
            try:
                outcomes.append((write.work(db), None))
            except Exception as exc:  # this write only; the group goes on
                db.execute("ROLLBACK TO w")
                outcomes.append((None, exc))
            db.execute("RELEASE w")
        return outcomes

    async def _commit_durably(self, loop: asyncio.AbstractEventLoop,
                              number: int) -> BaseException | None:
        """The fsynced COMMIT of the open group, on the helper thread (the lock is held)."""
        if self._committer is None:
            self._committer = threading.Thread(target=self._commit_forever,
                                               name="journal-commit", daemon=True)
            self._committer.start()
        future: asyncio.Future[BaseException | None] = loop.create_future()
        self._commits.put((loop, future, number))
        return await future

    def _commit_forever(self) -> None:
        """The helper thread: commit each group handed over, in order, and tell its loop."""
        while (commit := self._commits.get()) is not None:
            loop, future, number = commit
            error = self._commit_and_unlock(number, True)
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future, error)

    def _commit_and_unlock(self, number: int, durable: bool) -> BaseException | None:
        try:
            self._db.execute("COMMIT")
            if durable:  # with the lock held: no later group can have committed yet
                self._durable_through = number
        except Exception as exc:  # the transaction failed: nothing of it is on disk
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            return exc
        finally:
            self._lock.release()
        return None

    def _next_group(self) -> int:
        """The number of the group about to begin (the caller holds the lock)."""
        self._groups += 1
        return self._groups

    def _set_durability(self, durable: bool) -> None:
        # Outcomes alone skip the fsync; they reach the disk with the next durable commit.
        if durable != self._synchronous_full:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._synchronous_full = durable

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Commit whatever is still queued (in place), then stop the helper thread."""
        if self._closed:
            return
        if self._committer is not None:  # a commit handed over finishes first
            self._commits.put(None)
            self._committer.join()
            self._committer = None
        for queue in list(self._queues.values()):
            writes, queue.writes = queue.writes, []
            for write in writes:
                try:
                    result: Outcome = (self.write(write.work, durable=write.durable), None)
                except Exception as exc:
                    result = (None, exc)
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    _settle([write], [result], self._groups)
        self._queues.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the journal is closed")


def _resolve(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():  # the drain went away (its loop stopping); the commit stands
        future.set_result(error)


def _settle(group: list[_Write], outcomes: list[Outcome], number: int) -> None:
    for write, (result, error) in zip(group, outcomes, strict=True):
        if write.future.done():  # the waiter went away; the write itself stands
            continue
        if error is not None:
            write.future.set_exception(error)
        else:
            write.future.set_result((result, number) if write.deferred else result)
