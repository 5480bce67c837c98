"""What the router keeps per config (each account's digest) follows a reload, and what it reads
per alert (the halt flags) is read again for every alert, whoever set it."""

from __future__ import annotations

import json
from pathlib import Path

from router_core.journal import ClaimOutcome, Journal
from router_core.models import OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.reload import reload_config
from router_core.router import Router, account_halt_flag

CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "paper"
fill_price = "{price}"

[accounts.bob]
broker = "paper"
fill_price = "100"
"""


async def started(path: Path, price: str = "100") -> Router:
    path.write_text(CONFIG.format(price=price))
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    await router.start()
    return router


def accept(router: Router, alert_id: str) -> str:
    body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": alert_id,
            "accounts": ["alice", "bob"]}
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return acceptance.alert_id


async def test_an_account_changed_by_a_reload_after_acceptance_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    try:
        assert (await router.execute(accept(router, "1"))).ok  # both digests computed
        waiting = accept(router, "2")  # routed under the first config
        path.write_text(CONFIG.format(price="200"))
        assert (await reload_config(router)).reloaded
        report = await router.execute(waiting)
        by_account = {leg.account: leg.result for leg in report.legs}
        assert by_account["alice"].status is OrderStatus.DENIED
        assert "changed (broker, venue URL or credentials)" in (by_account["alice"].reason or "")
        assert by_account["bob"].status is OrderStatus.FILLED  # unchanged: it executes
        later = await router.execute(accept(router, "3"))  # routed under the new config
        assert later.ok and {leg.result.price for leg in later.legs} == {200, 100}
    finally:
        await router.close()


async def test_halts_set_by_another_process_are_seen_by_the_next_alert(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    other = Journal(router.config.router.journal_path)  # e.g. `alert-router halt --account`
    try:
        assert (await router.execute(accept(router, "1"))).ok
        other.set_flag(account_halt_flag("bob"), "maintenance")
        report = await router.execute(accept(router, "2"))
        by_account = {leg.account: leg.result for leg in report.legs}
        assert by_account["alice"].status is OrderStatus.FILLED
        assert by_account["bob"].status is OrderStatus.DENIED
        assert "account bob is halted (maintenance)" in (by_account["bob"].reason or "")
        other.set_flag("halt", "incident")
        refused = await router.execute(accept(router, "3"))
        assert refused.refused is not None and "trading is halted (incident)" in refused.refused
        other.set_flag("halt", None)
        other.set_flag(account_halt_flag("bob"), None)
        assert (await router.execute(accept(router, "4"))).ok
    finally:
        other.close()
        await router.close()


async def test_alerts_to_the_same_accounts_share_one_routing_until_a_reload(
        tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    try:
        first, second = accept(router, "1"), accept(router, "2")
        routing = router._claimed[first][2]
        assert routing is router._claimed[second][2]  # kept, not built again
        assert routing is not None and set(routing) == {"alice", "bob"}
        stored = router.journal._read("SELECT routing FROM alerts WHERE alert_id = ?", (second,))
        assert stored[0][0] == json.dumps(routing)  # the text the journal encoded before
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "3",
                "accounts": ["bob"]}
        only_bob = router.accept(json.dumps(body).encode(), "application/json").alert_id
        assert set(router._claimed[only_bob][2] or {}) == {"bob"}  # its own account list
        path.write_text(CONFIG.format(price="200"))
        assert (await reload_config(router)).reloaded
        after = router._claimed[accept(router, "4")][2]
        assert after is not None and after is not routing  # a new config: routed again
        assert after["alice"]["digest"] != routing["alice"]["digest"]
        assert after["bob"] == routing["bob"]
    finally:
        await router.close()


async def test_a_kept_routing_still_takes_each_alerts_own_multipliers(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    try:
        assert (await router.execute(accept(router, "1"))).ok  # the routing's targets kept
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "2",
                "accounts": [{"account": "alice", "multiplier": "3"}, "bob"]}
        acceptance = router.accept(json.dumps(body).encode(), "application/json")
        report = await router.execute(acceptance.alert_id)
        by_account = {leg.account: leg.result.quantity for leg in report.legs}
        assert by_account == {"alice": 3, "bob": 1}
        again = await router.execute(accept(router, "3"))  # no multiplier: the account's own
        assert {leg.account: leg.result.quantity for leg in again.legs} == {"alice": 1, "bob": 1}
    finally:
        await router.close()
