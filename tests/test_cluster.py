"""Two router instances in one process on one PostgreSQL journal and one fake Kraken.

Each instance has its own state folder, plugin manager and brokers, as two processes would;
they share only the database and the venue. What is checked: a delivery claimed by one is a
duplicate for the other; each API key is driven by one instance and work for it is executed
there; when an instance stops heartbeating its keys are taken over and the order it had sent
is found by client order id, not sent again; halt and limits hold across instances.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("psycopg", reason="psycopg is needed for the PostgreSQL journal")
pytest.importorskip("router_kraken_spot", reason="alert-router-kraken-spot is not installed")

from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import extra_key

from router_core import hookimpl
from router_core.cluster import lease_keys
from router_core.cluster.node import cluster_for
from router_core.config import build_config
from router_core.journal import AlertState, ClaimOutcome, Journal
from router_core.plugins import make_plugin_manager
from router_core.router import Router

pytestmark = pytest.mark.slow

KEYS = 3  # API keys; two accounts on key 1 (they must share an owner), one on each other key
ACCOUNTS = {"a1": 1, "a2": 1, "b": 2, "c": 3}
CLUSTER = {"lease_seconds": 1, "heartbeat_seconds": 0.1, "poll_seconds": 0.2}


def _config(state_dir: Path, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    accounts = {
        name: {"broker": "kraken-spot", "base_url": "http://127.0.0.1",
               "api_key_env": f"CL_KEY_{key}", "api_secret_env": f"CL_SECRET_{key}",
               "quantity": "0.001", **({"risk": limits} if limits else {})}
        for name, key in ACCOUNTS.items()
    }
    return {"router": {"state_dir": str(state_dir), "plugins": ["kraken-spot"],
                       "reconcile_attempts": 2, "reconcile_window_seconds": 0.4},
            "cluster": {**CLUSTER, "instance_id": state_dir.name},
            "accounts": accounts}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKraken:
    keys = dict(extra_key(n) for n in range(1, KEYS + 1))
    for n, (key, secret) in enumerate(keys.items(), start=1):
        monkeypatch.setenv(f"CL_KEY_{n}", key)
        monkeypatch.setenv(f"CL_SECRET_{n}", secret)
    venue = FakeKraken(extra_keys=keys, rate_limits=False)
    venue.set_balance("ZUSD", "1000000")
    return venue


@pytest.fixture
async def instances(tmp_path: Path, pg_url: str, fake: FakeKraken
                    ) -> AsyncIterator[Callable[..., Any]]:
    started: list[Router] = []

    async def start(name: str, *, limits: dict[str, Any] | None = None,
                    extra_plugin: object | None = None) -> Router:
        plugins = make_plugin_manager(["kraken-spot"])
        if extra_plugin is not None:
            plugins.pm.register(extra_plugin)
        data = {**_config(tmp_path / name, limits), "journal": {"url": pg_url}}
        config = build_config(data, plugins.brokers, path=None)
        router = Router(config=config, plugins=plugins, journal=Journal(config.journal_target()),
                        transport=fake.transport())
        router._build_brokers()
        router.cluster = cluster_for(router)  # what Router.from_config_file does
        await router.start()
        started.append(router)
        return router

    yield start
    for router in started:
        if router.cluster is not None and router.cluster._loops:
            await router.close(drain_seconds=5)


def _body(n: int, account: str, **extra: Any) -> bytes:
    return json.dumps({"ticker": "BTCUSD", "action": "buy", "price": "50000",
                       "accounts": [account], "id": f"cluster-test-{n}", **extra}).encode()


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _orders_by_client_id(fake: FakeKraken) -> Counter[str]:
    return Counter(order["cl_ord_id"] for order in fake.orders.values() if order.get("cl_ord_id"))


async def _balanced(a: Router, b: Router) -> None:
    keys = set(lease_keys(a.config.accounts.values()).values())
    await _until(lambda: set(a.cluster._keys) | set(b.cluster._keys) == keys
                 and a.cluster._keys and b.cluster._keys
                 and not set(a.cluster._keys) & set(b.cluster._keys))


async def test_each_key_has_one_owner_and_work_runs_there(instances: Any,
                                                          fake: FakeKraken) -> None:
    a = await instances("a")
    b = await instances("b")
    await _balanced(a, b)  # a gives keys back until b drives its share
    keys = lease_keys(a.config.accounts.values())
    assert keys["a1"] == keys["a2"]  # one key, one owner: both accounts go together
    # An alert for each account, accepted by the instance that does NOT drive it.
    reports = []
    for n, account in enumerate(ACCOUNTS):
        receiver = b if a.cluster.drives(account) else a
        acceptance = await receiver.accept_async(_body(n, account), "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW
        reports.append(await receiver.execute(acceptance.alert_id))
    assert all(r.ok for r in reports), [r.to_dict() for r in reports]
    # Executed by the owner: the work rows name the owner's incarnation.
    async with a.cluster.work.db.use() as conn:
        rows = await (await conn.execute(
            "SELECT account, owner, state FROM cluster_work")).fetchall()
    owners = {account: owner for account, owner, _ in rows}
    for account in ACCOUNTS:
        driver = a if a.cluster.drives(account) else b
        assert owners[account] == driver.cluster.incarnation
    assert {state for _, _, state in rows} == {"done"}
    counts = _orders_by_client_id(fake)
    assert len(counts) == len(ACCOUNTS) and set(counts.values()) == {1}


async def test_a_delivery_claimed_by_one_instance_is_a_duplicate_for_the_other(
        instances: Any) -> None:
    a = await instances("a")
    b = await instances("b")
    first = await a.accept_async(_body(1, "b"), "application/json")
    again = await b.accept_async(_body(1, "b"), "application/json")
    assert first.outcome is ClaimOutcome.NEW
    assert again.outcome is ClaimOutcome.DUPLICATE and again.alert_id == first.alert_id
    # the same intent with other content is a conflict on the other instance too
    other = await b.accept_async(_body(1, "b", quantity="0.002"), "application/json")
    assert other.outcome is ClaimOutcome.CONFLICT


class _FreezeAfterSending:
    """Test-only plugin: sends the order, then hangs forever (a process that died right after
    the venue got its order, before the router wrote the outcome)."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()

    @hookimpl(tryfirst=True)
    async def router_submit_order(self, broker: Any, order: Any, context: Any) -> Any:
        await broker.submit_order(order)
        self.sent.set()
        await asyncio.Event().wait()


