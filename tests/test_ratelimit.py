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


async def test_a_call_arriving_while_another_waits_queues_behind_it():
    # The uncontended fast path must never let a newcomer take budget a waiting caller is
    # sleeping for: first come, first served, as with the lock alone.
    class GatedClock(FakeClock):
        """Until the test opens the gate, a sleep waits for it and the time moves only by
        ``advance``; once open, a sleep passes its time as FakeClock's does (otherwise a
        caller still short of budget would sleep again at the same instant, forever)."""

        def __init__(self) -> None:
            super().__init__()
            self.gate = asyncio.Event()

        async def sleep(self, seconds: float) -> None:
            if self.gate.is_set():
                await super().sleep(seconds)
                return
            self.sleeps.append(seconds)
            await self.gate.wait()

    clock = GatedClock()
    counter = DecayingCounter(2, 1.0, clock=clock)
    await counter.acquire(2)
    done: list[str] = []

    async def call(name: str, cost: float) -> None:
        await counter.acquire(cost)
        done.append(name)

    first = asyncio.create_task(call("first", 2))
    await asyncio.sleep(0)
    assert clock.sleeps == [2.0]  # "first" sleeps in the queue, waiting for 2 units
    clock.advance(2)  # the budget is back while "first" still sleeps
    second = asyncio.create_task(call("second", 1))
    await asyncio.sleep(0)
    assert done == []  # "second" queued behind "first" instead of taking the budget
    clock.gate.set()
    await asyncio.gather(first, second)
    assert done == ["first", "second"]


class _ReferenceCounter:
    """The counter as it was before the uncontended fast path (every acquire under the lock,
    the pause read from a second clock call): the behaviour the fast path must keep."""

    def __init__(self, capacity: float, decay: float, clock: FakeClock) -> None:
        self.capacity, self.decay, self.clock = capacity, decay, clock
        self.level_now, self.stamp = 0.0, clock.monotonic()
        self.paused_until = 0.0
        self.lock = asyncio.Lock()

    def wait_time(self, cost: float) -> float:
        now = self.clock.monotonic()
        self.level_now = max(0.0, self.level_now - (now - self.stamp) * self.decay)
        self.stamp = now
        pause = max(0.0, self.paused_until - self.clock.monotonic())
        over = self.level_now + cost - self.capacity
        return max(pause, over / self.decay if over > 1e-9 else 0.0)

    async def acquire(self, cost: float) -> None:
        async with self.lock:
            while (delay := self.wait_time(cost)) > 0:
                await self.clock.sleep(delay)
            self.level_now += cost

    def try_acquire(self, cost: float) -> bool:
        if self.wait_time(cost) > 0:
            return False
        self.level_now += cost
        return True

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock.monotonic() + seconds)


async def test_every_call_sequence_waits_and_charges_as_the_locked_counter_did():
    import random

    rng = random.Random(17)
    for _ in range(200):
        capacity, decay = rng.choice([(15, 0.33), (20, 1.0), (60, 1.0), (3, 2.5)])
        new_clock, old_clock = FakeClock(), FakeClock()
        new = DecayingCounter(capacity, decay, clock=new_clock)
        old = _ReferenceCounter(capacity, decay, old_clock)
        for _ in range(40):
            action = rng.random()
            if action < 0.1:
                seconds = rng.choice([0.5, 3.0, 20.0])
                new.pause(seconds)
                old.pause(seconds)
            elif action < 0.3:
                seconds = rng.uniform(0, 5)
                new_clock.advance(seconds)
                old_clock.advance(seconds)
            elif action < 0.4:
                cost = rng.choice([1, 2, 0.5])
                assert new.try_acquire(cost) == old.try_acquire(cost)
            else:  # a burst of concurrent calls
                costs = [rng.choice([1, 2, 0.5, 0]) for _ in range(rng.randint(1, 6))]
                await asyncio.gather(*(new.acquire(cost) for cost in costs))
                await asyncio.gather(*(old.acquire(cost) for cost in costs))
            assert new_clock.sleeps == old_clock.sleeps
            assert new_clock.monotonic() == old_clock.monotonic()
            old.wait_time(0)  # decays the reference's level to now, as reading .level does
            assert new.level == pytest.approx(old.level_now, abs=1e-9)
            assert new.paused_for == max(0.0, old.paused_until - old_clock.monotonic())
