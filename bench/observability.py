"""The webhook with ``/metrics`` and the dashboard on, against the same build with them off.

Four ``alert-router serve`` processes (``serve_unthrottled.py``) run side by side against
the same fakes, one per variant; they differ only in ``[metrics]`` and ``[dashboard]``:

* **off**: ``[metrics] enabled = false`` and ``[dashboard] enabled = false``;
* **control**: the same config as off, in a second process: control ÷ off is this run's
  noise floor (two identical servers measured the same way);
* **metrics**: ``/metrics`` behind a bearer token, scraped once a second while that variant
  is measured (Prometheus' default interval is 15 s to 1 min: this is the heavier case);
* **on**: the same, and the dashboard mounted with a logged-in page open on its live event
  stream (the stream renders the alert list after every change, as a browser watching the
  page gets it).

The machine is shared and its speed drifts by 2-3x from one minute to the next, so the
variants are measured in turns, not one after the other: each round runs one block of every
scenario on each variant, in an order that rotates from round to round, and the figures pool
every round's samples. Scenarios: sequential ``POST /webhook?wait=true`` (p50, p99: one
order end to end), orders/s with one sender per account in flight, and a burst of 100 alerts
posted at once (ack p50, p99: what TradingView waits for), plus the serve process's CPU per
order. The report gives each variant ÷ off.

The servers use the same API keys on the fake, one server at a time (Kraken nonces must grow
per key): they are started one after the other, each waiting until its key check is done
(``/readyz``), and a block runs on one server only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import fakes
import measure
import router_paths

VARIANTS = ("off", "control", "metrics", "on")  # control: the same config as off (A/A)
QUIET = ("off", "control")  # no metrics, no dashboard
SCRAPE_SECONDS = 1.0
METRICS_TOKEN = "bench-metrics-token-" + uuid.uuid4().hex
DASHBOARD_PASSWORD = "bench-dashboard-password-" + uuid.uuid4().hex


def dashboard_in_tree() -> bool:
    """Whether this build has the dashboard (it is mounted by the app factory)."""
    return importlib.util.find_spec("router_core.dashboard") is not None


def write_variant_config(directory: Path, spot_url: str, futures_url: str, keys: int,
                         port: int, variant: str) -> Path:
    path = router_paths.write_config(directory, spot_url, keys, futures_url=futures_url,
                                     port=port)
    on = variant == "on"
    lines = ["", "[metrics]"]
    lines += ["enabled = false"] if variant in QUIET else ['token_env = "BENCH_METRICS_TOKEN"']
    if dashboard_in_tree():
        lines += ["", "[dashboard]", f"enabled = {'true' if on else 'false'}"]
        if on:
            lines.append('password_env = "BENCH_DASHBOARD_PASSWORD"')
    path.write_text(path.read_text() + "\n".join(lines) + "\n")
    return path


class Observer:
    """What an operator runs beside the router: a Prometheus-like scraper and a browser with
    the dashboard's alert page open (its live event stream)."""

    def __init__(self, session: Any, base: str, *, dashboard: bool) -> None:
        self.session, self.base = session, base
        self.scrapes: list[float] = []
        self.scrape_bytes = 0
        self.events = 0
        self.watch_dashboard = dashboard and dashboard_in_tree()
        self.dashboard = "off" if dashboard_in_tree() else "not in this build"
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._scrape_forever()))
        if self.watch_dashboard:
            if self.events == 0:
                await self._login()
            self._tasks.append(asyncio.create_task(self._watch()))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def scrape(self) -> str:
        started = time.perf_counter()
        async with self.session.get(f"{self.base}/metrics", headers={
                "Authorization": f"Bearer {METRICS_TOKEN}"}) as response:
            text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"/metrics answered {response.status}: {text[:200]}")
        self.scrapes.append(time.perf_counter() - started)
        self.scrape_bytes = len(text)
        return text

    async def _scrape_forever(self) -> None:
        while True:
            await self.scrape()
            await asyncio.sleep(SCRAPE_SECONDS)

    async def _login(self) -> None:
        async with self.session.post(f"{self.base}/ui/login",
                                     data={"password": DASHBOARD_PASSWORD, "next": "/ui/"},
                                     allow_redirects=False) as response:
            if response.status != 303:
                raise RuntimeError(f"dashboard login answered {response.status}")
        self.dashboard = "page open (live event stream)"

    async def _watch(self) -> None:
        async with self.session.get(f"{self.base}/ui/events",
                                    timeout=None) as response:  # type: ignore[arg-type]
            if response.status != 200:
                raise RuntimeError(f"dashboard events answered {response.status}")
            async for line in response.content:
                if line.startswith(b"event:"):
                    self.events += 1