def _stop_heartbeat(router: Router) -> None:
    """What SIGKILL does to the cluster's view of an instance: no more heartbeats."""
    for loop in router.cluster._loops:
        loop.cancel()


async def test_a_dead_instances_keys_are_taken_over_and_its_sent_order_is_not_sent_again(
        instances: Any, fake: FakeKraken) -> None:
    freeze = _FreezeAfterSending()
    a = await instances("a", extra_plugin=freeze)  # drives every key until b comes
    acceptance = await a.accept_async(_body(7, "c"), "application/json")
    execution = a.spawn(acceptance.alert_id)
    await asyncio.wait_for(freeze.sent.wait(), 10)
    _stop_heartbeat(a)  # "a" dies with the order sent and its outcome unknown
    b = await instances("b")
    await _until(lambda: b.cluster.drives("c"), seconds=10)  # after a's lease expired
    # b assembles the alert "a" left unfinished and finds the order by its client order id.
    await _until(lambda: a.journal.get_alert(acceptance.alert_id).state is AlertState.DONE,
                 seconds=20)
    record = b.journal.get_alert(acceptance.alert_id)
    assert record is not None and record.report is not None
    statuses = [leg["status"] for leg in record.report["legs"]]
    assert statuses == ["filled"], record.report
    assert list(_orders_by_client_id(fake).values()) == [1]  # sent once, found, not re-sent
    execution.cancel()


async def test_halt_and_limits_hold_across_instances(instances: Any, fake: FakeKraken) -> None:
    a = await instances("a", limits={"max_orders_per_minute": 2})
    b = await instances("b", limits={"max_orders_per_minute": 2})
    a.halt("maintenance")
    acceptance = await b.accept_async(_body(20, "b"), "application/json")
    report = await b.execute(acceptance.alert_id)
    assert report.refused is not None and "halted" in report.refused
    b.resume()
    results = []
    for n in range(3):  # alternate the receiving instance: the count is the journal's
        receiver = (a, b)[n % 2]
        acceptance = await receiver.accept_async(_body(30 + n, "b"), "application/json")
        results.append(await receiver.execute(acceptance.alert_id))
    statuses = [r.legs[0].result.status.value for r in results]
    assert statuses[:2] == ["filled", "filled"] and statuses[2] == "denied", statuses
    assert "per minute" in (results[2].legs[0].result.reason or "")


