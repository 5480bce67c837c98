"""The halt flags an alert reads (``Journal.get_flags``): exactly the names asked for that are
set, and every change, by this journal or by another process on the same database, seen by the
very next read. Each test runs on both backends (``journal_location``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router_core.journal import AlertState, Journal
from router_core.journal_store import SYNC_MARK_FLAG

NAMES = ["halt", *(f"halt:account:a{n}" for n in range(50))]


def test_only_the_names_asked_for_that_are_set_come_back(journal_location: Any) -> None:
    journal = Journal(journal_location)
    try:
        assert journal.get_flags(NAMES) == {}
        assert journal.get_flags([]) == {}
        journal.set_flag("halt:account:a7", "maintenance")
        journal.set_flag("halt:account:other", "not asked")  # an account of no alert here
        journal.set_flag(SYNC_MARK_FLAG, "3")  # the journal's own counter: never a halt
        assert journal.get_flags(NAMES) == {"halt:account:a7": "maintenance"}
        assert journal.get_flags(["halt"]) == {}
        assert journal.get_flags(["halt:account:other", "halt"]) == {
            "halt:account:other": "not asked"}
        journal.set_flag("halt", "incident")
        assert journal.get_flags(["halt"]) == {"halt": "incident"}
        assert journal.get_flags(NAMES) == {"halt": "incident", "halt:account:a7": "maintenance"}
    finally:
        journal.close()


def test_another_process_setting_and_clearing_is_seen_by_the_next_read(
        journal_location: Any) -> None:
    """``alert-router halt`` and ``resume`` open a journal of their own on the same database;
    the router's next alert must obey what they committed, every time, in any order."""
    router, other = Journal(journal_location), Journal(journal_location)
    try:
        assert router.get_flags(NAMES) == {}  # read once before: nothing may be kept
        for round_ in range(3):
            other.set_flag("halt", f"incident {round_}")
            assert router.get_flags(NAMES) == {"halt": f"incident {round_}"}
            other.set_flag("halt:account:a49", "maintenance")
            assert router.get_flags(NAMES) == {
                "halt": f"incident {round_}", "halt:account:a49": "maintenance"}
            other.set_flag("halt", None)
            assert router.get_flags(NAMES) == {"halt:account:a49": "maintenance"}
            router.set_flag("halt:account:a0", "own")  # this journal's own write
            assert other.get_flags(NAMES) == router.get_flags(NAMES) == {
                "halt:account:a49": "maintenance", "halt:account:a0": "own"}
            router.set_flag("halt:account:a0", None)
            other.set_flag("halt:account:a49", None)
            assert router.get_flags(NAMES) == {}
    finally:
        other.close()
        router.close()


async def test_a_write_committed_by_the_loop_is_seen_by_the_next_read(tmp_path: Path) -> None:
    """Between alerts the journal commits on the event loop (claims, intents, states); a flag
    another process set meanwhile is still read, and none of those writes hides it."""
    path = tmp_path / "journal.sqlite3"
    router, other = Journal(path), Journal(path)
    try:
        for n in range(3):
            await router.set_state_async(f"a{n}", AlertState.DONE)  # no such alert: changes nothing
            other.set_flag("halt", f"r{n}")
            assert router.get_flags(["halt"]) == {"halt": f"r{n}"}
            await router.ensure_durable_async()
            other.set_flag("halt", None)
            assert router.get_flags(["halt"]) == {}
    finally:
        other.close()
        router.close()

