"""The journal writer's fast path: a write someone awaits runs at once, in the caller, when
the connection is free and nothing of its loop is being committed, taking every write queued
before it along (order holds); an alert's last outcome and its final state commit together,
and a failing outcome does not lose the state committed with it."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core.journal import AlertState, Journal
from router_core.journal_store import SqliteStore
from router_core.journal_writer import GroupCommitWriter


def insert_flag(name: str, value: str = "x") -> Any:
    def work(db: Any) -> str:
        db.execute("INSERT INTO flags VALUES (?, ?, 0)", (name, value))
        return name

    return work


def read_flag(name: str) -> Any:
    def work(db: Any) -> str | None:
        row = db.execute("SELECT value FROM flags WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    return work


def commits(writer: Any) -> list[tuple[int, bool]]:
    """(writes, durable) of every group the writer commits from now on."""
    seen: list[tuple[int, bool]] = []
    writer.on_commit = lambda seconds, writes, durable: seen.append((writes, durable))
    return seen


@pytest.fixture
def writer(tmp_path: Path) -> Any:
    store = SqliteStore(tmp_path / "journal.sqlite3")
    yield store.writer
    store.close()


async def test_an_awaited_write_on_an_idle_journal_is_committed_when_the_call_returns(
        writer: GroupCommitWriter) -> None:
    seen = commits(writer)
    future = writer.write_async(insert_flag("a"), durable=False)
    assert future.done() and future.result() == "a"  # no step of the loop was needed
    assert seen == [(1, False)]
    result, group = writer.submit_deferred_async(insert_flag("b")).result()
    assert result == "b" and group == writer._groups


async def test_an_awaited_write_takes_the_writes_queued_before_it_into_its_group(
        writer: GroupCommitWriter) -> None:
    seen = commits(writer)
    queued = writer.submit_async(insert_flag("a", "first"), durable=False)  # nobody waits
    assert not queued.done()  # it waits for the loop's next step...
    read = writer.write_async(read_flag("a"), durable=False)
    # ...unless an awaited write comes first: it commits after the queued one, together
    assert queued.done() and read.done()
    assert read.result() == "first"
    assert seen == [(2, False)]


async def test_an_awaited_write_waits_behind_a_durable_commit_in_flight(
        writer: GroupCommitWriter) -> None:
    seen = commits(writer)
    durable = writer.write_async(insert_flag("a"), durable=True)  # its COMMIT: the helper's
    later = writer.submit_deferred_async(read_flag("a"))
    assert not later.done()  # queued until the durable group is on disk
    assert await durable == "a"
    value, group = await later
    assert value == "x" and group > writer.durable_through  # committed after, not fsynced
    assert seen == [(1, True), (1, False)]


async def test_an_awaited_write_waits_while_a_thread_holds_the_connection(
        writer: GroupCommitWriter) -> None:
    loop = asyncio.get_running_loop()
    writer._lock.acquire()  # a thread's own write, say
    try:
        future = writer.write_async(insert_flag("a"), durable=False)
        assert not future.done()
    finally:
        loop.call_later(0.01, writer._lock.release)
    assert await asyncio.wait_for(future, 5) == "a"
    assert writer.write(read_flag("a"), durable=False) == "x"


def claimed_with_a_leg(location: Path | str) -> Journal:
    journal = Journal(location)
    journal.claim(alert_id="a", delivery_key="d", intent_key="i", fingerprint="f", alert={},
                  peer=None, source="t")
    journal.record_intent(client_order_id="c", alert_id="a", account="x", broker="paper",
                          symbol="BTC/USD", purpose="open", side="buy", quantity="1",
                          notional=None, order={})
    return journal


async def test_the_last_outcome_and_the_final_state_commit_in_one_transaction(
        tmp_path: Path) -> None:
    journal = claimed_with_a_leg(tmp_path / "journal.sqlite3")
    seen = commits(journal._writer)
    journal.record_outcome_soon("c", {"status": "filled", "filled_quantity": "1"})
    await journal.set_state_async("a", AlertState.DONE, report={"alert_id": "a"})
    assert seen == [(2, False)]
    assert journal.get_leg("c").status == "filled"  # type: ignore[union-attr]
    assert journal.get_alert("a").state is AlertState.DONE  # type: ignore[union-attr]
    assert journal.holdings("x", "BTC/USD") == 1
    journal.close()


async def test_a_failing_outcome_does_not_lose_the_final_state_committed_with_it(
        journal_location: Path | str, caplog: pytest.LogCaptureFixture) -> None:
    journal = claimed_with_a_leg(journal_location)  # SQLite, then PostgreSQL
    with caplog.at_level(logging.ERROR, logger="router_core.journal"):
        # a filled quantity that is no number: the outcome's write raises
        journal.record_outcome_soon("c", {"status": "filled", "filled_quantity": "lots"})
        await journal.set_state_async("a", AlertState.DONE, report={"alert_id": "a"})
        await journal.flush()  # the failure is logged when its future is settled
    assert journal.get_alert("a").state is AlertState.DONE  # type: ignore[union-attr]
    assert journal.get_leg("c").status == "pending"  # looked up at the venue by recovery
    assert "journal write failed" in caplog.text
    journal.close()


async def test_a_queued_outcome_nobody_awaits_is_committed_by_the_loops_next_step(
        journal_location: Path | str) -> None:
    journal = claimed_with_a_leg(journal_location)  # SQLite, then PostgreSQL
    journal.record_outcome_soon("c", {"status": "filled"})
    for _ in range(100):
        if journal.get_leg("c").status == "filled":  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.01)
    assert journal.get_leg("c").status == "filled"  # type: ignore[union-attr]
    journal.close()


def test_outcomes_count_each_part_of_a_fill_into_the_holdings_once(
        journal_location: Path | str) -> None:
    journal = claimed_with_a_leg(journal_location)  # SQLite, then PostgreSQL; "c" buys 1
    journal.record_intent(client_order_id="s", alert_id="a", account="x", broker="paper",
                          symbol="BTC/USD", purpose="close", side="sell", quantity="1",
                          notional=None, order={})
    journal.record_intent(client_order_id="n", alert_id="a", account="x", broker="paper",
                          symbol="BTC/USD", purpose="cancel", side=None, quantity=None,
                          notional=None, order={})
    journal.record_outcome("c", {"status": "partially_filled", "filled_quantity": "0.4"})
    assert journal.holdings("x", "BTC/USD") == Decimal("0.4")
    journal.record_outcome("c", {"status": "filled", "filled_quantity": "1"})
    journal.record_outcome("c", {"status": "filled", "filled_quantity": "1.0"})  # seen again
    assert journal.holdings("x", "BTC/USD") == 1
    journal.record_outcome("s", {"status": "filled", "filled_quantity": "0.3"})
    journal.record_outcome("n", {"status": "canceled", "filled_quantity": "5"})  # no side
    journal.record_outcome("s", {"status": "filled"})  # says nothing of its fill
    assert journal.holdings("x", "BTC/USD") == Decimal("0.7")
    assert journal.get_leg("s").status == "filled"  # type: ignore[union-attr]
    assert journal.get_leg("n").status == "canceled"  # type: ignore[union-attr]
    journal.close()


async def test_with_several_writers_in_flight_awaited_writes_wait_for_the_next_step_and_group(
        writer: GroupCommitWriter) -> None:
    from router_core.journal_writer import CALM_COMMITS

    seen = commits(writer)
    # three alerts' leg intents in one step: the first begins a group at once, the other two
    # wait behind its fsync and then share one
    await asyncio.gather(*(writer.write_async(insert_flag(f"i{n}"), durable=True)
                           for n in range(3)))
    assert seen == [(1, True), (2, True)]
    # writers are in flight: an awaited write waits for the loop's next step, where the
    # writes of that step share its group
    first = writer.write_async(insert_flag("a"), durable=False)
    second = writer.write_async(insert_flag("b"), durable=False)
    assert not first.done()
    await asyncio.gather(first, second)
    assert seen[2:] == [(2, False)]
    # once durable commits come one at a time again, writes run at once again
    for n in range(CALM_COMMITS):
        await writer.write_async(insert_flag(f"solo{n}"), durable=True)
    assert writer.write_async(insert_flag("c"), durable=False).done()


async def test_a_queued_outcome_committed_with_the_next_leg_intent_keeps_the_journal_calm(
        writer: GroupCommitWriter) -> None:
    seen = commits(writer)
    writer.submit_async(insert_flag("outcome"), durable=False)  # a leg's outcome, unawaited
    await writer.write_async(insert_flag("intent"), durable=True)  # the alert's next leg
    assert seen == [(2, True)]
    # one alert's writes, not several alerts in flight: the next write still runs at once
    assert writer.write_async(insert_flag("state"), durable=False).done()


# -- a leg intent's fsync on the loop, while the owner says nothing else is under way ---------
# (``GroupCommitWriter.inline_when``, set by the Router through ``Journal.commit_inline_when``;
# the router's side: test_journal_durability_points.py)

async def test_an_inline_write_is_fsynced_before_the_call_returns_while_the_owner_allows(
        writer: GroupCommitWriter) -> None:
    writer.inline_when = lambda: True
    before = writer.durable_through
    future = writer.write_async(insert_flag("a"), durable=True, inline=True)
    assert future.done() and future.result() == "a"  # no loop step, no thread
    assert writer.durable_through > before
    assert writer._committer is None


async def test_without_the_owners_word_the_fsync_goes_to_the_helper_thread(
        writer: GroupCommitWriter) -> None:
    for probe in (None, lambda: False):
        writer.inline_when = probe
        future = writer.write_async(insert_flag(f"b{probe is None}"), durable=True, inline=True)
        assert not future.done()
        await future
    assert writer._committer is not None


async def test_a_write_that_does_not_allow_it_is_never_fsynced_on_the_loop(
        writer: GroupCommitWriter) -> None:
    writer.inline_when = lambda: True
    claim = writer.write_async(insert_flag("claim"), durable=True)  # a webhook's claim
    assert not claim.done()
    assert await claim == "claim"
    # queued together: a claim before an intent takes the whole group to the helper thread
    queued = writer.submit_async(insert_flag("claim2"), durable=True)
    intent = writer.write_async(insert_flag("intent"), durable=True, inline=True)
    assert not intent.done()
    assert await queued == "claim2" and await intent == "intent"


def test_the_halt_flags_are_read_on_the_write_connection_only_when_it_is_free(
        tmp_path: Path) -> None:
    """``get_flags`` reads on the write connection while it is free (it need not reload what
    the last commit changed), and on the read connection while a group holds it; either way
    it sees what another process committed, and never a write not committed yet."""
    path = tmp_path / "journal.sqlite3"
    journal, other = Journal(path), Journal(path)  # other: e.g. `alert-router halt`
    writer = journal._writer
    try:
        other.set_flag("halt", "incident")
        asked: list[str] = []
        db = writer._db
        writer._db = _Spy(db, asked)
        assert journal.get_flags(["halt", "halt:account:a"]) == {"halt": "incident"}
        assert asked and "FROM flags" in asked[-1]  # on the write connection
        asked.clear()
        with writer._lock:  # a group is open or being committed
            other.set_flag("halt:account:a", "maintenance")
            assert journal.get_flags(["halt", "halt:account:a"]) == {
                "halt": "incident", "halt:account:a": "maintenance"}
        assert asked == []  # the read connection answered
        writer._db = db
        db.execute("BEGIN IMMEDIATE")  # not committed: nobody may read it as set
        db.execute("DELETE FROM flags WHERE name = 'halt'")
        try:
            assert journal.get_flags(["halt"]) == {"halt": "incident"}
        finally:
            db.execute("ROLLBACK")
    finally:
        other.close()
        journal.close()


class _Spy:
    """A connection that notes each statement before running it."""

    def __init__(self, db: Any, asked: list[str]) -> None:
        self._db, self._asked = db, asked

    def execute(self, sql: str, *args: Any) -> Any:
        self._asked.append(sql)
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
