"""Fixtures for the prop-firm stub tests: a broker factory on a clock fixed to one day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from router_core import Broker
from router_core.testing import FakeClock, make_broker_context

# The fields each broker's Config requires; everything else keeps its default.
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


def clock_on(day: date) -> FakeClock:
    """A fake clock at noon UTC of ``day``."""
    return FakeClock(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())


@pytest.fixture
def required_settings() -> dict[str, dict[str, Any]]:
    """``REQUIRED`` for test modules, which cannot import conftest.py."""
    return REQUIRED


@pytest.fixture
def make_broker(tmp_path: Path) -> Callable[..., Broker]:
    """``make_broker(cls, today=date(2025, 12, 20), **settings)`` -> an unstarted broker."""

    def make(cls: type[Broker], today: date = date(2025, 12, 20), **settings: Any) -> Broker:
        config = cls.Config.model_validate({**REQUIRED[cls.name], **settings})
        return cls(config, make_broker_context(tmp_path / cls.name, clock=clock_on(today)))

    return make
