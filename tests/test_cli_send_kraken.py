"""``alert-router send`` end to end against the Kraken spot and Futures fakes on loopback.

Each fake runs as its own server process; the CLI runs as a user would run it, with the
credentials in the environment variables the config names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from router_kraken_futures.fake import FAKE_API_KEY as FUTURES_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as FUTURES_SECRET
from router_kraken_spot.fake_data import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake_data import FAKE_API_SECRET as SPOT_SECRET

from router_core.testing import serve_fake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, str]]:
    with serve_fake("router_kraken_spot.fake") as spot, \
            serve_fake("router_kraken_futures.fake") as futures:
        yield {"spot": spot, "futures": futures}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, str]) -> Path:
    # One state folder for every run, as in real use: its persisted nonce ceiling is what keeps
    # one process's nonces above the previous process's on the same key.
    path = tmp_path_factory.mktemp("kraken") / "kraken.toml"
    path.write_text(f"""
[router]
reconcile_window_seconds = 0.5

[defaults]
accounts = ["spot"]

[accounts.spot]
broker = "kraken-spot"
base_url = "{fakes['spot']}"

[accounts.margin]
broker = "kraken-spot"
base_url = "{fakes['spot']}"
margin = true

[accounts.futures]
broker = "kraken-futures"
base_url = "{fakes['futures']}"
spot_tickers_as_perpetual = true
""")
    return path


def send(config: Path, alert: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "KRAKEN_API_KEY": SPOT_KEY, "KRAKEN_API_SECRET": SPOT_SECRET,
           "KRAKEN_FUTURES_API_KEY": FUTURES_KEY, "KRAKEN_FUTURES_API_SECRET": FUTURES_SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "router_core.cli", "send", "-", "--config", str(config)],
        input=json.dumps(alert).encode(), capture_output=True, env=env, timeout=60,
    )
    assert done.stderr.decode().count("Traceback") == 0, done.stderr.decode()
    return done.returncode, json.loads(done.stdout)


def spot_state(fakes: dict[str, str]) -> dict[str, Any]:
    return httpx.post(f"{fakes['spot']}/_fake/state").json()


def test_percent_of_equity_on_spot(config: Path) -> None:
    code, report = send(config, {"ticker": "ADAUSD", "action": "buy", "quantity": "1",
                                 "quantityType": "percent_of_equity", "price": "0.5",
                                 "orderType": "limit", "limitPrice": "0.5"})
    (leg,) = report["legs"]
    assert code == 0, json.dumps(report, indent=1)
    # 1% of the fake's 100,000 USD at 0.5 = 2000 ADA (first test: no order holds funds yet)
    assert leg["status"] in ("accepted", "filled"), leg
    assert Decimal(leg["quantity"]) == Decimal("2000")


def test_dollar_amount_on_spot(config: Path, fakes: dict[str, str]) -> None:
    code, report = send(config, {"ticker": "KRAKEN:XBTUSD", "action": "buy", "quantity": "1000",
                                 "quantityType": "dollar_amount", "price": "50000",
                                 "orderType": "limit", "limitPrice": "50000"})
    (leg,) = report["legs"]
    assert code == 0, json.dumps(report, indent=1)
    assert (leg["symbol"], leg["status"], Decimal(leg["quantity"])) == (
        "XXBTZUSD", "accepted", Decimal("0.02"))
    assert leg["venue_order_id"]


def test_limit_order_with_a_conditional_stop_loss(config: Path, fakes: dict[str, str]) -> None:
    before = len(spot_state(fakes)["orders"])
    code, report = send(config, {"ticker": "XBT/USD", "action": "buy", "quantity": "0.01",
                                 "orderType": "limit", "limitPrice": "49000",
                                 "stopLoss": {"stopPrice": "47000"}})
    (leg,) = report["legs"]
    assert code == 0, json.dumps(report, indent=1)
    assert leg["status"] == "accepted"
    orders = spot_state(fakes)["orders"]
    assert len(orders) == before + 1
    placed = list(orders.values())[-1] if isinstance(orders, dict) else orders[-1]
    assert "47000" in json.dumps(placed)  # the conditional close rides on the order


def test_reverse_on_a_margin_position(config: Path) -> None:
    code, report = send(config, {"ticker": "XBTUSD", "action": "buy", "quantity": "0.01",
                                 "leverage": "2", "accounts": ["margin"], "price": "50000"})
    assert code == 0, json.dumps(report, indent=1)
    code, report = send(config, {"ticker": "XBTUSD", "action": "sell", "sentiment": "short",
                                 "quantity": "0.01", "leverage": "2", "accounts": ["margin"],
                                 "price": "50000"})
    assert code == 0, json.dumps(report, indent=1)
    assert [(leg["leg"], leg["side"]) for leg in report["legs"]] == [
        ("close", "sell"), ("open", "sell")]


def test_one_alert_to_spot_and_futures_at_once(config: Path) -> None:
    code, report = send(config, {"ticker": "KRAKEN:XBTUSD", "action": "buy", "quantity": "0.01",
                                 "price": "50000", "accounts": ["spot", "futures"]})
    assert code == 0, json.dumps(report, indent=1)
    by_account = {leg["account"]: leg for leg in report["legs"]}
    assert by_account["spot"]["symbol"] == "XXBTZUSD"
    assert by_account["futures"]["symbol"].startswith("PF_XBTUSD")
    assert all(leg["status"] in ("accepted", "filled") for leg in report["legs"]), report
