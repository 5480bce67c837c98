"""The journal writer's per-loop queues: a loop's queue is kept for its next writes while the
loop lives, and a process running loop after loop (tests, ``asyncio.run`` per command) keeps
none of the closed ones; writes of every loop commit in order either way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from router_core.journal_store import SqliteStore


def insert_flag(name: str) -> Any:
    def work(db: Any) -> str:
        db.execute("INSERT INTO flags VALUES (?, 'x', 0)", (name,))
        return name

    return work


def test_a_loops_queue_is_kept_while_it_lives_and_dropped_once_it_is_closed(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "journal.sqlite3")
    writer = store.writer
    try:
        async def writes(prefix: str) -> list[str]:
            first = await writer.write_async(insert_flag(f"{prefix}1"), durable=False)
            queue = writer._queues[asyncio.get_running_loop()]
            queued = writer.submit_async(insert_flag(f"{prefix}2"), durable=False)
            durable = await writer.write_async(insert_flag(f"{prefix}3"), durable=True)
            assert writer._queues[asyncio.get_running_loop()] is queue  # the same, kept
            return [first, await queued, durable]

        for run in range(3):
            assert asyncio.run(writes(f"r{run}:")) == [f"r{run}:1", f"r{run}:2", f"r{run}:3"]
            # the closed loops' queues go when the next loop writes: one queue at most
            assert len(writer._queues) == 1
        rows = store.read("SELECT name FROM flags WHERE name LIKE 'r%' ORDER BY name")
        assert [row[0] for row in rows] == [f"r{run}:{n}" for run in range(3) for n in (1, 2, 3)]
    finally:
        store.close()
    assert writer._queues == {}
