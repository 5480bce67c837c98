"""docs/order-semantics.md shows the planner's own decisions: regenerate it with
``python -m router_core.semantics_table`` when the planner changes."""

from __future__ import annotations

from pathlib import Path

from router_core.semantics_table import DOC, render_doc

ROOT = Path(__file__).resolve().parents[1]


def test_the_decision_table_in_the_docs_is_the_planners() -> None:
    text = (ROOT / DOC).read_text(encoding="utf-8")
    assert text == render_doc(text), (
        "docs/order-semantics.md differs from what the planner decides; run "
        "python -m router_core.semantics_table"
    )


def test_the_table_covers_every_kind_of_account() -> None:
    text = (ROOT / DOC).read_text(encoding="utf-8")
    for title in ("Futures, one flip order", "Futures, close then open", "Spot margin",
                  "Spot cash"):
        assert f"### {title}" in text
