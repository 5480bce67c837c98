"""Where the journal makes a claim durable when the answer waits for the execution
(``Router.accept_and_execute``): the claim commits without an fsync of its own, and a later
durable commit (the first leg intent's, or one forced for it) covers it before any request
reaches a venue and before the answer.

"On disk" is read from the writer: ``durable_through`` is the highest commit group a durable
(``synchronous=FULL``) commit has covered. A second connection cannot tell: it sees every
committed row, fsynced or not."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from router_paper.broker import PaperBroker

from router_core import hookimpl
from router_core.journal import ClaimOutcome, Journal
from router_core.journal_store import SYNC_MARK_FLAG, SqliteStore
from router_core.models import Instrument, Order, OrderResult, OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.router import Router


class WatchedBroker(PaperBroker):
    """A paper venue that notes, for every order or cancel it receives, how far the journal
    is on disk at that moment."""

    name = "watched"
    journal: Journal | None = None
    seen: list[tuple[str, int]] = []  # (request, durable_through when it arrived)
    begun: list[int] = []  # the journal's groups begun by then, for each of ``seen``

    def _note(self, request: str) -> None:
        assert WatchedBroker.journal is not None
        WatchedBroker.seen.append((request, durable_through(WatchedBroker.journal)))
        WatchedBroker.begun.append(WatchedBroker.journal._writer._groups)  # type: ignore[attr-defined]

    async def submit_order(self, order: Order) -> OrderResult:
        self._note(f"submit {order.purpose.value}")
        return await super().submit_order(order)

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        self._note("cancel")
        return await super().cancel_order(client_order_id, instrument)


class WatchedPlugin:
    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register(WatchedBroker)


CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.one]
broker = "watched"
fill_price = "100"

[accounts.two]
broker = "watched"
fill_price = "100"
"""


def durable_through(journal: Journal) -> int:
    return journal._writer.durable_through  # type: ignore[attr-defined]


def forced_syncs(journal: Journal) -> int:
    return int(journal.get_flag(SYNC_MARK_FLAG) or 0)


@pytest.fixture
async def router(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(["paper"], extra=[("watched", WatchedPlugin())]))
    WatchedBroker.journal, WatchedBroker.seen, WatchedBroker.begun = router.journal, [], []
    await router.start()
    yield router
    await router.close()
    WatchedBroker.journal, WatchedBroker.seen, WatchedBroker.begun = None, [], []


async def send(router: Router, alert: dict[str, Any]):  # type: ignore[no-untyped-def]
    return await router.accept_and_execute(json.dumps(alert).encode(), "application/json")


BUY = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "accounts": ["one"]}


# -- the writer -----------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "journal.sqlite3")
    yield store
    store.close()


def commits(store: SqliteStore) -> list[bool]:
    """The durability of every group the writer commits from now on."""
    seen: list[bool] = []
    store.writer.on_commit = lambda seconds, writes, durable: seen.append(durable)  # type: ignore[attr-defined]
    return seen


def insert_flag(name: str):  # type: ignore[no-untyped-def]
    def work(db: Any) -> str:
        db.execute("INSERT INTO flags VALUES (?, 'x', 0)", (name,))
        return name
    return work


async def test_a_deferred_write_commits_without_an_fsync_and_says_its_group(store) -> None:
    seen = commits(store)
    result, group = await store.writer.submit_deferred_async(insert_flag("a"))
    assert result == "a" and group >= 1
    assert seen == [False]
    assert store.writer.durable_through < group  # type: ignore[attr-defined]
    assert store.read("SELECT value FROM flags WHERE name = 'a'") == [("x",)]


async def test_ensure_durable_forces_exactly_one_commit_when_nothing_covered_the_group(
        store) -> None:
    seen = commits(store)
    _, group = await store.writer.submit_deferred_async(insert_flag("a"))
    await store.writer.ensure_durable_async(group)
    assert seen == [False, True]  # the claim's commit, then one durable one
    assert store.writer.durable_through > group  # type: ignore[attr-defined]
    await store.writer.ensure_durable_async(group)
    await store.writer.ensure_durable_async()  # every deferred write so far: covered too
    assert seen == [False, True]  # nothing more


async def test_ensure_durable_issues_no_commit_when_a_later_durable_commit_covered_it(
        store) -> None:
    seen = commits(store)
    _, group = await store.writer.submit_deferred_async(insert_flag("a"))
    await store.writer.submit_async(insert_flag("b"), durable=True)  # a leg intent, say
    await store.writer.ensure_durable_async(group)
    store.writer.ensure_durable(group)  # the blocking form agrees
    assert seen == [False, True]


