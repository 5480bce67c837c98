"""An accepted alert keeps the accounts it was routed to: after a restart under another config
it never trades on that config's accounts."""

from __future__ import annotations

import json
from pathlib import Path

from router_core.journal import AlertState, ClaimOutcome
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import SubmitSpy

PAPER = """
[router]
state_dir = "state"

[accounts.rehearsal]
broker = "paper"
fill_price = "100"
"""

# the same folder, started later with a "live" config: other accounts, and the rehearsal
# account now pointing elsewhere
LIVE = """
[router]
state_dir = "state"

[accounts.live]
broker = "paper"
fill_price = "100"
"""

CHANGED = """
[router]
state_dir = "state"

[accounts.rehearsal]
broker = "paper"
fill_price = "100"
starting_balance = "5"
"""


def build(path: Path, text: str, spy: SubmitSpy | None = None) -> Router:
    path.write_text(text)
    extra = [("spy", spy)] if spy is not None else []
    return Router.from_config_file(path, plugins=make_plugin_manager(["paper"], extra=extra))


def accept_and_die(tmp_path: Path) -> str:
    """Accept an alert under the paper config, then stop before executing it (as kill -9
    would: the claim is durable, nothing else happened)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    router = build(tmp_path / "paper.toml", PAPER)
    body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "pending-1"}
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    router.journal.close()
    return acceptance.alert_id


async def test_a_pending_alert_never_trades_on_another_configs_accounts(tmp_path: Path) -> None:
    alert_id = accept_and_die(tmp_path)
    spy = SubmitSpy()
    router = build(tmp_path / "live.toml", LIVE, spy)
    try:
        await router.start()  # recovery executes what was pending
        record = router.journal.get_alert(alert_id)
        assert record is not None and record.state is AlertState.DONE
        assert spy.orders == []  # nothing reached any venue
        (leg,) = record.report["legs"]
        assert leg["account"] == "rehearsal" and leg["status"] == "denied"
        assert "no longer configured" in leg["reason"]
    finally:
        await router.close()


async def test_a_changed_account_is_refused_an_unchanged_one_executes(tmp_path: Path) -> None:
    alert_id = accept_and_die(tmp_path)
    spy = SubmitSpy()
    router = build(tmp_path / "changed.toml", CHANGED, spy)
    try:
        await router.start()
        record = router.journal.get_alert(alert_id)
        assert record is not None
        assert spy.orders == []
        assert "changed (broker, venue URL or credentials)" in record.report["legs"][0]["reason"]
    finally:
        await router.close()

    alert_id = accept_and_die(tmp_path / "again")
    router = build(tmp_path / "again" / "paper-2.toml", PAPER, spy)
    try:
        await router.start()  # the same account, unchanged: it executes there
        record = router.journal.get_alert(alert_id)
        assert record is not None and record.report["legs"][0]["status"] == "filled"
        assert spy.orders == [record.report["legs"][0]["client_order_id"]]
    finally:
        await router.close()
