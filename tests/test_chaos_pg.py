"""The chaos run's short form (tests/chaos.py): three serve instances on one PostgreSQL journal,
SIGKILLed at random while alerts stream in; nothing answered 2xx is lost, nothing is doubled.

About 25 s with a few kills. The long form is ``python -m tests.chaos --seconds 120 --kills 40``
(docs/operations.md, "Several instances").
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="psycopg is needed for the PostgreSQL journal")
pytest.importorskip("router_kraken_spot", reason="alert-router-kraken-spot is not installed")
pytest.importorskip("router_kraken_futures", reason="alert-router-kraken-futures is not installed")

pytestmark = pytest.mark.slow


def _chaos() -> object:
    spec = importlib.util.spec_from_file_location("alert_router_tests_chaos",
                                                  Path(__file__).with_name("chaos.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_killed_instances_lose_nothing_answered_and_double_nothing(pg_url: str,
                                                                   tmp_path: Path) -> None:
    chaos = _chaos()
    result = chaos.run(pg_url, tmp_path / "chaos", seconds=20, kills=5,  # type: ignore[attr-defined]
                       alerts_per_second=4.0)
    assert result.kills >= 3, "the killer did not get to kill"
    assert result.acked > 0 and result.expected_orders > 0
    assert result.doubled == 0, result.details
    assert result.lost == 0, result.details
    assert result.unexpected == 0, result.details
    assert result.nonce_errors == 0
    assert result.unfinished == 0 and result.unsettled_legs == 0, result.lines()
