"""``GET /metrics``: scraped through the app after real alerts on the paper venue, parsed with
prometheus-client's own parser; access (loopback, token, public, off); no secret, no input in
a label; the documented metrics and the Grafana dashboard match what is exposed."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from router_core import hookimpl, make_plugin_manager
from router_core.errors import ConfigError
from router_core.models import Order, OrderResult, OrderStatus
from router_core.ratelimit import DecayingCounter
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import FakeClock

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "metrics-test-passphrase-4242"
ADMIN = "metrics-test-admin-token-5151"
ROUTE = "metrics-test-route-token-6161"
TOKEN = "metrics-test-scrape-token-7373"
JSON = {"Content-Type": "application/json"}

ACCOUNTS = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[defaults]
accounts = ["paper"]
[accounts.paper]
broker = "paper"
fill_price = 100
[accounts.risky]
broker = "paper"
fill_price = 100
[accounts.risky.risk]
max_order_notional = 50
[accounts.strict]
broker = "paper"
fill_price = 100
"""


class StrictVenue:
    """Plays the venue of account ``strict``: it rejects every order (a venue's answer)."""

    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Order) -> OrderResult | None:
        if order.account != "strict":
            return None
        return OrderResult(OrderStatus.REJECTED, order.client_order_id,
                           reason="EAPI:Invalid order", venue_code="EOrder")


def body(alert_id: str, **fields: Any) -> bytes:
    data = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
            "passphrase": PASSPHRASE, "id": alert_id, **fields}
    return json.dumps(data).encode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels, as prometheus-client's parser reads it."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


class App:
    def __init__(self, router: Router, app: Any,
                 client: Callable[..., httpx.AsyncClient]) -> None:
        self.router, self.app, self.client = router, app, client

    async def settle(self) -> None:
        while self.router._tasks:
            await asyncio.gather(*list(self.router._tasks), return_exceptions=True)

    async def scrape(self, peer: str = "127.0.0.1", **headers: str) -> httpx.Response:
        async with self.client(peer) as client:
            return await client.get("/metrics", headers=headers)


def build(tmp_path: Path, extra: str = "") -> Router:
    path = tmp_path / "router.toml"
    path.write_text(ACCOUNTS + extra)
    plugins = make_plugin_manager(["paper"], extra=[("strict-venue", StrictVenue())])
    return Router.from_config_file(path, plugins=plugins, clock=FakeClock(time.time()))


def settings() -> WebhookSettings:
    return WebhookSettings(passphrase=SecretStr(PASSPHRASE), admin_token=SecretStr(ADMIN),
                           route_tokens={"momentum": SecretStr(ROUTE)})


async def running(tmp_path: Path, extra: str = "") -> AsyncIterator[App]:
    router = build(tmp_path, extra)
    app = create_app(router, settings())

    def client(peer: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://router")

    async with app.router.lifespan_context(app):
        yield App(router, app, client)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[App]:
    async for app in running(tmp_path):
        yield app


async def post(app: App, raw: bytes, path: str = "/webhook") -> httpx.Response:
    async with app.client() as client:
        return await client.post(path, content=raw, headers=JSON)


# -- what the counters and histograms say -----------------------------------------------------


async def test_alerts_legs_and_latencies_move_as_alerts_arrive(served: App) -> None:
    before = samples((await served.scrape()).text)
    assert value(before, "alert_router_alerts_received_total", source="webhook",
                 claim="new") == 0
    assert value(before, "alert_router_alerts_refused_total", reason="unauthorized") == 0

    filled = await post(served, body("m-filled"))
    rejected = await post(served, body("m-rejected", accounts=["strict"]))
    risky = await post(served, body("m-risk", accounts=["risky"]))  # 1 at 100 > 50
    wrong = await post(served, body("m-wrong", passphrase="not it"))
    assert [r.status_code for r in (filled, rejected, risky, wrong)] == [200, 200, 200, 401]
    await served.settle()

    response = await served.scrape()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = samples(response.text)
    assert value(after, "alert_router_alerts_received_total", source="webhook",
                 claim="new") == 3
    assert value(after, "alert_router_alerts_refused_total", reason="unauthorized") == 1
    assert value(after, "alert_router_alerts_refused_total", reason="risk") == 1
    assert value(after, "alert_router_legs_total", broker="paper", status="filled") == 1
    assert value(after, "alert_router_legs_total", broker="paper", status="rejected") == 1
    assert value(after, "alert_router_legs_total", broker="paper", status="denied") == 1
    assert value(after, "alert_router_alerts_executed_total", outcome="ok") == 1
    assert value(after, "alert_router_alerts_executed_total", outcome="failed") == 2
    # latencies: three acks (the refused delivery answered too), three plans, the two legs
    # that reached the venue, three alerts end to end, and the journal's group commits
    assert value(after, "alert_router_webhook_ack_seconds_count") == 4
    assert value(after, "alert_router_plan_seconds_count", broker="paper") == 3
    assert value(after, "alert_router_venue_round_trip_seconds_count", broker="paper") == 2
    assert value(after, "alert_router_end_to_end_seconds_count") == 3
    assert value(after, "alert_router_journal_commit_seconds_count", durable="true") >= 3
    assert value(after, "alert_router_journal_writes_total", durable="true") >= 3
    assert value(after, "alert_router_legs_in_flight", broker="paper") == 0
    assert value(after, "alert_router_alerts_executing") == 0
    assert value(after, "alert_router_webhook_ack_seconds_bucket", le="+Inf") == 4


async def test_refusal_reasons_are_codes(served: App) -> None:
    assert (await post(served, body("m-dup"))).status_code == 200
    assert (await post(served, body("m-dup"))).status_code == 200  # the same delivery again
    conflict = await post(served, body("m-dup", quantity="2"))
    invalid = await post(served, body("m-invalid", action="hold"))
    async with served.client() as client:
        media = await client.post("/webhook", content=b"x", headers={"Content-Type": "image/png"})
        route = await client.post("/webhook/not-a-route-token", content=body("m-route"),
                                  headers=JSON)
        routed = await client.post(f"/webhook/{ROUTE}", content=body("m-routed"),
                                   headers=JSON)
    assert [r.status_code for r in (conflict, invalid, media, route, routed)] == [
        409, 422, 415, 401, 200]
    await served.settle()
    scrape = samples((await served.scrape()).text)
    for reason in ("conflict", "invalid_alert", "unsupported_media_type",
                   "unknown_route_token"):
        assert value(scrape, "alert_router_alerts_refused_total", reason=reason) == 1, reason
    assert value(scrape, "alert_router_alerts_refused_total", reason="body_too_large") == 0
    assert value(scrape, "alert_router_alerts_received_total", source="webhook",
                 claim="duplicate") == 1
    assert value(scrape, "alert_router_alerts_received_total", source="webhook:momentum",
                 claim="new") == 1


async def test_a_new_alert_is_counted_once_whether_or_not_the_sender_waits(
        served: App) -> None:
    # A plain delivery's claim and ack are counted after its 200 is sent; ?wait=true counts
    # the claim and no ack (its answer waits for the execution: end to end).
    assert (await post(served, body("m-ack"))).status_code == 200
    assert (await post(served, body("m-waited"), "/webhook?wait=true")).status_code == 200
    await served.settle()
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_alerts_received_total", source="webhook",
                 claim="new") == 2
    assert value(scrape, "alert_router_webhook_ack_seconds_count") == 1
    assert value(scrape, "alert_router_end_to_end_seconds_count") == 2


