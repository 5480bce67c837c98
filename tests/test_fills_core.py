"""The core's side of fill streams (router_core.fills), with a scripted broker: reconnects,
the REST catch-up after each connect, a refusal reported as such, the cluster's lease, and a
clean stop. Waits are bounded polls, never timing assertions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core.brokers import Broker, BrokerContext, Capabilities
from router_core.errors import AuthError, VenueUnavailable
from router_core.fills import FillEvents, FillStreams
from router_core.journal import Journal
from router_core.models import Fill, Side
from router_core.nonces import NonceRegistry
from router_core.ratelimit import RateLimiterRegistry

BOUND_SECONDS = 10.0


def fill(trade: str, at: float = 100.0) -> Fill:
    return Fill(trade_id=trade, venue_order_id="O" + trade, client_order_id="",
                symbol="S", side=Side.BUY, quantity=Decimal(1), price=Decimal(10), time=at)


class ScriptedBroker(Broker):
    """Each connection plays the next script: a list of fills, then how it ends."""

    name = "scripted"
    capabilities = Capabilities(fill_stream=True)

    def __init__(self, context: BrokerContext) -> None:
        super().__init__(Broker.Config(), context)  # type: ignore[arg-type]
        self.connections: list[Callable[[], AsyncIterator[Fill | None]]] = []
        self.history: list[Fill] = []  # what REST lists
        self.since: list[float] = []
        self.opened = 0
        self.closed = 0

    async def resolve(self, symbol: Any) -> Any: ...
    async def balance(self, currency: str | None = None) -> Any: ...
    async def position(self, instrument: Any) -> Any: ...
    async def submit_order(self, order: Any) -> Any: ...

    async def stream_fills(self) -> AsyncIterator[Fill | None]:  # type: ignore[override]
        self.opened += 1
        script = self.connections.pop(0) if self.connections else _forever
        try:
            async for item in script():
                yield item
        finally:
            self.closed += 1

    async def fills_since(self, since: float) -> Sequence[Fill]:
        self.since.append(since)
        return [f for f in self.history if f.time >= since]


async def _forever() -> AsyncIterator[Fill | None]:
    yield None
    await asyncio.Event().wait()


def playing(*items: Fill | None, end: Exception | None = None
            ) -> Callable[[], AsyncIterator[Fill | None]]:
    async def play() -> AsyncIterator[Fill | None]:
        for item in items:
            yield item
        if end is not None:
            raise end

    return play


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_SECONDS
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"not within {BOUND_SECONDS} s: {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "j.sqlite3")


@pytest.fixture
def broker(tmp_path: Path) -> ScriptedBroker:
    return ScriptedBroker(BrokerContext(account="acct", state_dir=tmp_path,
                                        nonces=NonceRegistry(tmp_path),
                                        limiters=RateLimiterRegistry()))


def streams(journal: Journal, cluster: Any = None) -> FillStreams:
    made = FillStreams(journal, FillEvents(), cluster=cluster, now=lambda: 1000.0)
    made.backoff_first = made.refused_backoff = 0.01
    return made


async def test_each_reconnect_catches_up_from_the_last_journaled_fill(journal, broker) -> None:
    async def first() -> AsyncIterator[Fill | None]:
        yield None
        yield fill("T1", 100.0)
        broker.history += [fill("T1", 100.0), fill("T2", 200.0)]  # T2 while disconnected
        raise VenueUnavailable("dropped")

    broker.connections = [first, playing(None, fill("T3", 300.0))]  # the second just ends
    fills = streams(journal)
    fills.start({"acct": broker}, {})
    await until(lambda: broker.opened >= 3, "three connections")
    await fills.close()
    assert [f.trade_id for f in journal.fills("acct")] == ["T1", "T2", "T3"]
    # the first catch-up starts an hour back (nothing journaled), the next ones just before
    # the newest fill journaled
    assert broker.since[:2] == [1000.0 - 3600, 100.0 - 2.0]
    assert {f.source for f in journal.fills("acct")} == {"stream", "rest"}
    journal.close()


async def test_a_refused_stream_is_reported_as_a_refusal(journal, broker, caplog) -> None:
    caplog.set_level(logging.ERROR, "router_core.fills")
    broker.connections = [playing(end=AuthError("bad challenge signature", from_venue=True))]
    fills = streams(journal)
    fills.start({"acct": broker}, {})
    await until(lambda: broker.opened >= 2, "a retry after the refusal")
    await fills.close()
    assert "the venue refused the fill stream: bad challenge signature" in caplog.text
    journal.close()


async def test_only_the_instance_driving_the_key_streams_and_stops_when_it_loses_it(
    journal, broker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("router_core.fills.LEASE_CHECK_SECONDS", 0.01)

    class Cluster:
        driving = False

        def drives(self, account: str) -> bool:
            return self.driving

    cluster = Cluster()
    fills = streams(journal, cluster)
    fills.start({"acct": broker}, {})
    await asyncio.sleep(0.05)
    assert broker.opened == 0  # another instance drives this key
    cluster.driving = True
    await until(lambda: fills.events.streaming("acct"), "the stream is live")
    cluster.driving = False
    await until(lambda: broker.closed == 1, "the stream stopped with the lease")
    assert not fills.events.streaming("acct")
    await fills.close()
    journal.close()


async def test_accounts_sharing_a_key_share_one_stream_and_close_stops_it(
    journal, broker,
) -> None:
    fills = streams(journal)
    started = fills.start({"a": broker, "b": broker}, {"a": "key:x", "b": "key:x"})
    assert started == ["a"]
    await until(lambda: fills.events.streaming("a"), "the stream is live")
    await fills.close()
    assert broker.closed == 1 and not fills.events.streaming("a")
    journal.close()


async def test_a_waiter_wakes_on_its_orders_fill(journal, broker) -> None:
    events = FillEvents()
    waiting = asyncio.create_task(events.wait("c1", BOUND_SECONDS))
    await asyncio.sleep(0)
    from router_core.journal import FillOutcome

    events.notify("acct", fill("T1"), FillOutcome(new=True, client_order_id="c1"))
    assert await waiting is True
    assert await events.wait("c2", 0.01) is False
    journal.close()


async def test_a_reload_moves_the_stream_to_the_accounts_new_broker(
    journal, broker, tmp_path: Path,
) -> None:
    fills = streams(journal)
    fills.start({"acct": broker}, {})
    await until(lambda: fills.events.streaming("acct"), "the first stream is live")
    replacement = ScriptedBroker(broker.context)
    fills.update({"acct": replacement}, {})
    await until(lambda: broker.closed == 1, "the old broker's stream closed")
    await until(lambda: replacement.opened == 1 and fills.events.streaming("acct"),
                "the new broker's stream is live")
    fills.update({}, {})  # the account removed
    await until(lambda: replacement.closed == 1, "its stream closed")
    await fills.close()
    journal.close()