async def test_concurrent_deferred_writes_share_the_forced_commit(store) -> None:
    seen = commits(store)
    groups = [g for _, g in await asyncio.gather(
        *(store.writer.submit_deferred_async(insert_flag(f"f{i}")) for i in range(5)))]
    await asyncio.gather(*(store.writer.ensure_durable_async(g) for g in groups))
    assert seen.count(True) == 1
    assert store.writer.durable_through >= max(groups)  # type: ignore[attr-defined]


async def test_the_forced_commit_writes_to_the_log(store, tmp_path: Path) -> None:
    # A commit that changes nothing appends nothing to the WAL, so it would fsync nothing:
    # the forced one must change a row.
    _, group = await store.writer.submit_deferred_async(insert_flag("a"))
    wal = tmp_path / "journal.sqlite3-wal"
    before = wal.stat().st_size
    await store.writer.ensure_durable_async(group)
    assert wal.stat().st_size > before
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    try:
        assert db.execute("SELECT value FROM flags WHERE name = ?",
                          (SYNC_MARK_FLAG,)).fetchone() == ("1",)
    finally:
        db.close()


def insert_flag_once(name: str):  # type: ignore[no-untyped-def]
    """A write that changes nothing once ``name`` is there (as a duplicate claim, or a leg
    intent journaled already)."""
    def work(db: Any) -> None:
        db.execute("INSERT INTO flags VALUES (?, 'x', 0) ON CONFLICT DO NOTHING", (name,))
    return work


def sync_marks(store: SqliteStore) -> int:
    rows = store.read("SELECT value FROM flags WHERE name = ?", (SYNC_MARK_FLAG,))
    return int(rows[0][0]) if rows else 0


@pytest.mark.parametrize("on_a_thread", [False, True])
async def test_a_durable_commit_that_changes_nothing_still_syncs_what_came_before(
        store, tmp_path: Path, on_a_thread: bool) -> None:
    # Else the no-op commit would append nothing to the WAL, fsync nothing, and still count
    # as covering the deferred claim before it.
    await store.writer.submit_async(insert_flag("a"), durable=True)
    _, group = await store.writer.submit_deferred_async(insert_flag("b"))
    wal = tmp_path / "journal.sqlite3-wal"
    before = wal.stat().st_size
    if on_a_thread:
        await asyncio.to_thread(store.writer.write, insert_flag_once("a"), durable=True)
    else:
        await store.writer.write_async(insert_flag_once("a"), durable=True)
    assert store.writer.durable_through > group  # type: ignore[attr-defined]
    assert wal.stat().st_size > before
    assert sync_marks(store) == 1


async def test_a_durable_commit_that_changes_nothing_writes_nothing_when_all_is_synced(
        store, tmp_path: Path) -> None:
    await store.writer.submit_async(insert_flag("a"), durable=True)
    wal = tmp_path / "journal.sqlite3-wal"
    before = wal.stat().st_size
    await store.writer.write_async(insert_flag_once("a"), durable=True)
    assert wal.stat().st_size == before
    assert sync_marks(store) == 0


async def test_a_durable_group_whose_failed_write_is_set_aside_still_syncs(
        store, tmp_path: Path) -> None:
    # A write that fails is run again in its own savepoint; the rows it changed before
    # failing count in SQLite's change counter though nothing of them is committed.
    def changes_then_fails(db: Any) -> None:
        db.execute("INSERT INTO flags VALUES ('doomed', 'x', 0)")
        raise ValueError("refused")

    _, group = await store.writer.submit_deferred_async(insert_flag("b"))
    failing = store.writer.submit_async(changes_then_fails, durable=True)
    nothing = store.writer.submit_async(insert_flag_once("b"), durable=True)
    results = await asyncio.gather(failing, nothing, return_exceptions=True)
    assert isinstance(results[0], ValueError) and results[1] is None
    assert store.writer.durable_through > group  # type: ignore[attr-defined]
    assert sync_marks(store) == 1


async def test_a_thread_write_that_is_durable_covers_earlier_groups(store) -> None:
    _, group = await store.writer.submit_deferred_async(insert_flag("a"))
    await asyncio.to_thread(store.writer.write, insert_flag("b"), durable=True)
    assert store.writer.durable_through > group  # type: ignore[attr-defined]


