"""The journal's write connection, shared by the event loop and by threads, committing in groups.

An fsync costs the same for one row as for a hundred, so writes that arrive while a commit is on
the disk go together into the next transaction. The commit is fsynced (``synchronous=FULL``)
when any write in the group asked for durability.

Where each part runs, and why:

* Coroutines: the statements of a group run on the event loop thread itself, in one
  transaction, and only a durable ``COMMIT`` (the fsync) goes to a helper thread. The Python
  work of a write is then done by the thread that already holds the interpreter lock. A writer
  thread running the statements instead had to win that lock back from a busy loop after every
  statement, which made a burst of claims wait tens of milliseconds for a commit that needed 5.
  The helper is one thread fed by a queue, which wakes the loop with ``call_soon_threadsafe``:
  about 40 µs of CPU less per durable commit than ``run_in_executor``'s futures (bench/).
  Committing on the loop itself would save more alone but stalls every other alert for the
  length of the fsync, which cost more with many alerts in flight.
* A write someone awaits (``write_async``, ``submit_deferred_async``) runs at once, in the
  caller, when nothing of its loop is being committed and the connection is free: it takes
  every write queued before it into its group (so order holds), and a group without
  durability commits right there, so the awaited future is already done. No task, no step of
  the loop: a write costs little more than its statements. Otherwise it joins the queue.
  That needs a calm journal: its last ``CALM_COMMITS`` durable commits each held one write
  and found nothing queued behind them. With several alerts in flight, awaited writes wait
  for the loop's next step instead, as before, and share groups: ten alerts' writes then
  commit in three groups rather than ten or more.
* A write nobody waits for (``submit_async``: an outcome, a refused delivery) is queued; the
  loop's next step commits the queue, unless an awaited write takes it along first. An alert's
  last leg outcome and its final state, written one after the other, so commit together.
* While a durable group is with the helper thread, the loop's writes queue up; the end of that
  commit (``_committed``, on the loop) settles its group and commits what queued meanwhile.
* One exception to the helper thread: a leg intent (``write_async(..., inline=True)``) is
  fsynced on the loop itself while its owner says nothing else is under way
  (``inline_when``: the router executing one account's alert and nothing else). The loop has
  nothing to do during that fsync, and the hand-over's two wake-ups cost more CPU than it.
* Threads and code without a loop (``write``): run their one write and commit in place.

Durability can also be asked for after the write (``submit_deferred_async``, then
``ensure_durable_async``): every group gets a number, in commit order, and the writer knows the
highest one on disk. In WAL mode the log is appended in commit order and a ``synchronous=FULL``
commit fsyncs all of it, so one durable commit makes every commit before it durable too. A
claim answered only after its alert executed therefore needs no fsync of its own: the first leg
intent's durable commit covers it, and ``ensure_durable_async`` forces one (a row that changes,
since a commit that changes nothing writes nothing to the log) only when nothing durable has
followed. For the same reason a durable group whose writes change no row (a duplicate claim, a
leg intent journaled already) writes ``sync_mark`` too while a deferred write is not on disk:
else its commit would sync nothing and still be counted as covering that write.

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

from .helper_threads import start_helper_thread

MAX_GROUP = 256  # writes per transaction, so one commit never grows without bound
# An awaited write runs at once only after this many durable commits in a row had no write
# queued behind them: with several alerts in flight, writes wait for the loop's next step and
# share a group, as one commit for ten writes costs less than ten (``_enqueue``).
CALM_COMMITS = 3
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
    inline: bool = False  # its fsync may run on the loop when ``inline_when`` says so


@dataclass(slots=True)
class _Queue:
    """Writes from one event loop waiting for their group, and what will commit them."""

    writes: list[_Write] = field(default_factory=list)
    committing: bool = False  # a durable group of this loop is with the helper thread
    scheduled: bool = False  # ``_kick`` is due (the loop's next step, or a lock retry)
    sync: asyncio.Future[Any] | None = None  # the last ``sync_mark`` write ``ensure_durable``


# A durable group handed to the helper thread: (its loop, the loop's queue, the group, its
# outcomes, its number, when it began)
_Commit = tuple[asyncio.AbstractEventLoop, _Queue, list[_Write], list[Outcome], int, float]


class GroupCommitWriter:
    """``sync_mark``: a write that always changes a row (and so always writes to the log),
    committed durably by ``ensure_durable*`` when no durable commit has covered a group yet."""

    def __init__(self, db: sqlite3.Connection, *, sync_mark: Work) -> None:
        self._db = db
        self._sync_mark = sync_mark
        self._lock = threading.Lock()
        # each durable group handed over for its COMMIT (``_Commit``); None: stop
        self._commits: SimpleQueue[_Commit | None] = SimpleQueue()
        self._committer: threading.Thread | None = None  # started by the first hand-over
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}
        self._synchronous_full = True  # the connection is opened with synchronous=FULL
        self._closed = False
        # Durable commits in a row, each of one durable write with nothing queued behind it:
        # at least CALM_COMMITS, and awaited writes run at once (``_enqueue``).
        self._calm = CALM_COMMITS
        # Groups are numbered as they begin, with the lock held: numbers follow commit order.
        self._groups = 0  # the last number given
        self._durable_through = 0  # every group up to this one is on disk
        self._deferred_through = 0  # the last group holding a deferred write
        self.on_commit: CommitObserver | None = None  # /metrics, when on
        # The owner's word that nothing else of the process is under way (``write_async``'s
        # ``inline``); None: every durable COMMIT goes to the helper thread.
        self.inline_when: Callable[[], bool] | None = None

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
                changes = self._db.total_changes
                result = work(self._db)
                if durable:
                    self._make_durable_commit_write(changed=self._db.total_changes != changes)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            if durable:
                self._durable_through = number
        return result

    def read_if_free(self, sql: str, args: tuple[Any, ...]) -> list[Any] | None:
        """The rows of one short query run on the write connection, or ``None`` when that
        connection is busy (a group is open or being committed: the caller then reads on its
        own connection). With the lock taken no transaction is open, so the query sees what
        is committed, as any reader would. Why: after each commit a second connection must
        reload what changed before it reads, and this one need not (~7 µs less per alert for
        the halt flags, bench/)."""
        if self._closed or not self._lock.acquire(blocking=False):
            return None
        try:
            if self._db.in_transaction:  # never read what is not committed yet
                return None
            return self._db.execute(sql, args).fetchall()
        finally:
            self._lock.release()

    def ensure_durable(self, group: int | None = None) -> None:
        """``ensure_durable_async`` for threads and code without a loop (blocks)."""
        target = self._deferred_through if group is None else group
        if target > self._durable_through:
            self.write(self._sync_mark, durable=True)

    # -- coroutines ---------------------------------------------------------------------------

    def write_async(self, work: Work, *, durable: bool, inline: bool = False
                    ) -> asyncio.Future[Any]:
        """Run a write now, for a caller that awaits it; await the returned future for what
        ``work`` returned, once it is committed. When the journal is calm (``CALM_COMMITS``),
        nothing of this loop is being committed and the connection is free, the write (with
        every write queued before it, in their order) runs at once in the caller: without
        durability it is committed there too and the future is already done; a durable
        group's ``COMMIT`` goes to the helper thread, or, with ``inline`` and while
        ``inline_when()`` is true, is committed right there too (see ``_commits_inline``).
        Otherwise it waits for the next group, as ``submit_async``."""
        return self._enqueue(work, durable=durable, deferred=False, now=True, inline=inline)

    def submit_async(self, work: Work, *, durable: bool) -> asyncio.Future[Any]:
        """Queue a write for the running loop's next group, which begins at the loop's next
        step (or earlier, with the next ``write_async``); await the returned future for what
        ``work`` returned, once its group is committed. Writes keep their order. For writes
        nobody waits for: writes queued in one step of the loop share one transaction."""
        return self._enqueue(work, durable=durable, deferred=False, now=False, inline=False)

    def submit_deferred_async(self, work: Work) -> asyncio.Future[tuple[Any, int]]:
        """Run a write whose durability is asked for later (as ``write_async``, at once when
        the connection is free): it commits without an fsync of its own, and the future
        resolves to (what ``work`` returned, the number of the group that committed it), for
        ``ensure_durable_async``."""
        return self._enqueue(work, durable=False, deferred=True, now=True, inline=False)

    async def ensure_durable_async(self, group: int | None = None) -> None:
        """Return once group ``group`` (by default: every group that held a deferred write so
        far) is on disk: at once when a durable commit has covered it, else after a durable
        commit of ``sync_mark``, which covers it (one fsync, shared by the writes in its
        group)."""
        target = self._deferred_through if group is None else group
        while target > self._durable_through:
            loop = asyncio.get_running_loop()
            queue = self._queues.get(loop)
            pending = queue.sync if queue is not None else None
            if pending is None or pending.done():
                pending = self.write_async(self._sync_mark, durable=True)
                if not pending.done():
                    self._queues[loop].sync = pending
            # One queued or being committed already is shared: it begins after (or is) the
            # group awaited, as groups begin one at a time. The loop checks it covered it.
            await asyncio.shield(pending)

    def _enqueue(self, work: Work, *, durable: bool, deferred: bool, now: bool,
                 inline: bool) -> asyncio.Future[Any]:
        self._check_open()
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._new_queue(loop)
        future = loop.create_future()
        queue.writes.append(_Write(work, durable, future, deferred, inline))
        if queue.committing:  # the end of that commit takes up what is queued
            pass
        elif now and self._calm >= CALM_COMMITS:
            self._pump(loop, queue)
        else:
            self._schedule(loop, queue, 0.0)
        return future

    def _new_queue(self, loop: asyncio.AbstractEventLoop) -> _Queue:
        """The queue of a loop writing for the first time. A loop's queue is kept while the
        loop lives (one made and dropped per write cost ~1 µs a write); the empty queues of
        closed loops go now, so a process running loop after loop keeps none of theirs."""
        for old, queue in list(self._queues.items()):
            if old.is_closed() and not queue.writes:
                self._queues.pop(old, None)  # another loop's thread may drop it first
        queue = self._queues[loop] = _Queue()
        return queue

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        """Commit the loop's queued writes, in groups and in order, as far as can be done
        now, on the loop's thread: a group without durability commits here; a durable group
        hands its ``COMMIT`` over and the rest waits for ``_committed``; a connection held
        elsewhere (a thread's own write) is tried again shortly."""
        while queue.writes and not queue.committing:
            if not self._lock.acquire(blocking=False):
                self._schedule(loop, queue, LOCK_POLL_SECONDS)
                return
            group, queue.writes = _first_group(queue.writes)
            number = self._next_group()
            started = time.perf_counter()
            durable = deferred = False  # one pass, not two ``any``: most groups hold one write
            for write in group:
                durable = durable or write.durable
                deferred = deferred or write.deferred
            try:
                outcomes = self._run_group(group, durable)
            except BaseException as exc:
                self._lock.release()
                _settle(group, [(None, exc)] * len(group), number)
                if not isinstance(exc, Exception):
                    raise
                continue
            if deferred:
                # before the commit: a reader that sees these rows sees this number too
                self._deferred_through = number
            if durable and self._commits_inline(group):
                error = self._commit_and_unlock(number, True)
                self._finish(group, outcomes, number, started, True, error)
                continue
            if durable:
                queue.committing = True
                self._hand_over(loop, queue, group, outcomes, number, started)
                return
            error = self._commit_and_unlock(number, False)  # no fsync: quick enough here
            self._finish(group, outcomes, number, started, False, error)

    def _commits_inline(self, group: list[_Write]) -> bool:
        """Whether this durable group's COMMIT, fsync included, runs on the loop itself. The
        hand-over to the helper thread costs two cross-thread wake-ups, about 0.1 ms of CPU,
        which is worth paying only when other work can use the loop during the fsync. So: only
        when every durable write of the group allowed it (a leg intent, never a webhook's
        claim, whose burst must keep sharing fsyncs) and the owner says nothing else is under
        way (``inline_when``: one account executing, nothing else the router runs). While the
        loop waits on the disk nothing can queue behind, so the calm rule cannot see load:
        the owner's word is the signal."""
        probe = self.inline_when
        return (probe is not None and all(write.inline for write in group if write.durable)
                and probe())

    def _schedule(self, loop: asyncio.AbstractEventLoop, queue: _Queue, delay: float) -> None:
        """Have the loop run ``_pump`` after ``delay`` seconds (0: at its next step), once."""
        if queue.scheduled:
            return
        queue.scheduled = True
        if delay:
            loop.call_later(delay, self._kick, loop, queue)
        else:
            loop.call_soon(self._kick, loop, queue)

    def _kick(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        queue.scheduled = False
        if not queue.committing:
            self._pump(loop, queue)

    def _hand_over(self, loop: asyncio.AbstractEventLoop, queue: _Queue, group: list[_Write],
                   outcomes: list[Outcome], number: int, started: float) -> None:
        """The fsynced COMMIT of the open group goes to the helper thread (the lock is held);
        the thread calls ``_committed`` on the loop when it is done."""
        if self._committer is None:
            self._committer = start_helper_thread(self._commit_forever, "journal-commit")
        self._commits.put((loop, queue, group, outcomes, number, started))

    def _commit_forever(self) -> None:
        """The helper thread: commit each group handed over, in order, and tell its loop."""
        while (commit := self._commits.get()) is not None:
            loop, queue, group, outcomes, number, started = commit
            error = self._commit_and_unlock(number, True)
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(self._committed, loop, queue, group, outcomes, number,
                                          started, error)

    def _committed(self, loop: asyncio.AbstractEventLoop, queue: _Queue, group: list[_Write],
                   outcomes: list[Outcome], number: int, started: float,
                   error: BaseException | None) -> None:
        """On the loop, once a durable group is committed: settle it, then go on with what
        was queued meanwhile."""
        queue.committing = False
        # Other work of this loop wrote meanwhile, or asked for durability in the same step
        # (a non-durable write queued before, such as the last leg's outcome, does not count).
        together = sum(write.durable for write in group) > 1
        self._calm = 0 if queue.writes or together else self._calm + 1
        self._finish(group, outcomes, number, started, True, error)
        self._pump(loop, queue)

    def _finish(self, group: list[_Write], outcomes: list[Outcome], number: int,
                started: float, durable: bool, error: BaseException | None) -> None:
        if self.on_commit is not None and error is None:
            self.on_commit(time.perf_counter() - started, len(group), durable)
        _settle(group, outcomes if error is None else [(None, error)] * len(group), number)

    def _run_group(self, group: list[_Write], durable: bool) -> list[Outcome]:
        """BEGIN and every write of the group, with the lock held; the transaction stays open
        for the commit. Raises (with nothing open) when the transaction cannot even start."""
        self._set_durability(durable)
        try:
            try:
                changes = self._db.total_changes
                outcomes = self._statements(group, isolated=False)
                changed = self._db.total_changes != changes
            except Exception:  # some write failed: run them again, each on its own
                self._db.execute("ROLLBACK")
                outcomes = self._statements(group, isolated=True)
                changed = False  # rows a failed write changed count too: do not trust them
            if durable:
                self._make_durable_commit_write(changed=changed)
            return outcomes
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

    def _make_durable_commit_write(self, *, changed: bool) -> None:
        """In a durable group's open transaction: when its writes changed no row (``changed``
        is False) while a deferred write waits for an fsync, write ``sync_mark`` too. A commit
        that changes nothing appends nothing to the log and so fsyncs nothing, yet its number
        is taken as covering every group before it (``durable_through``)."""
        if not changed and self._deferred_through > self._durable_through:
            self._sync_mark(self._db)

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


def _first_group(writes: list[_Write]) -> tuple[list[_Write], list[_Write]]:
    """The next group (the first ``MAX_GROUP`` writes) and the writes left after it."""
    if len(writes) <= MAX_GROUP:  # all of them (nearly always): no copies
        return writes, []
    return writes[:MAX_GROUP], writes[MAX_GROUP:]


def _settle(group: list[_Write], outcomes: list[Outcome], number: int) -> None:
    for write, (result, error) in zip(group, outcomes, strict=True):
        if write.future.done():  # the waiter went away; the write itself stands
            continue
        if error is not None:
            write.future.set_exception(error)
        else:
            write.future.set_result((result, number) if write.deferred else result)
