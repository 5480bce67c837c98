"""tests/e2e run only when asked: ``pytest -m e2e tests/e2e`` (tox -e e2e) or ALERT_ROUTER_E2E=1.

They build packages and create virtual environments (minutes, and PyPI for the core's
dependencies), so the default test run skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _selected(config: pytest.Config) -> bool:
    expression = (config.getoption("markexpr", "") or "").replace(" ", "")
    wanted = "e2e" in expression and "note2e" not in expression
    return wanted or os.environ.get("ALERT_ROUTER_E2E") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _selected(config):
        return
    skip = pytest.mark.skip(reason="end-to-end: run with `pytest -m e2e tests/e2e` or "
                                   "ALERT_ROUTER_E2E=1")
    for item in items:
        if item.path.resolve().is_relative_to(HERE):  # this hook sees every collected item
            item.add_marker(skip)
