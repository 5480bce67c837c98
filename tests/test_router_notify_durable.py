"""Observers of an alert (notifications, the dashboard's feed, metrics) hear of it only once its
claim is on disk, also when the answer waits for the execution and the claim's fsync was
deferred (``Router.accept_and_execute``, the webhook's ``?wait=true``): a refusal or an alert
with nothing to send is made durable before ``router_execution_finished`` runs, and an alert
whose leg intent's fsync covered the claim costs no fsync more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router_core import hookimpl
from router_core.journal_store import SYNC_MARK_FLAG
from router_core.models import ExecutionReport
from router_core.plugins import make_plugin_manager
from router_core.router import Router

CONFIG = """
[accounts.spot]
broker = "paper"
fill_price = "100"
account_kind = "cash"
"""


class Observer:
    """Notes, for every report, whether every deferred claim was on disk when it was told."""

    def __init__(self) -> None:
        self.router: Router | None = None
        self.seen: list[tuple[str, bool]] = []  # (alert_id, claim on disk)

    @hookimpl
    def router_execution_finished(self, report: ExecutionReport) -> None:
        assert self.router is not None
        writer: Any = self.router.journal._writer
        self.seen.append((report.alert_id, writer.durable_through >= writer._deferred_through))


@pytest.fixture
async def routed(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    observer = Observer()
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(["paper"], extra=[("observer", observer)]))
    observer.router = router
    await router.start()
    yield router, observer
    await router.close()


async def send(router: Router, alert: dict[str, Any]) -> ExecutionReport:
    _, report = await router.accept_and_execute(json.dumps(alert).encode(), "application/json")
    assert report is not None
    return report


def forced_syncs(router: Router) -> int:
    return int(router.journal.get_flag(SYNC_MARK_FLAG) or 0)


async def test_a_refused_alerts_observers_run_after_its_claim_is_on_disk(routed) -> None:  # type: ignore[no-untyped-def]
    router, observer = routed
    router.halt("maintenance")
    report = await send(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
    assert report.refused
    assert observer.seen == [(report.alert_id, True)]
    assert not router._deferred_claims


async def test_an_alert_with_nothing_to_send_is_on_disk_before_observers_hear(routed) -> None:  # type: ignore[no-untyped-def]
    router, observer = routed
    # a cash account holding nothing: the sell sends nothing
    report = await send(router, {"ticker": "BTCUSD", "action": "sell"})
    assert not any(leg.result.status.value == "filled" for leg in report.legs)
    assert observer.seen == [(report.alert_id, True)]
    assert forced_syncs(router) == 1  # one fsync, shared with the answer's


async def test_an_executed_alert_pays_no_fsync_for_its_observers(routed) -> None:  # type: ignore[no-untyped-def]
    router, observer = routed
    before = forced_syncs(router)
    report = await send(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
    assert report.ok
    assert observer.seen == [(report.alert_id, True)]
    assert forced_syncs(router) == before  # the leg intent's fsync covered the claim
    assert not router._deferred_claims
