"""Each fill stream's status (router_core.fills.StreamStatus) and where the operator sees it:
``/healthz`` (state per account; a refusal degrades the health, a reconnect does not),
``/metrics`` (read at scrape time, parsed with prometheus-client's parser) and the dashboard's
Accounts page. A scripted broker plays the venue's stream: live, dropped, refused. Waits are
bounded polls, never timing assertions."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.brokers import Broker, BrokerContext, Capabilities
from router_core.errors import AuthError, VenueUnavailable
from router_core.fills import FillEvents, FillStreams, short_error
from router_core.journal import Journal
from router_core.models import Fill, Side
from router_core.nonces import NonceRegistry
from router_core.ratelimit import RateLimiterRegistry
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import FakeClock

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

BOUND_SECONDS = 10.0
PASSPHRASE = "fill-stream-status-passphrase-31"
PASSWORD = "fill-stream-status-password-47"
CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[dashboard]
password_env = "TEST_FILL_STATUS_PASSWORD"
[accounts.spot]
broker = "paper"
fill_price = 100
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def fill(trade: str) -> Fill:
    return Fill(trade_id=trade, venue_order_id="O" + trade, client_order_id="",
                symbol="S", side=Side.BUY, quantity=Decimal(1), price=Decimal(10), time=100.0)


class ScriptedStream(Broker):
    """Each connection plays the next script; with none left it stays live."""

    name = "scripted"
    capabilities = Capabilities(fill_stream=True)

    def __init__(self, context: BrokerContext) -> None:
        super().__init__(Broker.Config(), context)  # type: ignore[arg-type]
        self.connections: list[Callable[[], AsyncIterator[Fill | None]]] = []
        self.opened = 0

    async def resolve(self, symbol: Any) -> Any: ...
    async def balance(self, currency: str | None = None) -> Any: ...
    async def position(self, instrument: Any) -> Any: ...
    async def submit_order(self, order: Any) -> Any: ...

    async def stream_fills(self) -> AsyncIterator[Fill | None]:  # type: ignore[override]
        self.opened += 1
        script = self.connections.pop(0) if self.connections else _forever
        async for item in script():
            yield item

    async def fills_since(self, since: float) -> Sequence[Fill]:
        return []


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


def refusal() -> AuthError:
    return AuthError("EGeneral:Permission denied (the key lacks WebSocket access)",
                     from_venue=True)


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_SECONDS
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"not within {BOUND_SECONDS} s: {what}")
        await asyncio.sleep(0.01)


def scripted(tmp_path: Path, account: str = "spot") -> ScriptedStream:
    return ScriptedStream(BrokerContext(account=account, state_dir=tmp_path,
                                        nonces=NonceRegistry(tmp_path),
                                        limiters=RateLimiterRegistry()))


def streams(journal: Journal, clock: list[float] | FakeClock,
            cluster: Any = None) -> FillStreams:
    now = clock.time if isinstance(clock, FakeClock) else (lambda: clock[0])
    made = FillStreams(journal, FillEvents(), cluster=cluster, now=now)
    made.backoff_first = 0.01
    made.refused_backoff = 3600.0  # a refusal stays refused for the whole test
    return made


# -- the record ---------------------------------------------------------------------------------


async def test_a_live_stream_counts_messages_fills_and_reconnects(tmp_path: Path) -> None:
    journal, clock = Journal(tmp_path / "j.sqlite3"), [1000.0]
    broker = scripted(tmp_path)
    broker.connections = [playing(None, fill("T1"), end=VenueUnavailable("dropped"))]
    fills = streams(journal, clock)
    fills.start({"spot": broker}, {})
    status = fills.status["spot"]
    await until(lambda: status.state == "live" and status.reconnects == 1, "live again")
    assert status.fills == 1
    assert status.last_error == "VenueUnavailable: dropped"
    assert status.connected_since == 1000.0 and status.last_message == 1000.0
    await fills.close()
    assert status.state == "stopped"
    journal.close()


async def test_a_refused_stream_says_so_without_the_key(tmp_path: Path) -> None:
    journal, clock = Journal(tmp_path / "j.sqlite3"), [1000.0]
    broker = scripted(tmp_path)
    broker.connections = [playing(end=refusal())]
    fills = streams(journal, clock)
    fills.start({"spot": broker}, {"spot": "key:kraken:0123abcd"})
    status = fills.status["spot"]
    await until(lambda: status.state == "refused", "refused")
    assert status.last_error is not None and status.last_error.startswith("AuthError: ")
    assert status.key == "key:kraken:0123abcd" and status.connected_since is None
    assert status.to_dict()["state"] == "refused"
    await fills.close()
    journal.close()


async def test_accounts_without_a_stream_say_why_and_a_shared_key_shares_one(
        tmp_path: Path) -> None:
    journal, clock = Journal(tmp_path / "j.sqlite3"), [1000.0]
    first, second = scripted(tmp_path, "a"), scripted(tmp_path, "b")
    no_ws_url = scripted(tmp_path, "c")  # declares a stream; this config has nowhere to go
    no_ws_url.capabilities = dataclasses.replace(no_ws_url.capabilities, fill_stream=False)
    fills = streams(journal, clock)
    plain = _NoStream(BrokerContext(account="d", state_dir=tmp_path,
                                    nonces=NonceRegistry(tmp_path),
                                    limiters=RateLimiterRegistry()))
    fills.start({"a": first, "b": second, "c": no_ws_url, "d": plain},
                {"a": "key:k:1", "b": "key:k:1"})
    states = fills.states()
    assert states["b"] is states["a"] and states["a"].accounts == ["a", "b"]
    assert states["c"].state == "not streaming" and "ws_url" in (states["c"].why or "")
    assert states["d"].state == "not streaming" and "has no fill stream" in (states["d"].why or "")
    await until(lambda: states["a"].state == "live", "the shared stream live")
    assert second.opened == 0
    await fills.close()
    journal.close()


class _NoStream(ScriptedStream):
    name = "nostream"
    capabilities = Capabilities()


async def test_another_instance_s_lease_is_not_streaming(tmp_path: Path) -> None:
    class Elsewhere:
        def drives(self, account: str) -> bool:
            return False

    journal, clock = Journal(tmp_path / "j.sqlite3"), [1000.0]
    fills = streams(journal, clock, cluster=Elsewhere())
    fills.start({"spot": scripted(tmp_path)}, {})
    status = fills.status["spot"]
    await until(lambda: status.state == "not streaming", "waiting for the lease")
    assert status.why == "not this instance's lease"
    await fills.close()
    journal.close()


def test_an_error_is_its_class_and_a_short_first_line() -> None:
    text = short_error(VenueUnavailable("x" * 500 + "\nsecond line"))
    assert text.startswith("VenueUnavailable: x") and len(text) <= 160
    assert "second line" not in text


# -- /healthz, /metrics, the Accounts page ------------------------------------------------------


class Served:
    def __init__(self, router: Router, http: httpx.AsyncClient, broker: ScriptedStream,
                 clock: FakeClock) -> None:
        self.router, self.http, self.broker, self.clock = router, http, broker, clock

    def status(self) -> Any:
        assert self.router.fill_streams is not None
        return self.router.fill_streams.status["spot"]

    async def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        text = (await self.http.get("/metrics")).text
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv("TEST_FILL_STATUS_PASSWORD", PASSWORD)
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    clock = FakeClock(1_000_000.0)
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]), clock=clock)
    app = create_app(router, WebhookSettings(passphrase=SecretStr(PASSPHRASE)))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    broker = scripted(tmp_path)
    async with app.router.lifespan_context(app):
        # What serve does, with a scripted stream for "spot" (paper has none) and a clock
        # the test moves.
        router.fill_streams = streams(router.journal, clock)
        router.fill_streams.start({"spot": broker, "paper": router.brokers["paper"]}, {})
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
            yield Served(router, http, broker, clock)


async def test_healthz_shows_each_stream_and_a_reconnect_keeps_it_ok(served: Served) -> None:
    await until(lambda: served.status().state == "live", "live")
    health = await served.http.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert health.json()["fill_streams"] == {"paper": "not streaming", "spot": "live"}
    served.status().state = "backing off"  # as between two connections
    assert (await served.http.get("/healthz")).json()["status"] == "ok"


async def test_a_refused_stream_shows_on_the_health_without_failing_it(
    tmp_path: Path, served: Served
) -> None:
    assert served.router.fill_streams is not None
    await served.router.fill_streams.close()
    broker = scripted(tmp_path)
    broker.connections = [playing(end=refusal())]
    served.router.fill_streams = streams(served.router.journal, served.clock)
    served.router.fill_streams.start({"spot": broker}, {})
    await until(lambda: served.status().state == "refused", "refused")
    health = await served.http.get("/healthz")
    assert health.status_code == 200  # the account still trades, its fills come by polling
    assert health.json()["status"] == "ok"
    assert health.json()["fill_streams"]["spot"] == "refused"
    assert health.json()["accounts"] == {"spot": "started", "paper": "started"}


async def test_metrics_are_read_from_the_status_at_scrape_time(served: Served) -> None:
    await until(lambda: served.status().state == "live", "live")
    served.clock.advance(42.0)
    scrape = await served.scrape()
    spot, paper = frozenset({("account", "spot")}), frozenset({("account", "paper")})
    assert scrape[("alert_router_fill_stream_up", spot)] == 1
    assert ("alert_router_fill_stream_up", paper) not in scrape  # no stream: no series
    assert scrape[("alert_router_fill_stream_last_message_age_seconds", spot)] == \
        pytest.approx(42.0)
    assert ("alert_router_fill_stream_last_message_age_seconds", paper) not in scrape
    assert scrape[("alert_router_fill_stream_reconnects_total", spot)] == 0
    assert served.router.fill_streams is not None
    await served.router.fill_streams.record("spot", fill("T9"), "stream")
    scrape = await served.scrape()
    assert scrape[("alert_router_fill_stream_fills_total", spot)] == 1
    served.status().state = "refused"
    assert (await served.scrape())[("alert_router_fill_stream_up", spot)] == 0


async def test_the_accounts_page_shows_each_stream_escaped(served: Served) -> None:
    await until(lambda: served.status().state == "live", "live")
    served.status().last_error = "VenueUnavailable: <b>dropped</b>"
    login = await served.http.post("/ui/login", data={"password": PASSWORD, "next": "/ui/"})
    assert login.status_code in (200, 303), login.text
    page = await served.http.get("/ui/accounts")
    assert page.status_code == 200
    assert "Fill stream:" in page.text
    assert ">live</span>" in page.text
    assert "not streaming</span> (broker paper has no fill stream" in page.text
    assert "&lt;b&gt;dropped&lt;/b&gt;" in page.text and "<b>dropped" not in page.text
