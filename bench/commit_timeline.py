"""Where an alert waits with many in flight: the event loop's idle time and each durable group's
timeline, for the in-process router with N accounts in flight.

    python bench/commit_timeline.py               # 50 accounts, 6,000 orders, ~15 s
    python bench/commit_timeline.py --orders 2000 --accounts 10

It starts the Kraken spot fake, runs ``Router.accept_and_execute`` with one sender per account
(as ``run.py``'s "orders/s, 50 in flight" row), and reports, per order:

* the loop's idle time: seconds its selector waited for I/O, split by what was under way when it
  began waiting (a durable group with the journal's helper thread or not; requests out at the
  venue or not);
* the event loop thread's own CPU (``time.thread_time``), beside the process's;
* each durable group's timeline: its statements on the loop, the wait until the helper thread
  runs it (the thread must be scheduled and take the interpreter lock from the busy loop), its
  ``COMMIT`` with the fsync, and the wait until the loop settles it; beside them, one small
  durable commit alone on the same disk (``router_paths.fsync_cost``).

The writer's methods are wrapped in this process only, to read the clock; the router is as
shipped. Read the figures as a breakdown of one run, not as a comparison (``run.py`` compares).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fakes  # noqa: E402
import measure  # noqa: E402
import router_paths  # noqa: E402

STEPS = ("statements on the loop", "handed over, until the helper thread runs it",
         "COMMIT with its fsync (helper thread)", "committed, until the loop settles it")


class GroupClock:
    """Wraps three of the journal writer's own steps with clock reads, keyed by group number:
    the hand-over of a durable group, its ``COMMIT`` on the helper thread and its settling on
    the loop. The shipped helper loop runs unchanged between them."""

    def __init__(self) -> None:
        self.timelines: list[tuple[float, float, float, float]] = []

    def install(self) -> None:
        from router_core import journal_writer

        writer_class: Any = journal_writer.GroupCommitWriter
        handed: dict[int, float] = {}  # group number -> when it was handed over
        committed: dict[int, tuple[float, float]] = {}  # -> (COMMIT began, COMMIT ended)
        timelines = self.timelines
        hand_over = writer_class._hand_over
        commit_and_unlock = writer_class._commit_and_unlock
        settle = writer_class._committed

        def timed_hand_over(writer: Any, loop: Any, queue: Any, group: Any, outcomes: Any,
                            number: int, started: float) -> None:
            handed[number] = time.perf_counter()
            hand_over(writer, loop, queue, group, outcomes, number, started)

        def timed_commit_and_unlock(writer: Any, number: int, durable: bool) -> Any:
            began = time.perf_counter()
            error = commit_and_unlock(writer, number, durable)
            if number in handed:  # a handed-over group, on the helper thread
                committed[number] = (began, time.perf_counter())
            return error

        def timed_committed(writer: Any, loop: Any, queue: Any, group: Any, outcomes: Any,
                            number: int, started: float, error: Any) -> None:
            at = handed.pop(number)
            began, done = committed.pop(number)
            timelines.append((at - started, began - at, done - began, time.perf_counter() - done))
            settle(writer, loop, queue, group, outcomes, number, started, error)

        writer_class._hand_over = timed_hand_over
        writer_class._commit_and_unlock = timed_commit_and_unlock
        writer_class._committed = timed_committed


class IdleClock:
    """Wraps the loop's selector: how long each wait lasted and what was under way."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.requests_out = 0
        self.by_cause: Counter[str] = Counter()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        from router_core import venue_http

        clock = self
        request = venue_http.VenueHttp.request

        async def counted_request(http: Any, *args: Any, **kwargs: Any) -> Any:
            clock.requests_out += 1
            try:
                return await request(http, *args, **kwargs)
            finally:
                clock.requests_out -= 1

        venue_http.VenueHttp.request = counted_request  # type: ignore[method-assign]
        selector = loop._selector  # type: ignore[attr-defined]
        select = selector.select

        def timed_select(timeout: float | None = None) -> Any:
            committing = any(queue.committing for queue in clock.writer._queues.values())
            out = clock.requests_out
            began = time.perf_counter()
            events = select(timeout)
            cause = ("a durable group with the helper thread" if committing
                     else "no durable group with the helper thread")
            cause += ", requests out at the venue" if out else ", nothing out at the venue"
            clock.by_cause[cause] += time.perf_counter() - began
            return events

        selector.select = timed_select


async def run(accounts: int, orders: int) -> dict[str, Any]:
    groups = GroupClock()
    groups.install()
    fake = fakes.start_kraken_spot(accounts)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            router = await router_paths.start_router(Path(workdir), fake.url, accounts)
            senders = [router_paths.in_process_sender(router, [f"a{n}"])
                       for n in range(1, accounts + 1)]
            await measure.in_flight(senders, 1000)  # warm: connections, caches, leases
            groups.timelines.clear()
            idle = IdleClock(router.journal._store.writer)
            idle.install(asyncio.get_running_loop())
            thread_cpu = time.thread_time()
            result = await measure.in_flight(senders, orders)
            thread_cpu = time.thread_time() - thread_cpu
            await router.close()
            bare_commit_ms = router_paths.fsync_cost(Path(workdir), 200)
    finally:
        fake.stop()
    n = result["orders"]
    return {
        "accounts": accounts, "orders": n, "orders_per_s": result["per_second"],
        "wall_ms_per_order": result["wall_s"] * 1000 / n,
        "process_cpu_ms_per_order": result["cpu_ms_per_order"],
        "loop_thread_cpu_ms_per_order": thread_cpu * 1000 / n,
        "loop_idle_ms_per_order": {cause: seconds * 1000 / n
                                   for cause, seconds in idle.by_cause.most_common()},
        "bare_durable_commit_ms": bare_commit_ms,
        "durable_groups": len(groups.timelines),
        "durable_group_ms": {step: _percentiles([t[i] for t in groups.timelines])
                             for i, step in enumerate(STEPS)},
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ms = [s * 1000 for s in seconds]
    return {"p50": measure.percentile(ms, 50), "p90": measure.percentile(ms, 90),
            "mean": statistics.fmean(ms)}


def print_report(out: dict[str, Any]) -> None:
    print(f"{out['orders']} orders, {out['accounts']} in flight: {out['orders_per_s']:,.0f}/s, "
          f"wall {out['wall_ms_per_order']:.3f} ms per order")
    print(f"CPU per order: process {out['process_cpu_ms_per_order']:.3f} ms, event loop "
          f"thread {out['loop_thread_cpu_ms_per_order']:.3f} ms")
    idle = out["loop_idle_ms_per_order"]
    print(f"loop idle per order: {sum(idle.values()):.3f} ms, of which")
    for cause, ms in idle.items():
        print(f"  {ms:.3f} ms  while {cause}")
    print(f"durable groups: {out['durable_groups']} (one per "
          f"{out['orders'] / max(out['durable_groups'], 1):.1f} orders); one small durable "
          f"commit alone on the same disk: {out['bare_durable_commit_ms']:.3f} ms")
    for step, figures in out["durable_group_ms"].items():
        if figures:
            print(f"  {step:48s} p50 {figures['p50']:.3f}  p90 {figures['p90']:.3f}  "
                  f"mean {figures['mean']:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--orders", type=int, default=6000)
    args = parser.parse_args()
    print_report(asyncio.run(run(args.accounts, args.orders)))


if __name__ == "__main__":
    main()