async def test_halts_are_gauges_and_a_halted_alert_is_counted(served: App) -> None:
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_halted") == 0
    assert value(scrape, "alert_router_account_halted", account="risky") == 0
    served.router.halt("maintenance")
    served.router.halt("one account", account="risky")
    assert (await post(served, body("m-halted"))).status_code == 200
    await served.settle()
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_halted") == 1
    assert value(scrape, "alert_router_account_halted", account="risky") == 1
    assert value(scrape, "alert_router_account_halted", account="paper") == 0
    assert value(scrape, "alert_router_alerts_refused_total", reason="halted") == 1
    assert value(scrape, "alert_router_alerts_executed_total", outcome="refused") == 1
    served.router.resume()
    served.router.resume(account="risky")
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_halted") == 0
    assert value(scrape, "alert_router_account_halted", account="risky") == 0


async def test_rate_limit_headroom_is_read_from_the_budgets(served: App) -> None:
    budget = served.router.limiters.get(
        "venue:rest:0123456789abcdef",
        lambda clock: DecayingCounter(20, 0.5, clock=clock, name="test budget"))
    await budget.acquire(6)
    scrape = samples((await served.scrape()).text)
    key = "venue:rest:0123456789abcdef"
    assert value(scrape, "alert_router_rate_limit_capacity", key=key) == 20
    assert value(scrape, "alert_router_rate_limit_headroom", key=key) == pytest.approx(14)
    budget.pause(30)
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_rate_limit_paused_seconds", key=key) == pytest.approx(30)


async def test_a_failing_journal_read_leaves_the_scrape_working(
        served: App, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> str | None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(served.router.journal, "get_flag", broken)
    response = await served.scrape()
    assert response.status_code == 200
    names = family_names(response.text)
    assert "alert_router_halted" not in names
    assert "alert_router_alerts_received" in names


async def test_process_metrics_and_the_version_are_there(served: App) -> None:
    from router_core import __version__

    names = family_names((await served.scrape()).text)
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info",
            "python_gc_objects_collected", "alert_router_build_info"} <= names
    scrape = samples((await served.scrape()).text)
    assert value(scrape, "alert_router_build_info", version=__version__) == 1


# -- what never shows ---------------------------------------------------------------------------


async def test_no_secret_and_no_request_input_in_the_output(served: App) -> None:
    await post(served, body("m-evil", ticker="EVIL<script>TICKER", passphrase="wrong"))
    await post(served, body("m-evil-2", ticker="ZZZEVILTICKER"))
    async with served.client() as client:
        await client.post("/webhook/evil-route-token-zzz", content=b"{}", headers=JSON)
    await served.settle()
    text = (await served.scrape()).text
    for secret in (PASSPHRASE, ADMIN, ROUTE, "wrong"):
        assert secret not in text
    for given in ("EVIL", "evil-route-token", "m-evil", "<script>"):
        assert given not in text


