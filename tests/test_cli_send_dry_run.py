"""``alert-router send --dry-run`` reads the position and prints the plan; nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router_core.cli import main

CONFIG = """
[router]
state_dir = "state"

[accounts.wallet]
broker = "paper"
account_kind = "cash"
wallet = { BTC = "2.5" }
fill_price = "50000"
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_dry_run_shows_the_plan_and_sends_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    buy, sell = tmp_path / "buy.json", tmp_path / "sell.json"
    buy.write_text('{"ticker": "BTCUSD", "action": "buy", "quantity": "0.1"}')
    sell.write_text('{"ticker": "BTCUSD", "action": "sell"}')

    code, report = run(capsys, "send", "--config", str(config), str(buy))
    assert code == 0 and report["ok"]
    code, dry = run(capsys, "send", "--dry-run", "--config", str(config), str(sell))
    assert code == 0 and dry["dry_run"] is True
    plan = dry["plans"][0]
    # the router bought 0.1 of a 2.6 wallet: a sell sells those 0.1, never the wallet
    assert plan["position_before"] == "0.1" and plan["target"] == "0"
    assert "bought and holds" in plan["position_source"]
    assert [(leg["side"], leg["quantity"]) for leg in plan["legs"]] == [("sell", "0.1")]

    code, again = run(capsys, "send", "--dry-run", "--config", str(config), str(sell))
    assert again["plans"][0]["position_before"] == "0.1"  # the dry run changed nothing


def test_dry_run_of_an_invalid_alert_is_a_clear_error(  # type: ignore[no-untyped-def]
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default config keeps its state in the working directory
    bad = tmp_path / "bad.json"
    bad.write_text('{"ticker": "BTCUSD", "action": "hold"}')
    assert main(["send", "--dry-run", str(bad)]) == 2
    assert "invalid alert: action" in capsys.readouterr().err
