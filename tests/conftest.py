"""Fixtures shared by the core's tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def fake_distribution(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Install a throw-away distribution with entry points by putting a dist-info on sys.path.

    ``fake_distribution("dist-name", {"plugin-name": "module:attr"}, modules={"mod": "code"})``
    """
    added: list[str] = []

    def make(
        dist: str,
        entry_points: dict[str, str],
        modules: dict[str, str] | None = None,
        group: str = "router_core.plugins",
    ) -> Path:
        root = tmp_path / f"site-{dist}"
        info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for name, code in (modules or {}).items():
            (root / f"{name}.py").write_text(textwrap.dedent(code))
        sys.path.insert(0, str(root))
        added.append(str(root))
        return root

    yield make
    for path in added:
        sys.path.remove(path)
    for name in [m for m in sys.modules if m.startswith("fakeplug_")]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """``serve`` run in-process points the root logger at the stderr of that moment, which
    pytest closes after the test; later log lines would then fail on a closed stream."""
    import logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def _load_by_path(name: str, filename: str) -> object:
    # Shared test helpers live in modules of tests/ that are loaded by path, because the tests
    # folder is not a package (--import-mode=importlib); registered under ``name`` so that test
    # files can import them.
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(filename))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The PostgreSQL fixtures (tests/pg.py): a throw-away cluster, a database per test.
_pg = _load_by_path("alert_router_tests_pg", "pg.py")
pg_cluster = _pg.pg_cluster  # type: ignore[attr-defined]
pg_url = _pg.pg_url  # type: ignore[attr-defined]
journal_location = _pg.journal_location  # type: ignore[attr-defined]

# The raw loopback HTTP server of the transport tests (tests/loopback.py);
# test_http_transport.py and test_venue_http.py import it as alert_router_tests_loopback.
serve = _load_by_path("alert_router_tests_loopback", "loopback.py").serve  # type: ignore[attr-defined]
