"""What planning keeps per account config (whether any risk limit is set) follows a reload, and
the journal reads it skips are skipped only where they cannot change the plan."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from router_core import hookimpl
from router_core.journal import ClaimOutcome, Journal
from router_core.models import OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.reload import reload_config
from router_core.router import Router

CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "paper"
fill_price = "50000"
account_kind = "{kind}"
{risk}
"""
LIMIT = '[accounts.alice.risk]\nmax_order_notional = "1000"'


async def started(path: Path, *, risk: str = "", kind: str = "net", extra: Any = ()) -> Router:
    path.write_text(CONFIG.format(risk=risk, kind=kind))
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"], extra=extra))
    await router.start()
    return router


async def send(router: Router, action: str = "buy", quantity: str = "1") -> Any:
    body = {"ticker": "BTCUSD", "action": action, "quantity": quantity, "price": "50000",
            "id": uuid.uuid4().hex}
    acceptance = router.accept(json.dumps(body).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


class CountingReads:
    """Counts the calls of some Journal read methods, passing each through."""

    def __init__(self, journal: Journal, names: list[str]) -> None:
        self.calls = dict.fromkeys(names, 0)
        for name in names:
            real = getattr(journal, name)

            def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                self.calls[_name] += 1
                return _real(*args, **kwargs)

            setattr(journal, name, counted)


async def test_a_limit_added_by_a_reload_is_enforced_and_one_removed_is_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    try:
        assert (await send(router)).ok  # no limit: remembered for this config object
        path.write_text(CONFIG.format(risk=LIMIT, kind="net"))
        assert (await reload_config(router)).reloaded
        (leg,) = (await send(router)).legs
        assert leg.result.status is OrderStatus.DENIED
        assert "max_order_notional 1000" in (leg.result.reason or "")
        path.write_text(CONFIG.format(risk="", kind="net"))
        assert (await reload_config(router)).reloaded
        assert (await send(router)).ok
    finally:
        await router.close()


async def test_the_journal_is_read_for_a_limit_only_when_one_is_set(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    router = await started(path)
    reads = CountingReads(router.journal, ["legs_since", "realised_pnl"])
    try:
        assert (await send(router)).ok
        assert reads.calls == {"legs_since": 0, "realised_pnl": 0}
        path.write_text(CONFIG.format(
            risk='[accounts.alice.risk]\nmax_orders_per_minute = 1\ndaily_loss_limit = "10"',
            kind="net"))
        assert (await reload_config(router)).reloaded
        report = await send(router)
        assert reads.calls == {"legs_since": 1, "realised_pnl": 1}
        (leg,) = report.legs  # one order already in the last minute, the limit is one
        assert leg.result.status is OrderStatus.DENIED
        assert "max orders per minute" in (leg.result.reason or "")
    finally:
        await router.close()


class DenyAll:
    @hookimpl
    def router_check_plan(self, plan: Any, context: Any) -> str:
        return "the desk is closed"


async def test_plugin_checks_run_when_no_limit_is_set(tmp_path: Path) -> None:
    router = await started(tmp_path / "router.toml", extra=[("deny", DenyAll())])
    try:
        (leg,) = (await send(router)).legs
        assert leg.result.status is OrderStatus.DENIED
        assert "the desk is closed" in (leg.result.reason or "")
    finally:
        await router.close()


async def test_an_exit_reads_the_resting_orders_flag_only_on_a_cash_account(
    tmp_path: Path,
) -> None:
    for kind, expected in (("net", 0), ("cash", 1)):
        router = await started(tmp_path / f"{kind}.toml", kind=kind)
        try:
            assert (await send(router)).ok
            reads = CountingReads(router.journal, ["has_resting"])
            report = await send(router, "exit")
            assert report.ok and [leg.purpose.value for leg in report.legs] == ["close"]
            assert reads.calls["has_resting"] == expected, kind
        finally:
            await router.close()


async def test_a_cash_account_holding_nothing_does_not_read_its_resting_sells(
    tmp_path: Path,
) -> None:
    router = await started(tmp_path / "router.toml", kind="cash")
    reads = CountingReads(router.journal, ["resting_sells"])
    try:
        report = await send(router, "exit")  # flat: nothing held, nothing to sell
        assert reads.calls["resting_sells"] == 0
        assert not [leg for leg in report.legs if leg.result.status is not OrderStatus.DENIED]
        assert (await send(router)).ok  # bought: now it holds, and the sells are read
        assert (await send(router, "exit")).ok
        assert reads.calls["resting_sells"] >= 1
    finally:
        await router.close()
