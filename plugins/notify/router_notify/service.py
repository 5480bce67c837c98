"""The delivery side: a bounded queue, one worker, retries, and the daily summary.

``offer`` is all the router's observer hook does: decide, render and ``put_nowait``. It never
awaits the network, so a slow or dead notifier cannot delay an order or the next alert. One
worker task takes messages off the queue and sends them with retries.

A full queue drops the *newest* message, not the oldest. In a burst of failures the first
messages usually carry the cause (the venue went down, the keys expired) and the later ones
repeat it; and what is already queued keeps its order. Drops are counted; the first drop of a
burst logs one warning, and when the queue takes messages again one line (and one message to
the notifiers) says how many were dropped, so the operator knows to read
``alert-router journal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from router_core import Clock, ExecutionReport, Fill

from .messages import Kind, Message, render, render_fill, wanted, wanted_fill
from .sender import Sender
from .settings import NotifySettings
from .summary import Tally, next_due

log = logging.getLogger("router_notify")

SUMMARY_POLL_SECONDS = 30.0  # how often the summary loop looks at the clock


class NotifyService:
    """Notifications for one running router: ``start``, ``offer`` per report, ``stop``."""

    def __init__(self, sender: Sender, settings: NotifySettings, clock: Clock, *,
                 random_fraction: Callable[[], float] = random.random,
                 summary_poll_seconds: float = SUMMARY_POLL_SECONDS) -> None:
        self.sender = sender
        self.settings = settings
        self.clock = clock
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=settings.queue_size)
        self.dropped = 0  # messages the full queue refused, since start
        self.failed = 0  # messages given up after every retry
        self.sent = 0
        self._burst = 0  # drops since the queue last took a message
        self._random = random_fraction
        self._poll = summary_poll_seconds
        self._tally = Tally()
        self._tally_since = clock.time()
        self._dropped_at_summary = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- the router's side: never waits ------------------------------------------------------

    def offer(self, report: ExecutionReport) -> None:
        """Count the report for the summary and queue its message when the level wants it."""
        self._tally.record(report)
        if wanted(report, self.settings.level):
            self.enqueue(render(report))

    def offer_fill(self, fill: Fill, context: dict[str, Any]) -> None:
        """Count a recorded fill for the summary and queue its message at ``fills``/``all``."""
        self._tally.record_fill(foreign=not context.get("client_order_id"))
        if wanted_fill(self.settings.level):
            self.enqueue(render_fill(fill, context))

    def enqueue(self, message: Message) -> bool:
        """Queue ``message``; False (counted, logged once per burst) when the queue is full."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            self._burst += 1
            if self._burst == 1:
                log.warning("notification queue full (%d waiting): dropping new notifications "
                            "until the notifiers catch up", self.queue.qsize())
            return False
        if self._burst:
            burst, self._burst = self._burst, 0
            log.warning("dropped %d notification(s) while the queue was full; "
                        "`alert-router journal` has every alert", burst)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(Message(
                    "alert-router: notifications dropped",
                    f"{burst} notification(s) were dropped while the notifiers were slow or "
                    "down; `alert-router journal` lists every alert.", Kind.WARNING))
        return True

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (and the summary loop when ``summary_time`` is set)."""
        self._tasks.append(asyncio.create_task(self._work(), name="notify-worker"))
        if self.settings.summary_time is not None:
            self._tasks.append(asyncio.create_task(self._summaries(), name="notify-summary"))

    async def stop(self) -> None:
        """Give queued messages ``drain_seconds`` to go out, then stop; what is left is
        dropped (and logged with its count)."""
        if self._tasks and not self._tasks[0].done():
            try:
                await asyncio.wait_for(self.queue.join(), self.settings.drain_seconds)
            except TimeoutError:
                log.warning("%d notification(s) not sent within %.0f s of stopping; dropped",
                            self.queue.qsize(), self.settings.drain_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- the worker --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.deliver(message)
            finally:
                self.queue.task_done()

    async def deliver(self, message: Message) -> bool:
        """Send with retries: ``retries`` more attempts after the first, sleeping an
        exponentially growing, jittered delay between them (capped at
        ``backoff_cap_seconds``). True when a notifier run took it."""
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            try:
                if await self.sender.send(message):
                    self.sent += 1
                    return True
            except Exception as exc:  # a notifier's bug must not stop the worker
                log.warning("notifier raised %s (attempt %d of %d)", type(exc).__name__,
                            attempt + 1, attempts)
            if attempt + 1 < attempts:
                await self.clock.sleep(self.backoff(attempt))
        self.failed += 1
        log.warning("notification %r not delivered after %d attempt(s); dropped",
                    message.title, attempts)
        return False

    def backoff(self, attempt: int) -> float:
        """The wait before retry ``attempt + 1``: ``backoff_seconds * 2**attempt`` capped,
        then "equal jitter" (between half and all of it) so notifiers that failed together do
        not retry in lockstep."""
        ceiling = min(self.settings.backoff_cap_seconds,
                      self.settings.backoff_seconds * 2 ** attempt)
        return ceiling / 2 + self._random() * ceiling / 2

    # -- the daily summary -------------------------------------------------------------------

    async def _summaries(self) -> None:
        at, zone = self.settings.summary_time, self.settings.zone
        assert at is not None
        while True:
            due = next_due(self.clock.time(), at, zone)
            # Real sleeps in short steps, each time reading the (injectable) clock: a clock
            # that jumps (suspend, NTP, a test) is noticed within one step.
            while (remaining := due - self.clock.time()) > 0:
                await asyncio.sleep(min(remaining, self._poll))
            self.summarize()

    def summarize(self) -> Message:
        """Queue the summary of everything since the last one, and start a new tally."""
        zone = self.settings.zone
        now = self.clock.time()
        message = self._tally.message(
            datetime.fromtimestamp(self._tally_since, zone), datetime.fromtimestamp(now, zone),
            dropped=self.dropped - self._dropped_at_summary)
        self._tally, self._tally_since = Tally(), now
        self._dropped_at_summary = self.dropped
        self.enqueue(message)
        return message
