"""``alert-router holdings``: list what the router counts as its own on cash accounts, and
adopt coins bought before it counted, so a later sell may sell them (and no more)."""

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


def send(config: Path, tmp_path: Path, alert: dict, capsys: pytest.CaptureFixture[str]) -> dict:
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(alert))
    main(["send", "--config", str(config), str(path)])
    return json.loads(capsys.readouterr().out)


def test_adopted_coins_are_sold_and_no_more(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    refused = send(config, tmp_path, {"ticker": "BTCUSD", "action": "sell", "id": "1"}, capsys)
    assert not refused["ok"] and "holds nothing" in refused["legs"][0]["reason"]

    assert main(["holdings", "--config", str(config), "--set", "wallet", "BTCUSD", "0.3"]) == 0
    assert "now counts 0.3 as its own (was 0)" in capsys.readouterr().out
    assert main(["holdings", "--config", str(config)]) == 0
    assert capsys.readouterr().out.split() == ["wallet", "BTCUSD", "0.3"]

    sold = send(config, tmp_path, {"ticker": "BTCUSD", "action": "sell", "id": "2"}, capsys)
    assert sold["ok"] and sold["legs"][0]["quantity"] == "0.3"  # the 2.2 others stay
    main(["holdings", "--config", str(config)])
    assert capsys.readouterr().out.split() == ["wallet", "BTCUSD", "0"]


def test_a_bad_quantity_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "router.toml"
    config.write_text(CONFIG)
    assert main(["holdings", "--config", str(config), "--set", "wallet", "BTCUSD", "-1"]) == 2
    assert "QUANTITY must be a number >= 0" in capsys.readouterr().out
