"""The committed alert schema is generated from the model and describes what the model reads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from router_core.alert import SCHEMA_FILE, alert_json_schema, alert_json_schema_text
from router_core.intake import parse_alert
from router_core.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = [ROOT / "schemas" / SCHEMA_FILE, ROOT / "router_core" / "schemas" / SCHEMA_FILE]
EXAMPLES = ROOT / "schemas" / "examples"


@pytest.mark.parametrize("path", COMMITTED, ids=["schemas", "router_core/schemas"])
def test_committed_schema_matches_the_model(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == alert_json_schema_text(), (
        f"{path} drifted from router_core.alert.Alert; regenerate with "
        "`python -m router_core.alert` and commit both files"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = alert_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["ticker", "action"]
    assert schema["properties"]["action"]["enum"] == [
        "buy", "sell", "exit", "cancel", "add", "reverse"]


def test_schema_uses_json_names() -> None:
    names = set(alert_json_schema()["properties"])
    assert {"quantityType", "orderType", "limitPrice", "takeProfit", "stopLoss", "orderId",
            "reduceOnly", "passphrase"} <= names
    assert not {n for n in names if "_" in n}


def test_every_parsed_valid_example_conforms_to_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(alert_json_schema())
    plugins = make_plugin_manager(enabled=[])
    for path in sorted((EXAMPLES / "valid").glob("*.json")):
        alert = parse_alert(path.read_bytes(), "application/json", plugins)
        errors = list(validator.iter_errors(alert.public_dict()))
        assert not errors, (path.name, [e.message for e in errors])


@pytest.mark.parametrize("name", ["unknown_field_typo", "unknown_action", "quantity_zero",
                                  "quantity_boolean", "missing_ticker"])
def test_field_level_faults_are_caught_by_the_schema_too(name: str) -> None:
    validator = jsonschema.Draft202012Validator(alert_json_schema())
    body = json.loads((EXAMPLES / "invalid" / f"{name}.json").read_text())
    assert list(validator.iter_errors(body))


def test_cli_schema_prints_the_committed_schema(capsys) -> None:
    from router_core.cli import main

    assert main(["schema"]) == 0
    assert capsys.readouterr().out == alert_json_schema_text()


def test_regenerating_writes_both_identical_copies(tmp_path: Path) -> None:
    from router_core.alert import write_alert_schema

    written = [Path(p) for p in write_alert_schema(str(tmp_path))]
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "schemas/alert.v1.schema.json", "router_core/schemas/alert.v1.schema.json"]
    assert {p.read_text(encoding="utf-8") for p in written} == {alert_json_schema_text()}
