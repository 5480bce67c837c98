"""Timing loops and summaries: latency percentiles, CPU per order, throughput."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Send = Callable[[], Awaitable[Any]]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(latencies_s: Sequence[float], wall_s: float, cpu_s: float) -> dict[str, float]:
    n = len(latencies_s)
    ms = [v * 1000 for v in latencies_s]
    return {
        "orders": n,
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "cpu_ms_per_order": round(cpu_s * 1000 / n, 3),
        "per_second": round(n / wall_s, 1),
        "wall_s": round(wall_s, 3),
    }


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and the minimum of ``seconds``, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": round(ms[len(ms) // 2], 3), "p99_ms": round(percentile(ms, 99), 3),
            "min_ms": round(ms[0], 3)}


async def alternating(one: Send, fan_out: Send, accounts: int, rounds: int) -> dict[str, Any]:
    """One order (``one``), then one alert to ``accounts`` accounts (``fan_out``: its call
    returns when the last is answered), in alternating rounds, so load that comes and goes on
    the machine falls on both alike: the latency statistics of each, and the CPU per order."""
    await one()
    await fan_out()  # warm: every account's connection open
    ones: list[float] = []
    fans: list[float] = []
    cpu0 = time.process_time()
    for _ in range(rounds):
        for send, into in ((one, ones), (fan_out, fans)):
            started = time.perf_counter()
            await send()
            into.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu0
    return {"one_order": latency_stats(ones), "fan_out": latency_stats(fans),
            "cpu_ms_per_order": round(cpu * 1000 / (rounds * (1 + accounts)), 3)}


def gathered(senders: Sequence[Send]) -> Send:
    """One call that sends on every one of ``senders`` at once (one alert to N accounts)."""
    async def send_all() -> None:
        await asyncio.gather(*(s() for s in senders))
    return send_all


async def sequential(send: Send, count: int, warmup: int) -> dict[str, float]:
    """``count`` orders one after the other, after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        await send()
    latencies = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        await send()
        latencies.append(time.perf_counter() - started)
    return summary(latencies, time.perf_counter() - wall0, time.process_time() - cpu0)


async def in_flight(senders: Sequence[Send], total: int, warmup: int = 1) -> dict[str, float]:
    """``total`` orders with ``len(senders)`` in flight: each sender (one API key or account)
    sends its share one after the other, all senders at once."""
    await asyncio.gather(*(s() for s in senders for _ in range(warmup)))
    share = max(1, total // len(senders))
    latencies: list[float] = []

    async def worker(send: Send) -> None:
        for _ in range(share):
            started = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - started)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(s) for s in senders))
    return summary(latencies, time.perf_counter() - wall0, time.process_time() - cpu0)


async def fan_out(senders: Sequence[Send], rounds: int, warmup: int = 1) -> dict[str, float]:
    """One order on each of ``senders`` at once (one alert to N accounts), ``rounds`` times;
    the latency is until the last of the N is answered."""
    for _ in range(warmup):
        await asyncio.gather(*(s() for s in senders))
    latencies = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        started = time.perf_counter()
        await asyncio.gather(*(s() for s in senders))
        latencies.append(time.perf_counter() - started)
    result = summary(latencies, time.perf_counter() - wall0, time.process_time() - cpu0)
    result["cpu_ms_per_order"] = round(result["cpu_ms_per_order"] / len(senders), 3)
    result["accounts"] = len(senders)
    return result


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