# -- the router -----------------------------------------------------------------------------

async def test_the_claim_is_on_disk_before_the_first_order_reaches_the_venue(router) -> None:
    acceptance, report = await send(router, BUY)
    assert acceptance.outcome is ClaimOutcome.NEW and acceptance.deferred_group is not None
    assert report is not None and report.ok
    assert [request for request, _ in WatchedBroker.seen] == ["submit open"]
    assert all(at >= acceptance.deferred_group for _, at in WatchedBroker.seen)
    assert forced_syncs(router.journal) == 0  # the leg intent's commit covered the claim


async def test_fan_out_every_account_sees_the_claim_on_disk(router) -> None:
    acceptance, report = await send(router, {**BUY, "accounts": ["one", "two"]})
    assert report is not None and len(report.legs) == 2
    assert len(WatchedBroker.seen) == 2
    assert all(at >= acceptance.deferred_group for _, at in WatchedBroker.seen)


async def test_a_cancel_before_any_leg_intent_waits_for_the_claim(router) -> None:
    # A cancel alert sends cancels and no order: nothing durable follows its claim on its own.
    await send(router, {**BUY, "orderType": "stop", "stopPrice": "200"})
    WatchedBroker.seen = []
    acceptance, report = await send(router, {"ticker": "BTCUSD", "action": "cancel",
                                             "accounts": ["one"]})
    assert report is not None
    assert [leg.result.status for leg in report.legs] == [OrderStatus.CANCELED]
    assert [request for request, _ in WatchedBroker.seen] == ["cancel"]
    assert WatchedBroker.seen[0][1] >= acceptance.deferred_group


async def test_a_reversal_cancels_and_closes_only_after_the_claim_is_on_disk(router) -> None:
    await send(router, BUY)  # long 1
    await send(router, {**BUY, "orderType": "stop", "stopPrice": "200"})  # rests
    WatchedBroker.seen = []
    acceptance, report = await send(router, {**BUY, "action": "sell", "quantity": "2"})
    assert report is not None
    requests = [request for request, _ in WatchedBroker.seen]
    assert requests[0] == "cancel" and "submit close" in requests
    assert all(at >= acceptance.deferred_group for _, at in WatchedBroker.seen)


async def test_a_refused_alert_is_answered_only_once_its_claim_is_on_disk(router) -> None:
    router.halt("maintenance")
    acceptance, report = await send(router, BUY)
    assert report is not None and report.refused and "halted" in report.refused
    assert WatchedBroker.seen == []
    assert durable_through(router.journal) >= acceptance.deferred_group
    assert forced_syncs(router.journal) == 1  # nothing durable followed: one forced fsync


async def test_a_duplicate_is_answered_only_once_the_earlier_claim_is_on_disk(router) -> None:
    body = json.dumps(BUY).encode()
    first, second = await asyncio.gather(
        router.accept_async(body, "application/json", durable=False),
        router.accept_and_execute(body, "application/json"),
    )
    duplicate, report = second
    assert first.outcome is ClaimOutcome.NEW
    assert duplicate.outcome is ClaimOutcome.DUPLICATE and report is None
    assert first.deferred_group is not None
    assert durable_through(router.journal) >= first.deferred_group
    assert WatchedBroker.seen == []  # not executed again



# -- both backends ----------------------------------------------------------------------------

async def test_a_deferred_claim_works_on_either_backend(journal_location: Any) -> None:
    # PostgreSQL commits a deferred write durably at once: ensure_durable has nothing to do.
    journal = Journal(journal_location)
    try:
        fields = dict(delivery_key="d", intent_key="i", fingerprint="f", alert={}, peer=None,
                      source="test")
        claim, group = await journal.claim_deferred_async(alert_id="a", **fields)
        assert claim.outcome is ClaimOutcome.NEW
        await journal.ensure_durable_async(group)
        await journal.ensure_durable_async()
        journal.ensure_durable()
        again, _ = await journal.claim_deferred_async(alert_id="b", **fields)
        assert again.outcome is ClaimOutcome.DUPLICATE and again.alert_id == "a"
        record = journal.get_alert("a")
        assert record is not None and record.state.value == "received"
    finally:
        journal.close()


# -- the webhook ------------------------------------------------------------------------------

WEBHOOK_CONFIG = """
[router]
reconcile_window_seconds = 0.1

[accounts.paper]
broker = "paper"
fill_price = 100
"""


