"""Live updates: one poller per process reads a cheap change marker from the journal and
wakes every open event stream when it changed.

Reading the journal (rather than hooking the router in memory) keeps the pages right when
several instances share one database. The poller runs only while a stream is open.
``close`` ends every stream at once: uvicorn waits for open responses before it stops, and
an event stream never finishes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger("router_core.dashboard")

POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0  # a comment line: proxies keep the stream, dead peers are noticed


class ChangeFeed:
    """Wakes subscribers when ``read_marker()`` returns something new."""

    def __init__(self, read_marker: Callable[[], Any], interval: float = POLL_SECONDS) -> None:
        self._read_marker = read_marker
        self._interval = interval
        self._changed = asyncio.Event()
        self._subscribers = 0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    async def changes(self) -> AsyncIterator[None]:
        """Yields once at once, then after every change, until the feed is closed. A quiet
        period longer than ``HEARTBEAT_SECONDS`` yields too (the caller sends a heartbeat)."""
        self._subscribers += 1
        self._start()
        try:
            event = self._changed  # taken before the caller renders: no change is missed
            yield None
            while not self.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), HEARTBEAT_SECONDS)
                if self.closed:
                    return
                event = self._changed
                yield None
        finally:
            self._subscribers -= 1

    def close(self) -> None:
        """End every stream (server shutdown). Safe to call from a signal handler."""
        loop = self._loop
        if loop is None:
            self.closed = True
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self.closed = True
        self._changed.set()
        if self._task is not None:
            self._task.cancel()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        marker: Any = None
        while not self.closed and self._subscribers > 0:
            try:
                current = await asyncio.to_thread(self._read_marker)
            except Exception as exc:  # a failed read: try again at the next tick
                log.warning("dashboard: journal read failed: %s", type(exc).__name__)
                current = marker
            if current != marker:
                marker = current
                event, self._changed = self._changed, asyncio.Event()
                event.set()
            await asyncio.sleep(self._interval)
