"""The journal's helper threads run as batch threads on Linux, so that waking one does not
deschedule the event loop's thread (``router_core.helper_threads``)."""

from __future__ import annotations

import os
import threading

import pytest

from router_core.helper_threads import start_helper_thread

linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")


@linux_only
def test_a_helper_thread_is_a_batch_thread_and_the_caller_is_left_as_it_was() -> None:
    seen: dict[str, int] = {}
    caller_before = os.sched_getscheduler(0)

    def note() -> None:
        seen["policy"] = os.sched_getscheduler(0)
        seen["thread"] = threading.get_native_id()

    start_helper_thread(note, "probe").join(5)
    assert seen["policy"] == os.SCHED_BATCH
    assert seen["thread"] != threading.get_native_id()
    assert os.sched_getscheduler(0) == caller_before  # only the helper changed


def test_a_helper_thread_runs_its_target_as_a_named_daemon() -> None:
    ran = threading.Event()
    thread = start_helper_thread(ran.set, "journal-probe")
    thread.join(5)
    assert ran.is_set() and thread.daemon and thread.name == "journal-probe"


@linux_only
async def test_the_journals_commit_thread_is_a_batch_thread(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from router_core.journal_store import SqliteStore

    store = SqliteStore(tmp_path / "journal.sqlite3")
    try:
        def insert(db):  # type: ignore[no-untyped-def]
            db.execute("INSERT INTO flags VALUES ('probe', 'x', 0)")
        store.writer.inline_when = None
        await store.writer.submit_async(insert, durable=True)  # handed to the helper thread
        committer = store.writer._committer  # type: ignore[attr-defined]
        assert committer is not None and committer.native_id is not None
        assert os.sched_getscheduler(committer.native_id) == os.SCHED_BATCH
    finally:
        store.close()
