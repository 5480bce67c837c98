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
