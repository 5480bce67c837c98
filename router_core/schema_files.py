"""The generated JSON schemas kept in two places: ``schemas/`` in the repository, for readers
and editors, and ``router_core/schemas/``, packaged so an installed router can read them."""

from __future__ import annotations

from pathlib import Path

FOLDERS = ("schemas", "router_core/schemas")


def write_schema_files(name: str, text: str, root: str | Path = ".") -> list[str]:
    """Write ``text`` as ``name`` into both folders under ``root``; return the paths."""
    written = []
    for folder in FOLDERS:
        path = Path(root) / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(str(path))
    return written
