"""Real-time fills from Kraken Futures' WebSocket v1 (challenge, ``fills``,
``open_orders_verbose``) into the journal, and a two-leg reversal woken by its close's fill.

The router runs as ``serve`` does (``stream_fills = True``) against the REST fake in-process
and the stream fake on a loopback port; waits are bounded polls, never timing assertions.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures
from router_kraken_futures.fake.stream import AUTH_FAILED, FakeFuturesStream
from router_kraken_futures.signing import decode_secret, sign_challenge
from router_kraken_futures.stream import fill_feed

from router_core import AuthError, ExecutionReport, Router, make_plugin_manager

D = Decimal
PF = "PF_XBTUSD"
BOUND_SECONDS = 10.0

TOML = """
[router]
state_dir = "{state}"

[accounts.futures]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
ws_url = "{ws}"
reverse_mode = "two_legs"
close_fill_timeout_seconds = 30
stream_timeout_seconds = 2
"""


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_SECONDS
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"not within {BOUND_SECONDS} s: {what}")
        await asyncio.sleep(0.02)


class Venue:
    def __init__(self, router: Router, rest: FakeKrakenFutures,
                 stream: FakeFuturesStream) -> None:
        self.router, self.rest, self.stream = router, rest, stream

    async def route(self, **alert: Any) -> ExecutionReport:
        body = {"id": str(uuid.uuid4()), "ticker": "XBTUSD.P", **alert}
        acceptance = self.router.accept(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome.value == "new"
        return await self.router.execute(acceptance.alert_id)

    def resting(self) -> list[Any]:
        return [o for o in self.rest.orders if o.state == "ENTERED_BOOK"]


@pytest_asyncio.fixture
async def venue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Venue]:
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", FAKE_API_SECRET)
    rest = FakeKrakenFutures()
    stream = FakeFuturesStream(rest, heartbeat_seconds=0.1)
    url = await stream.start()
    path = tmp_path / "router.toml"
    path.write_text(TOML.format(state=tmp_path / "state", ws=url))
    router = Router.from_config_file(path, transport=httpx.ASGITransport(app=rest),
                                     plugins=make_plugin_manager(["kraken-futures"]))
    router.stream_fills = True
    assert await router.start() == []
    assert router.fill_streams is not None
    router.fill_streams.backoff_first = 0.05
    v = Venue(router, rest, stream)
    await until(lambda: router.fill_events.streaming("futures"), "the stream subscribed")
    yield v
    await router.close()
    await stream.stop()


async def test_a_resting_limit_filled_later_reaches_the_journal_from_the_fills_feed(
    venue: Venue,
) -> None:
    report = await venue.route(action="buy", quantity="1", orderType="limit",
                               limitPrice="49000")
    (leg,) = report.legs
    assert leg.result.status.value == "accepted", report.to_dict()
    calls = len(venue.rest.requests)
    venue.rest.move_mark(PF, "49000")

    def filled() -> bool:
        journaled = venue.router.journal.get_leg(leg.result.client_order_id)
        return journaled is not None and journaled.status == "filled"

    await until(filled, "the leg filled in the journal")
    assert len(venue.rest.requests) == calls
    (fill,) = venue.router.journal.fills("futures")
    assert fill.source == "stream" and fill.price == D(49000) and fill.quantity == D(1)


async def test_a_reversal_sends_the_open_right_after_the_close_fill_event(venue: Venue) -> None:
    venue.rest.exchange.positions[PF] = D(2)  # long 2, opened elsewhere
    routing = asyncio.create_task(venue.route(
        action="sell", sentiment="short", quantity="2", orderType="limit",
        limitPrice="61000"))
    await until(lambda: len(venue.resting()) == 1, "the close rests at the venue")
    sent = len(venue.rest.requests)
    venue.rest.move_mark(PF, "61000")  # the close fills; the feed says so
    report = await asyncio.wait_for(routing, BOUND_SECONDS)
    after = [r.endpoint for r in venue.rest.requests[sent:]]
    assert after[0] == "sendorder", after  # the open went first: no status lookup before it
    assert [leg.purpose.value for leg in report.legs] == ["close", "open"]
    assert report.legs[0].result.status.value == "filled", report.to_dict()
    assert venue.rest.exchange.positions[PF] == D(-2)


async def test_a_bad_challenge_signature_is_refused_and_reported(venue: Venue) -> None:
    wrong = decode_secret(base64.b64encode(b"not the key's secret").decode())
    feed = fill_feed(venue.stream.url, FAKE_API_KEY,
                     lambda challenge: sign_challenge(wrong, challenge), read_timeout=2)
    with pytest.raises(AuthError, match=r"refused the subscription.*Failed to subscribe"):
        await feed.__anext__()
    assert AUTH_FAILED in venue.stream.refused


async def test_a_dropped_connection_catches_up_through_rest_fills_once(venue: Venue) -> None:
    first = await venue.route(action="buy", quantity="1", orderType="limit",
                              limitPrice="49000")
    second = await venue.route(action="buy", quantity="2", orderType="limit",
                               limitPrice="48500")
    cids = [first.legs[0].result.client_order_id, second.legs[0].result.client_order_id]
    await venue.stream.drop()
    venue.rest.move_mark(PF, "48000")
    await until(lambda: all((leg := venue.router.journal.get_leg(cid)) is not None
                            and leg.status == "filled" for cid in cids), "both legs filled")
    fills = venue.router.journal.fills("futures")
    assert sorted(f.trade_id for f in fills) == sorted(
        f["fill_id"] for f in venue.rest.exchange.fills)
    assert {f.source for f in fills} == {"rest"}


def test_a_rest_override_without_ws_url_streams_nothing() -> None:
    from router_kraken_futures.config import KrakenFuturesConfig

    assert KrakenFuturesConfig().stream_url == "wss://futures.kraken.com/ws/v1"
    assert KrakenFuturesConfig(base_url="http://127.0.0.1:9").stream_url is None
