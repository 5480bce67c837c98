"""What a claim journals: the alert's text is exactly ``json.dumps`` of its public dict, and
the fingerprint is the sha256 of ``json.dumps(..., sort_keys=True)`` of that dict without the
fire time, as before the router made both texts with one encoder of its own (a fingerprint
that changed would turn a re-delivery of an alert journaled before an upgrade into a
conflict)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from router_core.journal import ClaimOutcome
from router_core.plugins import make_plugin_manager
from router_core.router import Router

CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "paper"
fill_price = "50000"

[accounts.bob]
broker = "paper"
"""

BODIES = [
    {"ticker": "BTCUSD", "action": "buy", "quantity": "0.5", "accounts": ["alice"]},
    {"ticker": "BTCUSD", "action": "buy", "quantity": 0.25, "orderType": "limit",
     "limitPrice": "40000", "timenow": "2024-05-01T13:30:00Z", "time": "2024-05-01T13:29:00Z",
     "strategy": "Stratégie ✓ \"quoted\" \\ tab\t",
     "accounts": [{"account": "bob", "multiplier": 2}],
     "takeProfit": {"percent": "3"}, "stopLoss": {"type": "stop_limit", "stopPrice": "39000",
                                                  "limitPrice": "38900"},
     "extras": {"z": [1, 2.5, None, True, {"b": "x", "a": "é"}], "a": {"timenow": "kept"}}},
    {"ticker": "ETHUSD", "action": "sell", "sentiment": "flat", "id": "k-1",
     "timenow": "2024-05-01T13:30:00Z", "passphrase": "not-stored"},
]


def old_fingerprint(public: dict) -> str:
    kept = {k: v for k, v in public.items() if k not in ("timenow", "passphrase")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("body", BODIES)
async def test_the_journaled_alert_text_and_fingerprint_are_json_dumps_of_the_public_dict(
        tmp_path: Path, body: dict) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    try:
        acceptance = await router.accept_async(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW and acceptance.alert is not None
        public = acceptance.alert.public_dict()
        assert "passphrase" not in public
        journal_path = router.journal.path
        assert journal_path is not None
        with sqlite3.connect(journal_path) as db:
            text, fingerprint = db.execute(
                "SELECT alert, fingerprint FROM alerts WHERE alert_id = ?",
                (acceptance.alert_id,)).fetchone()
        assert text == json.dumps(public)  # byte for byte
        assert fingerprint == old_fingerprint(public)
        assert router.journal.get_alert(acceptance.alert_id).alert == public
    finally:
        await router.close()


async def test_a_refired_alert_with_another_fire_time_is_still_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    try:
        first = dict(BODIES[2])
        again = {**first, "timenow": "2024-05-01T13:31:00Z"}
        one = await router.accept_async(json.dumps(first).encode(), "application/json")
        two = await router.accept_async(json.dumps(again).encode(), "application/json")
        assert (one.outcome, two.outcome) == (ClaimOutcome.NEW, ClaimOutcome.DUPLICATE)
        assert two.alert_id == one.alert_id
        changed = {**first, "sentiment": "long", "action": "buy"}
        three = await router.accept_async(json.dumps(changed).encode(), "application/json")
        assert three.outcome is ClaimOutcome.CONFLICT
    finally:
        await router.close()
