"""``alert-router plugins --schema BROKER``: the JSON Schema of a broker's account keys."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from router_core import make_plugin_manager
from router_core.cli import main


@pytest.mark.parametrize("broker", ["paper", "kraken-spot", "kraken-futures", "tradovate"])
def test_prints_the_brokers_config_schema(broker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--schema", broker]) == 0
    out, err = capsys.readouterr()
    cls = make_plugin_manager().brokers.get(broker)
    assert json.loads(out) == cls.Config.model_json_schema()
    assert err == ""


def test_the_schema_validates_an_account_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--schema", "kraken-spot"]) == 0
    schema = json.loads(capsys.readouterr().out)
    validator = Draft202012Validator(schema)
    # the keys as written in the config file (aliases: `validate`, not `validate_only`)
    assert list(validator.iter_errors({"validate": True, "tier": "pro"})) == []
    assert [e.validator for e in validator.iter_errors({"tier": "gold"})] == ["enum"]
    assert [e.validator for e in validator.iter_errors({"margn": True})] == [
        "additionalProperties"]


def test_an_unknown_broker_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--schema", "krakn-spot"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    installed = ", ".join(make_plugin_manager().brokers.names())
    assert err == (f"alert-router plugins: error: no broker named 'krakn-spot' is installed "
                   f"(installed: {installed})\n")
    assert "kraken-spot" in installed and "paper" in installed


def test_the_listing_is_unchanged_without_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"paper", "kraken-spot"} <= {b for row in rows for b in row["brokers"]}


def test_help_mentions_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plugins", "--help"])
    assert "--schema BROKER" in capsys.readouterr().out