async def test_the_next_owner_of_a_key_starts_above_every_nonce_the_last_one_used(
        instances: Any, fake: FakeKraken, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    a = await instances("a")
    first = await a.accept_async(_body(40, "c"), "application/json")
    assert (await a.execute(first.alert_id)).ok
    # "a" restarted a moment ago: its nonces run ahead of the clock (it resumed above the
    # ceiling in its own state folder), as a restarted single instance's do.
    source = a._nonces.for_key(os.environ["CL_KEY_3"])
    source._last = time.time_ns() // 1_000_000 + 30_000
    second = await a.accept_async(_body(41, "c"), "application/json")
    assert (await a.execute(second.alert_id)).ok
    _stop_heartbeat(a)
    b = await instances("b")
    await _until(lambda: b.cluster.drives("c") and b.cluster._keys[
        next(iter(set(lease_keys([b.config.accounts["c"]]).values())))].ready.is_set())
    third = await b.accept_async(_body(42, "c"), "application/json")
    report = await b.execute(third.alert_id)
    assert report.ok, report.to_dict()
    assert "EAPI:Invalid nonce" not in fake.errors_sent


async def test_finished_work_is_forgotten_with_the_journals_retention(instances: Any) -> None:
    a = await instances("a")
    acceptance = await a.accept_async(_body(50, "b"), "application/json")
    assert (await a.execute(acceptance.alert_id)).ok
    assert await a.cluster.work.purge(3600) == 0  # younger than the retention: kept
    async with a.cluster.work.db.use() as conn:
        await conn.execute("UPDATE cluster_work SET finished_at = now() - interval '2 hours'")
    assert await a.cluster.work.purge(3600) == 1


async def test_the_cluster_reconnects_after_its_database_connections_are_cut(
        instances: Any, pg_cluster: Any, pg_url: str) -> None:
    a = await instances("a")
    b = await instances("b")
    await _balanced(a, b)
    pg_cluster.terminate_backends(pg_url)  # what a database restart does to every connection
    await asyncio.sleep(0.5)
    for n, account in enumerate(ACCOUNTS):  # routed to the other instance, as before
        receiver = b if a.cluster.drives(account) else a
        acceptance = None
        for _ in range(20):  # the journal answers 503 until it has reconnected
            try:
                acceptance = await receiver.accept_async(_body(60 + n, account),
                                                         "application/json")
                break
            except Exception:
                await asyncio.sleep(0.25)
        assert acceptance is not None
        report = await asyncio.wait_for(receiver.execute(acceptance.alert_id), 30)
        assert report.ok, report.to_dict()


async def test_a_loss_recorded_through_one_instance_stops_the_account_on_the_other(
        instances: Any) -> None:
    from datetime import UTC, datetime

    a = await instances("a", limits={"daily_loss_limit": "10"})
    b = await instances("b", limits={"daily_loss_limit": "10"})
    await _balanced(a, b)
    driver, other = (a, b) if a.cluster.drives("b") else (b, a)
    today = datetime.now(UTC).date().isoformat()
    other.journal.add_realised_pnl("b", today, "-25")  # a loss journaled by the other one
    acceptance = await other.accept_async(_body(70, "b"), "application/json")
    report = await other.execute(acceptance.alert_id)  # executed by the key's owner
    leg = report.legs[0].result
    assert leg.status.value == "denied" and "daily loss limit" in (leg.reason or ""), leg
    assert driver.cluster.drives("b")


async def test_an_instance_cut_off_longer_than_its_lease_stops_driving_and_comes_back(
        instances: Any, pg_cluster: Any) -> None:
    if pg_cluster.data_dir is None:
        pytest.skip("the database server is not this session's: it cannot be stopped")
    a = await instances("a")
    keys_before = set(a.cluster._keys)
    incarnation = a.cluster.incarnation
    await asyncio.to_thread(pg_cluster.stop)  # the database is gone for longer than the lease
    try:
        await _until(lambda: not a.cluster._keys, seconds=10)  # it stops driving, on its own
    finally:
        await asyncio.to_thread(pg_cluster.start)
    # back as a new incarnation, it takes the keys again (their takeover looks legs up first)
    await _until(lambda: set(a.cluster._keys) == keys_before
                 and all(h.ready.is_set() for h in a.cluster._keys.values()), seconds=20)
    assert a.cluster.incarnation != incarnation
    acceptance = None
    for _ in range(40):  # the journal reconnects on its next write
        try:
            acceptance = await a.accept_async(_body(80, "b"), "application/json")
            break
        except Exception:
            await asyncio.sleep(0.25)
    assert acceptance is not None
    assert (await asyncio.wait_for(a.execute(acceptance.alert_id), 30)).ok
