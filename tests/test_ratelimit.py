"""The decaying counter waits instead of failing."""

from __future__ import annotations

import asyncio

import pytest

from router_core.ratelimit import DecayingCounter


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_burst_above_capacity_waits_for_decay():
    clock = ManualClock()
    counter = DecayingCounter(15, 0.33, clock=clock)
    for _ in range(15):
        await counter.acquire(1)
    assert clock.slept == []
    await counter.acquire(1)
    assert clock.slept and clock.slept[0] == pytest.approx(1 / 0.33, rel=1e-3)
    assert counter.level <= 15


async def test_never_exceeds_capacity_under_concurrency():
    clock = ManualClock()
    counter = DecayingCounter(20, 1.0, clock=clock)
    levels: list[float] = []

    async def call() -> None:
        await counter.acquire(2)
        levels.append(counter.level)

    await asyncio.gather(*(call() for _ in range(50)))
    assert max(levels) <= 20 + 1e-9


async def test_pause_holds_every_caller():
    clock = ManualClock()
    counter = DecayingCounter(10, 1.0, clock=clock)
    counter.pause(900)
    assert counter.paused_for == 900
    await counter.acquire(1)
    assert sum(clock.slept) >= 900


def test_cost_above_capacity_is_an_error():
    with pytest.raises(ValueError, match="exceeds the capacity"):
        asyncio.run(DecayingCounter(5, 1).acquire(6))
