"""The decaying counter waits instead of failing."""

from __future__ import annotations

import asyncio

import pytest

from router_core.ratelimit import DecayingCounter
from router_core.testing import FakeClock


async def test_burst_above_capacity_waits_for_decay():
    clock = FakeClock()
    counter = DecayingCounter(15, 0.33, clock=clock)
    for _ in range(15):
        await counter.acquire(1)
    assert clock.sleeps == []
    await counter.acquire(1)
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(1 / 0.33, rel=1e-3)
    assert counter.level <= 15 + 1e-9  # float time: a rounding sliver, never a whole call


async def test_never_exceeds_capacity_under_concurrency():
    clock = FakeClock()
    counter = DecayingCounter(20, 1.0, clock=clock)
    levels: list[float] = []

    async def call() -> None:
        await counter.acquire(2)
        levels.append(counter.level)

    await asyncio.gather(*(call() for _ in range(50)))
    assert max(levels) <= 20 + 1e-9


async def test_pause_holds_every_caller():
    clock = FakeClock()
    counter = DecayingCounter(10, 1.0, clock=clock)
    counter.pause(900)
    assert counter.paused_for == 900
    await counter.acquire(1)
    assert sum(clock.sleeps) >= 900


def test_cost_above_capacity_is_an_error():
    with pytest.raises(ValueError, match="exceeds the capacity"):
        asyncio.run(DecayingCounter(5, 1).acquire(6))
