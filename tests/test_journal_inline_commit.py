"""Leg intents fsynced on the event loop while one account's alert is all the router executes.

The hand-over of a durable COMMIT to the journal's helper thread costs two cross-thread
wake-ups; when nothing else could use the loop during the fsync, the writer commits in place
instead (``GroupCommitWriter.inline_when``, set by ``Router`` through
``Journal.commit_inline_when``). Only writes that allow it (leg intents) commit so: a webhook's
claim, whose burst must keep sharing fsyncs, never does. Either way the leg intent is on disk
before its order reaches the venue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from router_paper.broker import PaperBroker

from router_core import hookimpl
from router_core.journal import Journal
from router_core.journal_store import SqliteStore
from router_core.journal_writer import GroupCommitWriter
from router_core.models import Order, OrderResult
from router_core.plugins import make_plugin_manager
from router_core.router import Router


def insert_flag(name: str) -> Any:
    def work(db: Any) -> str:
        db.execute("INSERT INTO flags VALUES (?, 'x', 0)", (name,))
        return name

    return work


@pytest.fixture
def writer(tmp_path: Path) -> Any:
    store = SqliteStore(tmp_path / "journal.sqlite3")
    yield store.writer
    store.close()


async def test_an_inline_write_is_fsynced_before_the_call_returns_while_the_owner_allows(
        writer: GroupCommitWriter) -> None:
    writer.inline_when = lambda: True
    before = writer.durable_through
    future = writer.write_async(insert_flag("a"), durable=True, inline=True)
    assert future.done() and future.result() == "a"  # no loop step, no thread
    assert writer.durable_through > before
    assert writer._committer is None


async def test_without_the_owners_word_the_fsync_goes_to_the_helper_thread(
        writer: GroupCommitWriter) -> None:
    for probe in (None, lambda: False):
        writer.inline_when = probe
        future = writer.write_async(insert_flag(f"b{probe is None}"), durable=True, inline=True)
        assert not future.done()
        await future
    assert writer._committer is not None


async def test_a_write_that_does_not_allow_it_is_never_fsynced_on_the_loop(
        writer: GroupCommitWriter) -> None:
    writer.inline_when = lambda: True
    claim = writer.write_async(insert_flag("claim"), durable=True)  # a webhook's claim
    assert not claim.done()
    assert await claim == "claim"
    # queued together: a claim before an intent takes the whole group to the helper thread
    writer._committer = None
    queued = writer.submit_async(insert_flag("claim2"), durable=True)
    intent = writer.write_async(insert_flag("intent"), durable=True, inline=True)
    assert not intent.done()
    assert await queued == "claim2" and await intent == "intent"


# -- the router -----------------------------------------------------------------------------

class WatchedBroker(PaperBroker):
    """A paper venue that notes how far the journal is on disk when each order arrives."""

    name = "watched"
    journal: Journal | None = None
    seen: list[tuple[str, int, int]] = []  # (account, durable_through, groups begun)

    async def submit_order(self, order: Order) -> OrderResult:
        assert WatchedBroker.journal is not None
        writer = WatchedBroker.journal._writer
        WatchedBroker.seen.append((order.account, writer.durable_through,  # type: ignore[attr-defined]
                                   writer._groups))  # type: ignore[attr-defined]
        return await super().submit_order(order)


class WatchedPlugin:
    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register(WatchedBroker)


CONFIG = """
[accounts.one]
broker = "watched"
fill_price = "100"

[accounts.two]
broker = "watched"
fill_price = "100"
"""


@pytest.fixture
async def router(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(["paper"], extra=[("watched", WatchedPlugin())]))
    WatchedBroker.journal, WatchedBroker.seen = router.journal, []
    await router.start()
    yield router
    await router.close()
    WatchedBroker.journal, WatchedBroker.seen = None, []


async def send(router: Router, accounts: list[str], n: int) -> Any:
    alert = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "accounts": accounts,
             "id": f"inline-{n}"}
    _, report = await router.accept_and_execute(json.dumps(alert).encode(),
                                                "application/json")
    assert report is not None and report.ok, report
    return report


async def test_one_accounts_alert_fsyncs_its_leg_intent_on_the_loop(router: Router) -> None:
    writer: Any = router.journal._writer
    for n in range(3):
        await send(router, ["one"], n)
    assert writer._committer is None  # no durable commit went to the helper thread
    # every order arrived with everything begun before it on disk: its intent and its claim
    assert [durable for _, durable, _ in WatchedBroker.seen] == [
        begun for _, _, begun in WatchedBroker.seen]
    assert router._accounts_executing == 0


async def test_an_alert_to_two_accounts_shares_the_helper_threads_commits(
        router: Router) -> None:
    writer: Any = router.journal._writer
    await send(router, ["one", "two"], 10)
    assert writer._committer is not None  # two accounts under way: the loop is not idle
    assert {account for account, _, _ in WatchedBroker.seen} == {"one", "two"}
    # that every order still follows its own intent on disk: test_journal_durability_points
    assert router._accounts_executing == 0