async def test_two_apps_in_one_process_keep_their_own_registries(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = create_app(build(tmp_path / "a"), settings())
    second = create_app(build(tmp_path / "b"), settings())
    assert first.state.metrics.registry is not second.state.metrics.registry
    first.state.metrics.refused("conflict")
    first_text = first.state.metrics.render().decode()
    second_text = second.state.metrics.render().decode()
    assert value(samples(first_text), "alert_router_alerts_refused_total",
                 reason="conflict") == 1
    assert value(samples(second_text), "alert_router_alerts_refused_total",
                 reason="conflict") == 0


# -- access -------------------------------------------------------------------------------------


async def test_without_a_token_only_loopback_may_scrape(served: App) -> None:
    assert (await served.scrape("127.0.0.1")).status_code == 200
    assert (await served.scrape("::1")).status_code == 200
    refused = await served.scrape("203.0.113.9")
    assert refused.status_code == 403
    assert "token_env" in refused.json()["detail"]


async def test_a_token_protects_the_scrape(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_METRICS_TOKEN", TOKEN)
    async for app in running(tmp_path, '[metrics]\ntoken_env = "TEST_METRICS_TOKEN"\n'):
        assert (await app.scrape()).status_code == 401
        assert (await app.scrape(authorization="Bearer not-the-token")).status_code == 401
        assert (await app.scrape(authorization=f"Bearer {ADMIN}")).status_code == 401
        ok = await app.scrape("203.0.113.9", authorization=f"Bearer {TOKEN}")
        assert ok.status_code == 200
        assert "alert_router_alerts_received_total" in ok.text
        assert TOKEN not in ok.text


async def test_public_answers_any_address(tmp_path: Path) -> None:
    async for app in running(tmp_path, "[metrics]\npublic = true\n"):
        assert (await app.scrape("203.0.113.9")).status_code == 200


async def test_disabled_metrics_answer_404_and_record_nothing(tmp_path: Path) -> None:
    async for app in running(tmp_path, "[metrics]\nenabled = false\n"):
        assert (await app.scrape()).status_code == 404
        assert app.router.metrics is None and app.router.runner.metrics is None
        assert not hasattr(app.app.state, "metrics")
        assert (await post(app, body("m-off"))).status_code == 200
        await app.settle()


def test_an_unset_token_variable_is_a_config_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_METRICS_TOKEN", raising=False)
    router = build(tmp_path, '[metrics]\ntoken_env = "TEST_METRICS_TOKEN"\n')
    with pytest.raises(ConfigError) as error:
        create_app(router, settings())
    assert error.value.key == "metrics.token_env"
    assert "TEST_METRICS_TOKEN" in str(error.value)


def test_public_and_a_token_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        build(tmp_path, '[metrics]\npublic = true\ntoken_env = "TEST_METRICS_TOKEN"\n')
    assert error.value.key == "metrics"
    assert "exclude each other" in str(error.value)


def test_a_pasted_token_is_refused_and_not_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        build(tmp_path, '[metrics]\ntoken_env = "abc-123 secret/value"\n')
    assert "abc-123" not in str(error.value)


# -- start-up cost ------------------------------------------------------------------------------


def test_only_an_app_with_metrics_imports_prometheus_client() -> None:
    probe = ("import sys\nimport router_core.server\nfrom router_core.cli import build_parser\n"
             "build_parser()\nprint('prometheus_client' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


# -- the documents ------------------------------------------------------------------------------


def exposed(name: str, families: set[str]) -> bool:
    """``name`` as written in a query is a family, or one of its samples' names."""
    for suffix in ("_bucket", "_count", "_sum", "_total", "_info", ""):
        if name.endswith(suffix) and name[: len(name) - len(suffix)] in families:
            return True
    return False


async def test_docs_name_every_metric_and_only_those(served: App) -> None:
    families = {n for n in family_names((await served.scrape()).text)
                if n.startswith("alert_router_")}
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(alert_router_[a-z_]+)`", text))
    for family in families:
        assert any(exposed(name, {family}) for name in documented), f"undocumented: {family}"
    for name in documented:
        assert exposed(name, families), f"docs/metrics.md names {name}, which is not exposed"


async def test_grafana_dashboard_queries_metrics_that_exist(served: App) -> None:
    families = family_names((await served.scrape()).text)
    dashboard = json.loads((ROOT / "docs" / "grafana" / "alert-router.json").read_text())
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    assert len(panels) >= 8
    for panel in panels:
        expressions = [target["expr"] for target in panel.get("targets", [])]
        assert expressions, f"panel {panel.get('title')!r} has no query"
        for expression in expressions:
            names = re.findall(r"\b((?:alert_router|process|python)_[a-z_]+)\b", expression)
            assert names, f"panel {panel['title']!r}: {expression}"
            for name in names:
                assert exposed(name, families), f"panel {panel['title']!r} queries {name}"