@pytest.fixture
async def webhook(tmp_path: Path):  # type: ignore[no-untyped-def]
    import httpx
    from pydantic import SecretStr

    from router_core.security import WebhookSettings
    from router_core.server import create_app

    path = tmp_path / "config.toml"
    path.write_text(WEBHOOK_CONFIG)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    app = create_app(router, WebhookSettings(passphrase=SecretStr("pass phrase 1234")))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            yield router, client


def webhook_body(**fields: Any) -> bytes:
    return json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                       "passphrase": "pass phrase 1234", **fields}).encode()


def every_deferred_claim_on_disk(journal: Journal) -> bool:
    writer = journal._writer  # type: ignore[attr-defined]
    return writer._deferred_through <= writer.durable_through  # type: ignore[no-any-return]


async def test_wait_true_claims_with_one_fsync_and_answers_with_the_claim_on_disk(
        webhook) -> None:
    router, client = webhook
    durable: list[bool] = []
    router.journal._writer.on_commit = lambda s, n, d: durable.append(d)
    response = await client.post("/webhook?wait=true", content=webhook_body(id="w-1"),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert durable.count(True) == 1  # the leg intent's; the claim had none of its own
    assert every_deferred_claim_on_disk(router.journal)
    assert forced_syncs(router.journal) == 0


async def test_wait_true_refused_alert_is_answered_after_a_forced_fsync(webhook) -> None:
    router, client = webhook
    router.halt("maintenance")
    response = await client.post("/webhook?wait=true", content=webhook_body(id="w-2"),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and "halted" in response.json()["report"]["refused"]
    assert every_deferred_claim_on_disk(router.journal)
    assert forced_syncs(router.journal) == 1


async def test_the_default_webhook_path_still_fsyncs_the_claim_before_the_ack(webhook) -> None:
    router, client = webhook
    router.halt("maintenance")  # nothing executes: the only durable commit is the claim's
    durable: list[bool] = []
    router.journal._writer.on_commit = lambda s, n, d: durable.append(d)
    response = await client.post("/webhook", content=webhook_body(id="w-3"),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert durable[:1] == [True]  # the claim, fsynced before the answer
    assert forced_syncs(router.journal) == 0


async def test_a_late_resend_answered_duplicate_waits_for_the_earlier_deferred_claim(
        tmp_path: Path) -> None:
    # Past max_lag_seconds a resend is answered from a read of the journal (nothing written):
    # the claim it finds may be one whose fsync is still deferred.
    from datetime import UTC, datetime

    from router_core.testing import FakeClock

    path = tmp_path / "config.toml"
    path.write_text(CONFIG + "\n[server]\nmax_lag_seconds = 5\n")
    clock = FakeClock()
    router = Router.from_config_file(
        path, clock=clock,
        plugins=make_plugin_manager(["paper"], extra=[("watched", WatchedPlugin())]))
    try:
        fired = datetime.fromtimestamp(clock.time(), UTC).isoformat()
        body = json.dumps({**BUY, "timenow": fired}).encode()
        first = await router.accept_async(body, "application/json", durable=False)
        assert first.deferred_group is not None
        assert durable_through(router.journal) < first.deferred_group
        clock.advance(60)
        late = await router.accept_async(body, "application/json")
        assert late.outcome is ClaimOutcome.DUPLICATE and late.alert_id == first.alert_id
        assert durable_through(router.journal) >= first.deferred_group
    finally:
        await router.close()


# -- a leg intent fsynced on the loop while one account's alert is all that executes ---------
# (``Journal.commit_inline_when``; the writer's side: test_journal_fast_path.py)

async def test_one_accounts_alert_fsyncs_its_leg_intent_on_the_loop(router) -> None:
    writer: Any = router.journal._writer
    for n in range(3):
        _, report = await send(router, {**BUY, "id": f"inline-{n}"})
        assert report is not None and report.ok
    assert writer._committer is None  # no durable commit went to the helper thread
    # every order arrived with everything begun before it on disk: its intent and its claim
    assert [at for _, at in WatchedBroker.seen] == WatchedBroker.begun
    assert router._accounts_executing == 0


async def test_an_alert_to_two_accounts_shares_the_helper_threads_commits(router) -> None:
    writer: Any = router.journal._writer
    _, report = await send(router, {**BUY, "accounts": ["one", "two"]})
    assert report is not None and report.ok
    assert writer._committer is not None  # two accounts under way: the loop is not idle
    assert len(WatchedBroker.seen) == 2
    assert router._accounts_executing == 0
