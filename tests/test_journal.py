"""The journal: atomic claims, durable settings, migrations, retention; each test that is not
about SQLite itself runs on both backends (``journal_location``: a SQLite file, then a
PostgreSQL database)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from router_core.journal import AlertState, ClaimOutcome, Journal
from router_core.journal_schema import MIGRATIONS


def claim(journal: Journal, n: int, *, delivery="d", intent="i", fingerprint="f"):
    return journal.claim(
        alert_id=f"a{n}",
        delivery_key=delivery,
        intent_key=intent,
        fingerprint=fingerprint,
        alert={"ticker": "X"},
        peer=None,
        source="t",
    )


def test_wal_and_full_sync(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    assert journal._read("PRAGMA journal_mode")[0][0] == "wal"
    assert journal._read("PRAGMA synchronous")[0][0] == 2  # FULL on the reading side too


def test_twenty_concurrent_claims_make_one_alert(journal_location):
    journal = Journal(journal_location)
    outcomes = []

    def go(n: int) -> None:
        outcomes.append(claim(journal, n))

    threads = [threading.Thread(target=go, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new = [c for c in outcomes if c.outcome is ClaimOutcome.NEW]
    assert len(new) == 1
    assert {c.alert_id for c in outcomes} == {new[0].alert_id}


def test_same_intent_other_content_is_a_conflict(journal_location):
    journal = Journal(journal_location)
    claim(journal, 1)
    assert claim(journal, 2, delivery="d2").outcome is ClaimOutcome.DUPLICATE
    assert claim(journal, 3, delivery="d3", fingerprint="g").outcome is ClaimOutcome.CONFLICT


def test_migrations_upgrade_an_old_database_without_losing_rows(tmp_path):
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO alerts VALUES ('a','d','i','f','{}',0,NULL,'t','done',NULL,NULL,NULL)")
    db.commit()
    db.close()
    journal = Journal(path)
    assert journal.schema_version == len(MIGRATIONS)
    assert journal.get_alert("a") is not None
    journal.add_realised_pnl("acct", "2026-11-26", "-12.5")
    assert journal.realised_pnl("acct", "2026-11-26") == "-12.5"


def test_halt_flag_survives_reopening(journal_location):
    first = Journal(journal_location)
    first.set_flag("halt", "operator")
    first.close()
    assert Journal(journal_location).get_flag("halt") == "operator"


def test_purge_keeps_unresolved_legs_and_recent_alerts(journal_location):
    now = [1_000_000.0]
    journal = Journal(journal_location, clock=type("C", (), {"time": lambda self: now[0]})())
    claim(journal, 1, delivery="old", intent="old")
    journal.set_state("a1", AlertState.DONE)
    claim(journal, 2, delivery="stuck", intent="stuck")
    journal.set_state("a2", AlertState.DONE)
    journal.record_intent(
        client_order_id="c2",
        alert_id="a2",
        account="x",
        broker="b",
        symbol="S",
        purpose="open",
        side="buy",
        quantity="1",
        notional=None,
        order={},
    )
    now[0] += 8 * 86400
    claim(journal, 3, delivery="new", intent="new")
    assert journal.purge(7 * 86400) == 1
    assert journal.get_alert("a1") is None
    assert journal.get_alert("a2") is not None  # its leg has no outcome yet
    assert journal.get_alert("a3") is not None


async def test_async_writes_do_not_block_the_loop_and_are_read_back(journal_location):
    import asyncio

    journal = Journal(journal_location)
    claims = await asyncio.gather(*(
        journal.claim_async(alert_id=f"a{n}", delivery_key=f"d{n}", intent_key=f"i{n}",
                            fingerprint="f", alert={}, peer=None, source="t")
        for n in range(50)
    ))
    assert all(c.outcome is ClaimOutcome.NEW for c in claims)
    assert len(journal.recent_alerts(limit=100)) == 50
    journal.close()
    with pytest.raises(RuntimeError, match="closed"):
        journal.set_flag("halt", "x")


async def test_a_failing_write_fails_alone_and_its_group_still_commits(journal_location):
    import asyncio

    journal = Journal(journal_location)
    writer = journal._writer
    # Queued in one step of the loop, these four commit as one group.
    good = writer.submit_async(
        lambda db: db.execute("INSERT INTO flags VALUES ('a', '1', 0)").rowcount, durable=True)
    bad = writer.submit_async(
        lambda db: db.execute("INSERT INTO no_such_table VALUES (1)"), durable=True)
    also_good = writer.submit_async(
        lambda db: db.execute("INSERT INTO flags VALUES ('b', '2', 0)").rowcount, durable=True)
    duplicate = writer.submit_async(
        lambda db: db.execute("INSERT INTO flags VALUES ('a', '3', 0)"), durable=True)
    results = await asyncio.gather(good, bad, also_good, duplicate, return_exceptions=True)
    assert results[0] == 1 and results[2] == 1
    if journal.backend == "sqlite":
        assert isinstance(results[1], sqlite3.OperationalError)
        assert isinstance(results[3], sqlite3.IntegrityError)
    else:
        import psycopg

        assert isinstance(results[1], psycopg.errors.UndefinedTable)
        assert isinstance(results[3], psycopg.errors.UniqueViolation)
    assert (journal.get_flag("a"), journal.get_flag("b")) == ("1", "2")
    journal.close()


async def test_a_thread_writing_meanwhile_neither_blocks_nor_loses_the_loops_writes(
    journal_location,
):
    import asyncio

    journal = Journal(journal_location)
    in_thread = asyncio.to_thread(
        lambda: [journal.set_flag(f"t{n}", str(n)) for n in range(200)])
    on_loop = asyncio.gather(*(journal.claim_async(
        alert_id=f"a{n}", delivery_key=f"d{n}", intent_key=f"i{n}", fingerprint="f", alert={},
        peer=None, source="t") for n in range(200)))
    await asyncio.wait_for(asyncio.gather(in_thread, on_loop), 30)
    assert journal.get_flag("t199") == "199"
    assert len(journal.recent_alerts(500)) == 200
    journal.close()


def _journal_with_a_pending_leg(path):
    journal = Journal(path)
    journal.claim(alert_id="a", delivery_key="d", intent_key="i", fingerprint="f", alert={},
                  peer=None, source="t")
    journal.record_intent(client_order_id="c", alert_id="a", account="x", broker="paper",
                          symbol="BTC/USD", purpose="open", side="buy", quantity="1",
                          notional=None, order={})
    return journal


def _leg_status_after_reopening(path):
    reopened = Journal(path)
    try:
        return reopened.get_leg("c").status
    finally:
        reopened.close()


async def test_writes_queued_without_waiting_are_committed_by_close(journal_location):
    journal = _journal_with_a_pending_leg(journal_location)
    journal.record_outcome_soon("c", {"status": "filled"})
    journal.close()
    assert _leg_status_after_reopening(journal_location) == "filled"


def test_writes_left_queued_by_a_finished_loop_are_committed_by_close(journal_location):
    import asyncio

    journal = _journal_with_a_pending_leg(journal_location)

    async def queue_and_leave() -> None:
        journal.record_outcome_soon("c", {"status": "filled"})  # nobody waits for it

    asyncio.run(queue_and_leave())
    journal.close()
    assert _leg_status_after_reopening(journal_location) == "filled"


def test_reads_with_question_marks_run_unchanged_on_both_backends(journal_location):
    """``_read`` is what read-only views build on: the same SQL text on SQLite and PostgreSQL
    (``?`` placeholders, rowid as the tie-breaker, json_extract with a simple path)."""
    journal = Journal(journal_location)
    for n in range(3):
        claim(journal, n, delivery=f"d{n}", intent=f"i{n}")
    journal.record_intent(client_order_id="c1", alert_id="a1", account="acct", broker="b",
                          symbol="S", purpose="open", side="buy", quantity="1", notional=None,
                          order={"ticker": "X", "nested": {"price": "5"}})
    rows = journal._read(
        "SELECT alert_id FROM alerts WHERE source = ? AND alert_id != ?"
        " ORDER BY received_at DESC, rowid DESC LIMIT ?", ("t", "a0", 5))
    assert [row[0] for row in rows] == ["a2", "a1"]
    rows = journal._read(
        "SELECT json_extract(order_json, '$.nested.price'), json_extract(order_json, '$.none')"
        " FROM legs WHERE account = ? AND status IN (?, ?)", ("acct", "pending", "unknown"))
    assert [(str(rows[0][0]), rows[0][1])] == [("5", None)]
    assert journal._read("SELECT count(*) FROM legs WHERE alert_id LIKE 'a%'")[0][0] == 1
    journal.close()
