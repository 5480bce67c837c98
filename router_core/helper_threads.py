"""Threads that wait on the disk or the database for the event loop (the journal's commits).

The loop hands such a thread its work through a queue, which wakes it. On Linux, a thread
woken from a wait is often run at once on the CPU of the thread that woke it, which is
then descheduled: here, the event loop, in the middle of its step, for as long as the helper
needs to take the interpreter lock, find it held and go back to sleep. On the 2-core bench
machine that cost the loop 70-190 µs per hand-over, up to 6 ms, and capped the webhook's
orders/s (bench/README.md). A helper thread therefore asks to be scheduled as a batch thread
(``SCHED_BATCH``): same priority and share of the CPU, but it does not preempt the thread
that woke it. It runs as soon as a CPU is free, which on a machine with a spare core is at
once. On a single core, a commit whose fsync ends while the loop is busy waits until the loop
waits for I/O or its time slice ends (a few milliseconds at most), where it used to take the
CPU at once; the loop then finds larger groups to commit. Elsewhere (macOS, Windows) threads
are started as they are.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


def start_helper_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread named ``name`` that runs ``target`` as a batch thread."""

    def run() -> None:
        run_as_batch_thread()
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def run_as_batch_thread() -> bool:
    """Make the calling thread a ``SCHED_BATCH`` thread (Linux); False where that is not
    available or refused (nothing changes then)."""
    set_scheduler = getattr(os, "sched_setscheduler", None)
    batch = getattr(os, "SCHED_BATCH", None)
    if set_scheduler is None or batch is None:
        return False
    try:
        set_scheduler(0, batch, os.sched_param(0))  # 0: this thread, not the process
    except OSError:
        return False
    return True
