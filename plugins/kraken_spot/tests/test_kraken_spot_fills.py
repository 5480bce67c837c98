"""Real-time fills from Kraken spot's WebSocket v2 ``executions`` into the journal.

The router runs as ``serve`` does (``stream_fills = True``) against the REST fake in-process
and the stream fake on a loopback port. Waits are bounded polls of the journal (a few seconds
at most), never timing assertions.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_kraken_spot.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKraken
from router_kraken_spot.fake.stream import FakeKrakenStream
from router_kraken_spot.stream import executions

from router_core import AuthError, ExecutionReport, Router, make_plugin_manager

D = Decimal
PAIR = "XXBTZUSD"
BOUND_SECONDS = 10.0

TOML = """
[router]
state_dir = "{state}"

[accounts.spot]
broker = "kraken-spot"
base_url = "http://127.0.0.1:9"
ws_url = "{ws}"
tier = "pro"
stream_timeout_seconds = {timeout}
"""


class Venue:
    def __init__(self, router: Router, rest: FakeKraken, stream: FakeKrakenStream) -> None:
        self.router, self.rest, self.stream = router, rest, stream

    async def route(self, **alert: Any) -> ExecutionReport:
        body = {"id": str(uuid.uuid4()), "ticker": "XBTUSD", **alert}
        acceptance = self.router.accept(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome.value == "new"
        return await self.router.execute(acceptance.alert_id)

    def leg_status(self, client_order_id: str) -> str:
        leg = self.router.journal.get_leg(client_order_id)
        assert leg is not None
        return leg.status

    @property
    def connects(self) -> int:
        assert self.router.fill_streams is not None
        return self.router.fill_streams.connects.get("spot", 0)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after BOUND_SECONDS."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_SECONDS
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"not within {BOUND_SECONDS} s: {what}")
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def venue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    monkeypatch.setenv("KRAKEN_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", FAKE_API_SECRET)
    rest = FakeKraken(tier="pro")  # as the account says: the same REST budget
    stream = FakeKrakenStream(rest, heartbeat_seconds=0.1)
    url = await stream.start()
    timeout = getattr(request, "param", 2.0)
    path = tmp_path / "router.toml"
    path.write_text(TOML.format(state=tmp_path / "state", ws=url, timeout=timeout))
    router = Router.from_config_file(path, transport=httpx.ASGITransport(app=rest),
                                     plugins=make_plugin_manager(["kraken-spot"]))
    router.stream_fills = True
    assert await router.start() == []
    assert router.fill_streams is not None
    router.fill_streams.backoff_first = 0.05  # reconnect at once in tests
    v = Venue(router, rest, stream)
    await until(lambda: v.connects == 1 and stream.subscribed == 1, "the stream subscribed")
    yield v
    await router.close()
    await stream.stop()


async def _resting_buy(v: Venue, price: str, quantity: str = "0.01") -> str:
    report = await v.route(action="buy", quantity=quantity, order_type="limit", price=price)
    (leg,) = report.legs
    assert leg.result.status.value == "accepted", report.to_dict()
    return leg.result.client_order_id


async def test_resting_limit_filled_later_reaches_the_journal_without_a_rest_call(
    venue: Venue,
) -> None:
    cid = await _resting_buy(venue, "20000")
    calls = len(venue.rest.calls)
    venue.rest.move_price(PAIR, "20000")  # the market comes down to the order
    await until(lambda: venue.leg_status(cid) == "filled", "the leg filled in the journal")
    assert len(venue.rest.calls) == calls  # the stream told, nobody asked
    leg = venue.router.journal.get_leg(cid)
    assert leg is not None and leg.result is not None
    assert D(leg.result["filled_quantity"]) == D("0.01")
    assert D(leg.result["average_price"]) == D(20000)
    assert venue.router.journal.holdings("spot", PAIR) == D("0.01")
    (fill,) = venue.router.journal.fills("spot")
    assert fill.trade_id in venue.rest.trades and fill.source == "stream"


async def test_two_fills_while_disconnected_are_recorded_once_after_reconnect(
    venue: Venue,
) -> None:
    first = await _resting_buy(venue, "20000")
    second = await _resting_buy(venue, "19000", "0.02")
    await venue.stream.drop()
    venue.rest.move_price(PAIR, "18000")  # both fill while nobody listens
    await until(lambda: venue.connects == 2, "the stream reconnected")
    await until(lambda: venue.leg_status(first) == venue.leg_status(second) == "filled",
                "both legs filled in the journal")
    fills = venue.router.journal.fills("spot")
    assert sorted(f.trade_id for f in fills) == sorted(venue.rest.trades)
    assert [f.source for f in fills] == ["rest", "rest"]
    assert venue.router.journal.holdings("spot", PAIR) == D("0.03")
    # a later REST lookup of the same order adds nothing to the holdings
    leg = venue.router.journal.get_leg(first)
    assert leg is not None and leg.result is not None
    await venue.router.journal.record_outcome_async(first, leg.result)
    assert venue.router.journal.holdings("spot", PAIR) == D("0.03")


async def test_a_sequence_gap_resyncs_and_the_fill_counts_once(venue: Venue) -> None:
    cid = await _resting_buy(venue, "20000")
    venue.stream.skip_sequence()
    venue.rest.move_price(PAIR, "20000")
    await until(lambda: venue.connects == 2, "reconnected after the gap")
    await until(lambda: venue.leg_status(cid) == "filled", "the leg filled")
    assert len(venue.router.journal.fills("spot")) == 1
    assert venue.router.fill_streams is not None
    assert "sequence gap" in venue.router.fill_streams.last_error["spot"]


@pytest.mark.parametrize("venue", [0.3], indirect=True)
async def test_a_stalled_connection_is_given_up_and_reopened(
    venue: Venue, caplog: pytest.LogCaptureFixture,
) -> None:
    venue.stream.stall(1.0)  # no heartbeat for longer than stream_timeout_seconds
    await until(lambda: venue.connects >= 2, "a new connection after the stall")
    assert "nothing received for 0.3 s" in caplog.text


async def test_each_connection_gets_a_fresh_token_so_an_expired_one_is_never_used(
    venue: Venue,
) -> None:
    venue.rest.ws_token_seconds = 0.2  # tokens from now on must be used within 0.2 s
    await venue.stream.drop()
    await until(lambda: venue.connects == 2, "reconnected")
    await asyncio.sleep(0.3)  # the second connection's token has expired by now
    await venue.stream.drop()
    await until(lambda: venue.connects == 3, "reconnected again")
    _, second, third = venue.stream.tokens_used
    assert second != third and venue.stream.refused == []
    assert not venue.rest.token_valid(second)


async def test_the_fake_refuses_an_expired_token_and_the_stream_says_so(
    venue: Venue,
) -> None:
    token = venue.rest._ep_GetWebSocketsToken({})["token"]
    venue.rest.ws_token_seconds = 0
    venue.rest.ws_tokens[token] = 0.0  # expired long ago
    stream = executions(venue.stream.url, token, symbol=str, userref=lambda _: None,
                        read_timeout=2)
    with pytest.raises(AuthError, match="Invalid arguments:token"):
        await stream.__anext__()


async def test_send_and_other_non_serving_starts_open_no_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", FAKE_API_SECRET)
    rest = FakeKraken(tier="pro")  # as the account says: the same REST budget
    stream = FakeKrakenStream(rest)
    url = await stream.start()
    path = tmp_path / "router.toml"
    path.write_text(TOML.format(state=tmp_path / "state", ws=url, timeout=2))
    router = Router.from_config_file(path, transport=httpx.ASGITransport(app=rest),
                                     plugins=make_plugin_manager(["kraken-spot"]))
    assert await router.start() == []  # as `send` starts it: stream_fills stays False
    await asyncio.sleep(0.1)
    await router.close()
    await stream.stop()
    assert router.fill_streams is None and stream.connections == 0


def test_a_rest_override_without_ws_url_streams_nothing() -> None:
    from router_kraken_spot.config import KrakenSpotConfig

    assert KrakenSpotConfig().stream_url == "wss://ws-auth.kraken.com/v2"
    # a proxy or a REST-only fake: its WebSocket address is not guessed
    assert KrakenSpotConfig(base_url="http://127.0.0.1:9").stream_url is None
    assert KrakenSpotConfig(base_url="http://127.0.0.1:9",
                            ws_url="ws://127.0.0.1:8/v2").stream_url == "ws://127.0.0.1:8/v2"
    with pytest.raises(ValueError, match="wss://"):
        KrakenSpotConfig(ws_url="ws://example.com/v2")
