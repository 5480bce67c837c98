"""Every field a broker receives or returns is explained, and the guide shows those words."""

from __future__ import annotations

from pathlib import Path

from router_core.guide_fields import GUIDE, render, undocumented

ROOT = Path(__file__).resolve().parents[1]


def test_every_model_field_is_documented() -> None:
    assert undocumented() == []


def test_the_guide_shows_the_docstrings_words() -> None:
    text = (ROOT / GUIDE).read_text(encoding="utf-8")
    assert text == render(text), "run python -m router_core.guide_fields"
