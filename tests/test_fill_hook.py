"""router_fill_recorded: the core calls it once per fill the journal records as new (stream or
REST catch-up), never for a trade id seen again, and a failing observer stops nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core import hookimpl, make_plugin_manager
from router_core.brokers import Broker, BrokerContext, Capabilities
from router_core.fills import FillEvents, FillStreams
from router_core.journal import Journal
from router_core.models import Fill, Side
from router_core.nonces import NonceRegistry
from router_core.ratelimit import RateLimiterRegistry

BOUND_SECONDS = 10.0


def fill(trade: str, at: float) -> Fill:
    return Fill(trade_id=trade, venue_order_id="O" + trade, client_order_id="",
                symbol="XBT/USD", side=Side.SELL, quantity=Decimal("0.25"),
                price=Decimal("50000"), fee=Decimal("3.1"), fee_currency="USD", time=at)


class OneConnection(Broker):
    """Goes live, sends T1 twice (a repeat on the stream) and T2, then stays connected. REST
    lists T0 (executed while disconnected) and T1 (also coming on the stream)."""

    name = "one-connection"
    capabilities = Capabilities(fill_stream=True)

    def __init__(self, context: BrokerContext) -> None:
        super().__init__(Broker.Config(), context)  # type: ignore[arg-type]

    async def resolve(self, symbol: Any) -> Any: ...
    async def balance(self, currency: str | None = None) -> Any: ...
    async def position(self, instrument: Any) -> Any: ...
    async def submit_order(self, order: Any) -> Any: ...

    async def stream_fills(self) -> AsyncIterator[Fill | None]:  # type: ignore[override]
        yield None
        for item in (fill("T1", 110.0), fill("T1", 110.0), fill("T2", 120.0)):
            yield item
        await asyncio.Event().wait()

    async def fills_since(self, since: float) -> Sequence[Fill]:
        return [fill("T0", 100.0), fill("T1", 110.0)]


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    async def router_fill_recorded(self, fill, context):  # type: ignore[no-untyped-def]
        self.seen.append((fill.trade_id, dict(context)))


class Broken:
    @hookimpl
    def router_fill_recorded(self, fill):  # type: ignore[no-untyped-def]
        raise RuntimeError("observer bug")


async def test_each_new_fill_is_observed_once_and_a_broken_observer_stops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    observer = Observer()
    # registered last, the broken one runs first (pluggy's order)
    plugins = make_plugin_manager([], extra=[("observer", observer), ("broken", Broken())])
    journal = Journal(tmp_path / "j.sqlite3")
    broker = OneConnection(BrokerContext(account="acct", state_dir=tmp_path,
                                         nonces=NonceRegistry(tmp_path),
                                         limiters=RateLimiterRegistry()))
    streams = FillStreams(journal, FillEvents(), now=lambda: 1000.0, hooks=plugins.calls)
    with caplog.at_level(logging.ERROR, logger="router_core.hooks"):
        streams.start({"acct": broker}, {})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BOUND_SECONDS
        while len(journal.fills("acct")) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # room for a repeat to be observed, if there were one
        await streams.close()
    journal.close()

    assert [trade for trade, _ in observer.seen] == ["T0", "T1", "T2"]
    assert [context["source"] for _, context in observer.seen] == ["rest", "rest", "stream"]
    context = observer.seen[0][1]
    assert context == {"account": "acct", "symbol": "XBT/USD", "client_order_id": None,
                       "purpose": None, "alert_id": None, "leg_status": None,
                       "source": "rest"}
    failures = [r.getMessage() for r in caplog.records if "failed on" in r.getMessage()]
    assert len(failures) == 3 and all("plugin broken " in m for m in failures)
