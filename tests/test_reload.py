"""Reloading the config while serving: a bad file changes nothing, a good one is obeyed by the
next alert, an alert already executing finishes under the config it started with."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from router_core.journal import ClaimOutcome
from router_core.models import OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.reload import reload_config
from router_core.router import Router

CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "paper"
fill_price = "100"
{risk}
"""


def write(path: Path, risk: str = "") -> None:
    path.write_text(CONFIG.format(risk=risk))


async def route(router: Router, **alert: str):  # type: ignore[no-untyped-def]
    body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", **alert}
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


async def started(path: Path) -> Router:
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    await router.start()
    return router


async def test_a_good_reload_changes_the_limit_the_next_alert_obeys(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    write(path)
    router = await started(path)
    try:
        assert (await route(router, id="1")).ok
        broker = router.brokers["alice"]
        write(path, '[accounts.alice.risk]\nmax_order_notional = "50"')
        outcome = await reload_config(router)
        assert outcome.reloaded and outcome.accounts_changed == ("alice",)
        assert router.brokers["alice"] is broker  # only the limit changed: same broker
        refused = await route(router, id="2")
        assert refused.legs[0].result.status is OrderStatus.DENIED
        assert "max_order_notional 50" in (refused.legs[0].result.reason or "")
    finally:
        await router.close()


async def test_a_bad_file_leaves_the_running_config(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    write(path)
    router = await started(path)
    try:
        before = router.config
        path.write_text(CONFIG.format(risk="") + "\n[accounts.bob]\nbroker = \"nope\"\n")
        outcome = await reload_config(router)
        assert not outcome.reloaded
        assert "accounts.bob.broker" in outcome.message and "the running one stays" in (
            outcome.message)
        assert router.config is before
        assert (await route(router, id="3")).ok  # still serving, as before
        path.write_text("[router\n")  # not even TOML
        assert not (await reload_config(router)).reloaded
        assert router.config is before
    finally:
        await router.close()


async def test_changed_broker_settings_get_a_new_broker_and_removed_accounts_go(
    tmp_path: Path,
) -> None:
    path = tmp_path / "router.toml"
    path.write_text(CONFIG.format(risk="") + '\n[accounts.bob]\nbroker = "paper"\n')
    router = await started(path)
    try:
        old_alice = router.brokers["alice"]
        path.write_text(CONFIG.format(risk="").replace('fill_price = "100"',
                                                       'fill_price = "200"'))
        outcome = await reload_config(router)
        assert outcome.reloaded and set(outcome.accounts_changed) == {"alice", "bob"}
        assert router.brokers["alice"] is not old_alice and "bob" not in router.brokers
        report = await route(router, id="4", accounts="bob")
        assert report.refused and "bob" in report.refused
        filled = await route(router, id="5")
        assert filled.legs[0].result.price == 200
    finally:
        await router.close()


async def test_an_alert_executing_during_a_reload_finishes_under_its_config(
    tmp_path: Path,
) -> None:
    path = tmp_path / "router.toml"
    write(path)
    router = await started(path)
    try:
        acceptance = router.accept(json.dumps(
            {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "6"}).encode(),
            "application/json")
        task = router.spawn(acceptance.alert_id)
        write(path, '[accounts.alice.risk]\nmax_order_notional = "50"')
        reloading = asyncio.ensure_future(reload_config(router))
        report, outcome = await asyncio.gather(task, reloading)
        assert outcome.reloaded
        assert report.ok  # started before the swap: the old, limitless config
        assert not (await route(router, id="7")).ok  # the next one obeys the new limit
    finally:
        await router.close()


async def test_what_needs_a_restart_is_said(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    write(path)
    router = await started(path)
    try:
        path.write_text("[server]\nport = 9999\n" + CONFIG.format(risk=""))
        outcome = await reload_config(router)
        assert outcome.reloaded and outcome.needs_restart == ("port",)
        path.write_text('[router]\nstate_dir = "elsewhere"\n' + CONFIG.format(risk="")
                        .replace("[router]\n", ""))
        refused = await reload_config(router)
        assert not refused.reloaded and "needs a restart" in refused.message
    finally:
        await router.close()
