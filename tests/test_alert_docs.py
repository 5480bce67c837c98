"""docs/alert-format.md documents every field the model reads and every dialect."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from router_core.alert import ORDER_TYPES, AccountTarget, Alert, StopLoss, TakeProfit
from router_core.intake import dialect_names
from router_core.models import Action, QuantityType, Sentiment, TimeInForce
from router_core.plugins import make_plugin_manager

DOC = (Path(__file__).resolve().parents[1] / "docs" / "alert-format.md").read_text()


def json_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


@pytest.mark.parametrize("model", [Alert, TakeProfit, StopLoss, AccountTarget])
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    missing = [name for name in json_names(model) if f"`{name}`" not in DOC]
    assert not missing, f"docs/alert-format.md does not mention {missing}"


def test_every_alert_field_has_a_reference_row() -> None:
    missing = [name for name in json_names(Alert) if f"| `{name}` |" not in DOC]
    assert not missing


@pytest.mark.parametrize("values", [Action, Sentiment, QuantityType, TimeInForce, ORDER_TYPES])
def test_every_enum_value_is_documented(values) -> None:
    missing = [v.value for v in values if f"`{v.value}`" not in DOC]
    assert not missing


def test_every_builtin_dialect_is_documented() -> None:
    for name in dialect_names(make_plugin_manager(enabled=[])):
        assert f"### {name}" in DOC
