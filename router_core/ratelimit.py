"""A decaying counter that waits instead of failing.

Kraken spot documents its limits as a counter that each call raises by its cost and that decays
at a fixed rate; a call that would push it above the maximum is refused. A token bucket is the
same thing seen from the other side, so one class serves both: ``capacity`` is the maximum,
``decay_per_second`` the refill rate. ``acquire(cost)`` sleeps until the call fits.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from .clock import Clock, SystemClock

_SLIVER = 1e-9  # cost units


class DecayingCounter:
    def __init__(
        self,
        capacity: float,
        decay_per_second: float,
        *,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        if capacity <= 0 or decay_per_second <= 0:
            raise ValueError("capacity and decay_per_second must be positive")
        self.capacity = capacity
        self.decay_per_second = decay_per_second
        self.name = name
        self._clock = clock or SystemClock()
        self._level = 0.0
        self._stamp = self._clock.monotonic()
        self._lock = asyncio.Lock()
        self._queued = 0  # callers in (or waiting for) the locked path of acquire
        self._paused_until = -math.inf  # never paused

    @property
    def level(self) -> float:
        self._decay()
        return self._level

    def _decay(self) -> float:
        """Let the level decay up to now; returns now (one clock read serves the caller)."""
        now = self._clock.monotonic()
        level = self._level - (now - self._stamp) * self.decay_per_second
        self._level = level if level > 0.0 else 0.0
        self._stamp = now
        return now

    def wait_time(self, cost: float) -> float:
        """Seconds until ``cost`` fits, without taking it."""
        now = self._decay()
        pause = self._paused_until - now
        over = self._level + cost - self.capacity
        # Float decay can leave a sliver of a unit; waiting for it can stall a fake clock whose
        # time no longer changes at that scale, so slivers count as fitting.
        wait = over / self.decay_per_second if over > _SLIVER else 0.0
        return pause if pause > wait else wait

    async def acquire(self, cost: float = 1.0) -> None:
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the capacity {self.capacity} of {self.name}")
        # The usual call: nobody waits before it and the cost fits now. It takes the budget at
        # once, exactly as the locked path below would (that lock would be free and the loop
        # would not sleep), without the lock's two coroutines.
        if not self._queued and self.wait_time(cost) <= 0:
            self._level += cost
            return
        self._queued += 1
        try:
            async with self._lock:  # first come, first served
                while (delay := self.wait_time(cost)) > 0:
                    await self._clock.sleep(delay)
                self._level += cost
        finally:
            self._queued -= 1

    def try_acquire(self, cost: float = 1.0) -> bool:
        if self.wait_time(cost) > 0:
            return False
        self._level += cost
        return True

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (after the venue said the limit was hit)."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)

    @property
    def paused_for(self) -> float:
        if self._paused_until == -math.inf:
            return 0.0  # never paused: no clock read
        return max(0.0, self._paused_until - self._clock.monotonic())


class RateLimiterRegistry:
    """Limiters shared by every account that uses the same key (one budget per key)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._limiters: dict[str, DecayingCounter] = {}

    def get(self, key: str, factory: Callable[[Clock], DecayingCounter]) -> DecayingCounter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = factory(self._clock)
        return limiter

    def items(self) -> list[tuple[str, DecayingCounter]]:
        """Every budget by key, read-only (``/metrics`` reads their headroom when scraped)."""
        return sorted(self._limiters.items())
