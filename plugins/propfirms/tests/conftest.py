"""Fixtures for the prop-firm stub tests: a fixed clock and a broker factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from router_core import Broker, BrokerContext, NonceRegistry, RateLimiterRegistry

# Minimal valid settings per broker: the required fields only.
REQUIRED: dict[str, dict[str, Any]] = {
    "tradovate": {"app_id": "alert-router"},
    "rithmic": {
        "gateway_url": "wss://rithmic.example/gateway",
        "system_name": "Rithmic Paper Trading",
        "app_name": "alert-router",
    },
    "tradelocker": {"server": "FIRM-DEMO"},
    "matchtrader": {"broker_id": "0"},
    "projectx": {},
}


class FixedClock:
    """Wall time fixed at noon UTC of one day."""

    def __init__(self, day: date) -> None:
        self._time = datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()

    def time(self) -> float:
        return self._time

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        return None


MakeBroker = Callable[..., Broker]


@pytest.fixture
def make_broker(tmp_path: Path) -> MakeBroker:
    def make(cls: type[Broker], today: date = date(2025, 12, 20), **settings: Any) -> Broker:
        config = cls.Config.model_validate({**REQUIRED[cls.name], **settings})
        clock = FixedClock(today)
        context = BrokerContext(
            account="acct",
            state_dir=tmp_path,
            nonces=NonceRegistry(None),
            limiters=RateLimiterRegistry(clock),
            clock=clock,
            environ={},
        )
        return cls(config, context)

    return make