class Server:
    """One variant's ``alert-router serve`` process."""

    def __init__(self, variant: str, workdir: Path, spot_url: str, futures_url: str,
                 keys: int) -> None:
        self.variant = variant
        self.port = fakes.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = write_variant_config(workdir, spot_url, futures_url, keys, self.port, variant)
        env = {**os.environ, **router_paths.environment(keys),
               "BENCH_METRICS_TOKEN": METRICS_TOKEN,
               "BENCH_DASHBOARD_PASSWORD": DASHBOARD_PASSWORD}
        self.log_path = workdir / "serve.log"
        self._log = open(self.log_path, "wb")  # closed in stop(), after the process
        self.process = subprocess.Popen(
            [sys.executable, str(router_paths.HERE / "serve_unthrottled.py"), "serve",
             "--config", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=self._log)

    async def ready(self) -> None:
        """Healthy, and its key check done (a private call on every key)."""
        import psutil

        try:
            await asyncio.to_thread(router_paths.wait_healthy, self.base, self.process)
            await asyncio.to_thread(fakes.wait_http, f"{self.base}/readyz", 60.0, self.process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{self.variant}: {exc}; its log ends with:\n"
                               f"{self.log_path.read_text(errors='replace')[-2000:]}") from None
        self.ps = psutil.Process(self.process.pid)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


class Samples:
    """One variant's samples, pooled over the rounds."""

    def __init__(self) -> None:
        self.sequential: list[float] = []
        self.in_flight: list[float] = []
        self.in_flight_wall = 0.0
        self.acks: list[float] = []
        self.cpu = 0.0
        self.orders = 0
        self.blocks: list[dict[str, float]] = []  # one per round: that block's own figures

    def summary(self) -> dict[str, Any]:
        def ms(values: list[float], q: float) -> float:
            return round(measure.percentile([v * 1000 for v in values], q), 3)

        return {
            "sequential": {"orders": len(self.sequential),
                           "p50_ms": round(statistics.median(self.sequential) * 1000, 3),
                           "p99_ms": ms(self.sequential, 99)},
            "in_flight": {"orders": len(self.in_flight),
                          "per_second": round(len(self.in_flight) / self.in_flight_wall, 1),
                          "p50_ms": round(statistics.median(self.in_flight) * 1000, 3),
                          "p99_ms": ms(self.in_flight, 99)},
            "burst": {"alerts": len(self.acks),
                      "ack_p50_ms": round(statistics.median(self.acks) * 1000, 3),
                      "ack_p99_ms": ms(self.acks, 99)},
            "serve_cpu_ms_per_order": round(self.cpu * 1000 / self.orders, 3),
            "blocks": self.blocks,
        }


async def observability_worker(spot_url: str, futures_url: str, workdir: str,
                               p: dict[str, Any]) -> dict[str, Any]:
    """Every variant, measured in turns (see the module's docstring)."""
    import aiohttp

    rounds = max(1, p["observability_rounds"])
    sequential = max(10, p["sequential"] // rounds)  # per round and variant
    in_flight_orders = max(2 * p["keys"], p["in_flight_orders"] // rounds)
    servers: dict[str, Server] = {}
    try:
        for variant in VARIANTS:  # one after the other: their key checks share the keys
            servers[variant] = Server(variant, Path(workdir) / variant, spot_url, futures_url,
                                      p["keys"])
            await servers[variant].ready()
        samples = {variant: Samples() for variant in VARIANTS}
        observers: dict[str, Observer] = {}
        # The observers' session: a new connection per request (a server closes a keep-alive
        # connection idle for 5 s, which a variant's is between its blocks, and reusing one as
        # it closes fails); unsafe: keep the dashboard's session cookie from 127.0.0.1.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            for variant, server in servers.items():
                await _check_variant(session, server)
                observers[variant] = Observer(session, server.base, dashboard=variant == "on")
            for round_number in range(rounds):
                shift = round_number % len(VARIANTS)
                order = VARIANTS[shift:] + VARIANTS[:shift]
                if round_number % 2:
                    order = order[::-1]
                for variant in order:
                    await _block(servers[variant], observers[variant], samples[variant], p,
                                 sequential, in_flight_orders)
            out: dict[str, Any] = {name: s.summary() for name, s in samples.items()}
            out["rounds"] = rounds
            for variant, observer in observers.items():
                if variant in QUIET:
                    continue
                text = await observer.scrape()
                out[variant]["observer"] = {
                    "scrapes": len(observer.scrapes),
                    "scrape_p50_ms": round(statistics.median(observer.scrapes) * 1000, 3),
                    "scrape_bytes": observer.scrape_bytes,
                    "dashboard": observer.dashboard,
                    "dashboard_events": observer.events,
                    "alerts_counted": _alerts_counted(text),
                }
        for variant, server in servers.items():
            out[variant]["rss_end_mb"] = measure.rss_mb(server.process.pid)
        return out
    except Exception as exc:
        dead = [f"{s.variant} exited with {s.process.returncode}; its log ends with:\n"
                f"{s.log_path.read_text(errors='replace')[-3000:]}"
                for s in servers.values() if s.process.poll() is not None]
        if dead:
            raise RuntimeError(f"{exc!r}; " + "\n".join(dead)) from exc
        raise
    finally:
        for server in servers.values():
            server.stop()


async def _check_variant(session: Any, server: Server) -> None:
    """The variant is what it says: /metrics answers 404 when off, 401 without the token."""
    async with session.get(f"{server.base}/metrics") as response:
        expected = 404 if server.variant in QUIET else 401
        if response.status != expected:
            raise RuntimeError(f"{server.variant}: /metrics answered {response.status}, "
                               f"expected {expected}")


async def _block(server: Server, observer: Observer, samples: Samples, p: dict[str, Any],
                 sequential: int, in_flight_orders: int) -> None:
    """One round's share of every scenario on one variant, its observer running. The
    senders' keep-alive connections are the block's own (opened by a warm-up, closed at its
    end), so none sits idle while the other variants run."""
    import aiohttp

    if server.variant not in QUIET:
        await observer.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    try:
        many = [router_paths.waiting_sender(session, server.base, [f"a{n}"])
                for n in range(1, p["keys"] + 1)]
        one = router_paths.waiting_sender(session, server.base, ["a0"])
        for _ in range(max(1, p["warmup"] // 2)):
            await one()
        await asyncio.gather(*(send() for send in many))
        cpu0 = server.cpu()
        first = len(samples.sequential), len(samples.in_flight), len(samples.acks)
        for _ in range(sequential):
            started = time.perf_counter()
            await one()
            samples.sequential.append(time.perf_counter() - started)
        share = max(1, in_flight_orders // len(many))

        async def worker(send: measure.Send) -> None:
            for _ in range(share):
                started = time.perf_counter()
                await send()
                samples.in_flight.append(time.perf_counter() - started)

        wall = time.perf_counter()
        await asyncio.gather(*(worker(send) for send in many))
        wall = time.perf_counter() - wall
        samples.in_flight_wall += wall
        answers, _ = await router_paths.ack_burst("127.0.0.1", server.port, [
            router_paths.alert([f"a{1 + n % p['keys']}"]) for n in range(p["burst"])])
        samples.acks += [seconds for seconds, _, _ in answers]
        cpu = server.cpu() - cpu0
        orders = sequential + share * len(many) + p["burst"]
        samples.cpu += cpu
        samples.orders += orders
        samples.blocks.append({
            "sequential_p50_ms": statistics.median(samples.sequential[first[0]:]) * 1000,
            "in_flight_per_second": share * len(many) / wall,
            "ack_p50_ms": statistics.median(samples.acks[first[2]:]) * 1000,
            "serve_cpu_ms_per_order": cpu * 1000 / orders,
        })
        await _executed(session, server.base, answers)
    finally:
        await session.close()
        await observer.stop()


async def _executed(session: Any, base: str, answers: list[tuple[float, int, bytes]]) -> None:
    """Wait until the burst's alerts have executed, so the next block starts quiet."""
    import json

    pending = {json.loads(body)["alert_id"] for _, status, body in answers if status == 200}
    if len(pending) != len(answers):
        raise RuntimeError("some alerts of the burst were not accepted")
    while pending:
        for alert_id in list(pending):
            async with session.get(f"{base}/alerts/{alert_id}") as response:
                record = await response.json()
            if record.get("state") == "done":
                router_paths.check_report(record["report"], 1)
                pending.discard(alert_id)
            elif record.get("state") == "refused":
                raise RuntimeError(f"burst alert refused: {record.get('reason')}")
        if pending:
            await asyncio.sleep(0.05)


def _alerts_counted(text: str) -> float:
    """``alert_router_alerts_received_total`` summed: proof the metrics saw the orders."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "alert_router_alerts_received_total")


FIGURES = (
    # (label, path in a variant's result, lower is better)
    ("webhook ?wait=true, p50 ms", ("sequential", "p50_ms"), True),
    ("webhook ?wait=true, p99 ms", ("sequential", "p99_ms"), True),
    ("webhook orders/s, one sender per account in flight", ("in_flight", "per_second"), False),
    ("p99 ms with those in flight", ("in_flight", "p99_ms"), True),
    ("webhook ack p50 ms, burst of 100", ("burst", "ack_p50_ms"), True),
    ("webhook ack p99 ms, burst of 100", ("burst", "ack_p99_ms"), True),
    ("serve CPU ms per order", ("serve_cpu_ms_per_order",), True),
)


def compare(medians: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each figure in every variant, and each variant ÷ off."""
    rows = []
    for label, path, lower_better in FIGURES:
        off = _get(medians["off"], path)
        row: dict[str, Any] = {"figure": label, "lower_is_better": lower_better}
        for variant in VARIANTS:
            value = _get(medians[variant], path)
            row[variant] = value
            if variant != "off":
                row[f"{variant}_ratio"] = round(value / off, 3) if off else None
        rows.append(row)
    return rows


ROUND_FIGURES = (
    ("webhook ?wait=true, p50 ms", "sequential_p50_ms"),
    ("webhook orders/s, one sender per account in flight", "in_flight_per_second"),
    ("webhook ack p50 ms, burst of 100", "ack_p50_ms"),
    ("serve CPU ms per order", "serve_cpu_ms_per_order"),
)


def compare_rounds(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per figure and variant, the median over rounds of (the variant's block ÷ off's block
    of the same round): load that drifts between rounds cancels out of each ratio."""
    rows = []
    for label, key in ROUND_FIGURES:
        row: dict[str, Any] = {"figure": label}
        off = [block[key] for block in result["off"]["blocks"]]
        for variant in VARIANTS[1:]:
            ratios = [block[key] / base for block, base in
                      zip(result[variant]["blocks"], off, strict=True) if base]
            row[f"{variant}_ratio"] = round(statistics.median(ratios), 3) if ratios else None
        rows.append(row)
    return rows


def hot_path_cost(orders: int = 20_000) -> dict[str, float]:
    """What the metrics themselves add per order, measured in this process without HTTP:
    every call one accepted alert with one filled leg makes (claimed, received, acked,
    planned, the venue timer, executed, two journal group commits), in microseconds. The
    on/off ratios above carry the machine's noise; this figure does not."""
    import tempfile

    from router_core import make_plugin_manager
    from router_core.metrics import RouterMetrics
    from router_core.models import (
        ExecutionReport,
        LegPurpose,
        LegReport,
        OrderResult,
        OrderStatus,
    )
    from router_core.router import Router

    async def submit() -> None:
        return None

    async def run(metrics: Any, reports: list[Any]) -> float:
        started = time.perf_counter()
        for n, report in enumerate(reports):
            now = time.perf_counter()
            metrics.claimed("webhook", False)
            metrics.received(report.alert_id, now)
            metrics.acked(0.0004)
            metrics.planned("kraken-spot", 0.0003)
            await metrics.timed_submit("kraken-spot", submit())
            metrics.journal_committed(0.002, 1 + n % 3, True)
            metrics.journal_committed(0.0001, 1, False)
            metrics.executed(report)
        return (time.perf_counter() - started) / len(reports)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.toml"
        path.write_text('[router]\nstate_dir = "state"\n[accounts.paper]\nbroker = "paper"\n')
        router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
        metrics = RouterMetrics(router)
        result = OrderResult(OrderStatus.FILLED, "c-1")
        reports = [ExecutionReport(f"alert-{n}", "k", (LegReport(
            "paper", "kraken-spot", LegPurpose.OPEN, result),)) for n in range(orders)]
        asyncio.run(run(metrics, reports[: orders // 10]))  # warm
        per_order = asyncio.run(run(metrics, reports))
        router.journal.close()
    return {"orders": orders, "us_per_order": round(per_order * 1e6, 2)}


def _get(data: dict[str, Any], path: tuple[str, ...]) -> float:
    for key in path:
        data = data[key]
    return float(data)  # type: ignore[arg-type]
