"""schemas/config.schema.json, the example configs and docs/configuration.md stay true."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from router_core.config import ACCOUNT_KEYS, load_config, load_router_settings
from router_core.config_schema import (
    SCHEMA_FILE,
    config_json_schema,
    config_json_schema_text,
    packaged_schema,
    undescribed_keys,
)
from router_core.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.fixture(scope="module")
def plugins():
    return make_plugin_manager()


@pytest.mark.parametrize("folder", ["schemas", "router_core/schemas"])
def test_committed_schema_matches_the_generator(folder):
    committed = (ROOT / folder / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == config_json_schema_text(), (
        f"{folder}/{SCHEMA_FILE} is stale: run `python -m router_core.config_schema`"
    )


def test_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(config_json_schema())
    assert packaged_schema() == config_json_schema()


def test_every_key_is_described():
    assert undescribed_keys() == []


def test_schema_covers_the_core_and_leaves_broker_keys_open():
    schema = config_json_schema()
    assert set(schema["properties"]) == {"router", "server", "defaults", "accounts", "journal",
                                          "plugins", "dashboard", "metrics",
                                          "cluster"}
    assert schema["additionalProperties"] is False
    account = schema["$defs"]["Account"]
    assert set(account["properties"]) == ACCOUNT_KEYS
    assert "broker's own schema" in account["additionalProperties"]["description"]
    for name in ("RouterSettings", "ServerConfig", "Defaults", "RiskLimits"):
        assert schema["$defs"][name]["additionalProperties"] is False


def test_schema_refuses_what_the_loader_refuses():
    validator = Draft202012Validator(config_json_schema())
    good = {"accounts": {"a": {"broker": "paper", "fill_price": "1", "risk": {}}}}
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {},  # no accounts
        {"accounts": {}},
        {"accounts": {"a": {"enabled": True}}},  # no broker
        {"accounts": {"a": {"broker": "paper", "multiplier": 0}}},
        {"accounts": {"a": {"broker": "paper", "risk": {"max_positon": 1}}}},
        {"server": {"port": 0}, "accounts": {"a": {"broker": "paper"}}},
        {"server": {"ip_allowlist": "everyone"}, "accounts": {"a": {"broker": "paper"}}},
        {"routr": {}, "accounts": {"a": {"broker": "paper"}}},
        {"defaults": {"quantity_type": "lots"}, "accounts": {"a": {"broker": "paper"}}},
    ):
        assert list(validator.iter_errors(bad)), bad


def test_there_are_the_three_examples():
    assert {p.name for p in EXAMPLES} >= {"paper.toml", "kraken.toml", "propfirm.toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_matches_every_schema(path, plugins):
    config = load_config(path, plugins.brokers)
    assert config.accounts
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert list(Draft202012Validator(config_json_schema()).iter_errors(data)) == []
    for name, table in data["accounts"].items():
        broker = plugins.brokers.get(table["broker"])
        section = {k: v for k, v in table.items() if k not in ACCOUNT_KEYS}
        errors = list(Draft202012Validator(broker.Config.model_json_schema()).iter_errors(section))
        assert errors == [], (name, [e.message for e in errors])
    # journal, halt and resume find the same journal without loading plugins
    assert load_router_settings(path).journal_path == config.router.journal_path


def test_examples_hold_no_secret():
    for path in EXAMPLES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for table in data["accounts"].values():
            for key in table:
                assert not re.search(r"(secret|password|token|key)$", key), (path.name, key)


def test_kraken_example_names_its_credentials_by_variable(plugins):
    config = load_config(ROOT / "examples" / "kraken.toml", plugins.brokers)
    assert {a.broker for a in config.accounts.values()} == {"kraken-spot", "kraken-futures"}
    spot = config.accounts["kraken-spot"].settings
    futures = config.accounts["kraken-futures"].settings
    assert (spot.api_key_env, spot.api_secret_env) == ("KRAKEN_API_KEY", "KRAKEN_API_SECRET")
    assert futures.api_key_env == "KRAKEN_FUTURES_API_KEY"
    assert config.server.passphrase_env and config.server.ip_allowlist == "tradingview"


def test_paper_example_has_two_paper_accounts(plugins):
    config = load_config(ROOT / "examples" / "paper.toml", plugins.brokers)
    assert [a.broker for a in config.accounts.values()] == ["paper", "paper"]


def test_load_router_settings_matches_load_config(tmp_path, plugins):
    for router in ('', '[router]\nstate_dir = "st"\n', f'[router]\nstate_dir = "{tmp_path}/abs"\n',
                   f'[router]\njournal = "{tmp_path}/j.db"\n'):
        path = tmp_path / "c.toml"
        path.write_text(router + '[accounts.p]\nbroker = "paper"\n')
        assert (load_router_settings(path).journal_path
                == load_config(path, plugins.brokers).router.journal_path)
    assert load_router_settings(None).journal_path == load_config(
        None, plugins.brokers).router.journal_path


def test_configuration_doc_names_every_key():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    schema = config_json_schema()
    for name, definition in schema["$defs"].items():
        for key in definition.get("properties", {}):
            assert re.search(rf"`{re.escape(key)}`", text), f"docs/configuration.md: {name}.{key}"
    for section in ("[router]", "[server]", "[defaults]", "[accounts.", ".risk]"):
        assert section in text
