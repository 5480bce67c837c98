"""Workers for the router's own paths: in-process (accept + execute), the webhook under
``alert-router serve``, and a staged profile of the in-process path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fakes
import measure
from journal_floor import journal_floor
from serve_unthrottled import lift_kraken_spot_budgets

PASSPHRASE = "bench-passphrase-" + uuid.uuid4().hex
HERE = Path(__file__).resolve().parent


def environment(accounts: int) -> dict[str, str]:
    env = {"BENCH_PASSPHRASE": PASSPHRASE}
    for n in range(accounts + 1):
        env[f"BENCH_KRAKEN_KEY_{n}"], env[f"BENCH_KRAKEN_SECRET_{n}"] = fakes.key(n)
    from router_kraken_futures.fake.app import FAKE_API_KEY, FAKE_API_SECRET

    env["BENCH_FUTURES_KEY"], env["BENCH_FUTURES_SECRET"] = FAKE_API_KEY, FAKE_API_SECRET
    return env


def write_config(directory: Path, spot_url: str, accounts: int, *, futures_url: str | None,
                 port: int = 8080) -> Path:
    """Accounts a0..aN on the Kraken spot fake, each with its own key (a0: the fake's default
    key); with ``futures_url`` also one Kraken Futures account, so both plugins are loaded."""
    plugins = '["kraken-spot", "kraken-futures"]' if futures_url else '["kraken-spot"]'
    lines = [
        "[router]", f'state_dir = "{directory / "state"}"', f"plugins = {plugins}",
        "reconcile_attempts = 2", "reconcile_window_seconds = 2", "",
        "[server]", 'host = "127.0.0.1"', f"port = {port}", 'passphrase_env = "BENCH_PASSPHRASE"',
        "", "[defaults]", 'accounts = ["a0"]', "",
    ]
    for n in range(accounts + 1):
        lines += [f"[accounts.a{n}]", 'broker = "kraken-spot"',
                  f'api_key_env = "BENCH_KRAKEN_KEY_{n}"',
                  f'api_secret_env = "BENCH_KRAKEN_SECRET_{n}"', f'base_url = "{spot_url}"', ""]
    if futures_url:
        lines += ["[accounts.futures]", 'broker = "kraken-futures"',
                  'api_key_env = "BENCH_FUTURES_KEY"', 'api_secret_env = "BENCH_FUTURES_SECRET"',
                  f'base_url = "{futures_url}"', ""]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "router.toml"
    path.write_text("\n".join(lines))
    return path


def alert(accounts: list[str]) -> bytes:
    """One resting limit buy: the same order the floor and ccxt send."""
    return json.dumps({
        "ticker": "XBTUSD", "action": "buy", "quantity": "0.0001", "orderType": "limit",
        "limitPrice": "40000", "accounts": accounts, "id": uuid.uuid4().hex,
        "passphrase": PASSPHRASE,
    }).encode()


def check_report(report: dict[str, Any], accounts: int) -> None:
    legs = report.get("legs", [])
    statuses = [leg.get("status") for leg in legs]
    if len(legs) != accounts or any(s != "accepted" for s in statuses):
        raise RuntimeError(f"expected {accounts} accepted legs, got {statuses} "
                           f"{report.get('notes')} {[leg.get('reason') for leg in legs]}")


def check_legs(report: Any, accounts: int) -> None:
    """``check_report`` on the report object itself: ccxt's sender checks the order it got back
    without serialising it, so the router's is not made to build the report's dict either (about
    75 µs for 50 legs, inside the measured window)."""
    statuses = [leg.result.status.value for leg in report.legs]
    if len(statuses) != accounts or any(s != "accepted" for s in statuses):
        check_report(report.to_dict(), accounts)  # raises, naming the legs and their reasons


# -- in-process -------------------------------------------------------------------------------

async def start_router(workdir: Path, spot_url: str, accounts: int,
                       transport: Any = None) -> Any:
    lift_kraken_spot_budgets()
    os.environ.update(environment(accounts))
    from router_core.router import Router

    router = Router.from_config_file(
        write_config(workdir, spot_url, accounts, futures_url=None), transport=transport)
    problems = await router.start()
    if problems:
        raise RuntimeError(f"router did not start: {problems}")
    try:  # as `alert-router serve` does once it is ready, and a long-running embedder should
        from router_core.gc_tuning import tune_for_serving
    except ImportError:  # a router from before it (A/B runs)
        return router
    tune_for_serving()
    return router


def in_process_sender(router: Any, accounts: list[str]) -> measure.Send:
    async def send() -> None:  # the path of `alert-router send` and the webhook's ?wait=true
        if not hasattr(router, "accept_and_execute"):  # a router from before it (A/B runs)
            acceptance = await router.accept_async(alert(accounts), "application/json")
            report = await router.execute(acceptance.alert_id)
        else:
            _, report = await router.accept_and_execute(alert(accounts), "application/json")
        assert report is not None, "a fresh alert is executed"
        check_legs(report, len(accounts))
    return send


async def router_worker(spot_url: str, workdir: str, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    router = await start_router(Path(workdir), spot_url, p["keys"])
    out: dict[str, Any] = {"ready_ms": round((time.perf_counter() - started) * 1000, 1)}
    out["sequential"] = await measure.sequential(
        in_process_sender(router, ["a0"]), p["sequential"], p["warmup"])
    many = [in_process_sender(router, [f"a{n}"]) for n in range(1, p["keys"] + 1)]
    out["in_flight"] = await measure.in_flight(many, p["in_flight_orders"])
    fan: dict[str, Any] = {}
    for k in p["fan_out"]:
        names = [f"a{n}" for n in range(1, k + 1)]
        result = await measure.sequential(in_process_sender(router, names),
                                          p["fan_out_rounds"], 1)
        result["cpu_ms_per_order"] = round(result["cpu_ms_per_order"] / k, 3)
        result["accounts"] = k
        fan[str(k)] = result
    out["fan_out"] = fan
    out["rss_mb"] = measure.rss_mb()
    await router.close()
    return out


# -- realistic latency ------------------------------------------------------------------------

async def realistic_worker(spot_url: str, workdir: str, p: dict[str, Any]) -> dict[str, Any]:
    """The in-process router against the fake holding each answer ``latency_ms`` back
    (``latent_fake.py``): one order, then one alert to the widest fan-out, in alternating
    rounds (``measure.alternating``)."""
    router = await start_router(Path(workdir), spot_url, p["keys"])
    widest = max(p["fan_out"])
    found = await measure.alternating(
        in_process_sender(router, ["a0"]),
        in_process_sender(router, [f"a{n}" for n in range(1, widest + 1)]),
        widest, p["realistic_rounds"])
    await router.close()
    return {"latency_ms": p["latency_ms"], "accounts": widest, "rounds": p["realistic_rounds"],
            **found}


# -- the router with one thing changed -------------------------------------------------------

EXPERIMENTS: dict[str, tuple[str, ...]] = {
    "as shipped": (),
    "journal without fsync": ("no_fsync",),
    "no journal (its hot-path writes and halt-flag read in memory, no claim texts)":
        ("no_journal",),
    "httpx on httpcore (the transport before)": ("httpcore_transport",),
}


def apply_experiment(changes: tuple[str, ...]) -> Any:
    """Patch the router in this process for one experiment; returns the transport to inject
    (None: the plugins' own, ``router_core.AiohttpTransport``).

    Experiments measure what a change buys or would buy; none of them is a product mode."""
    transport = None
    if "no_fsync" in changes:
        # Every group commits with synchronous=NORMAL: in WAL mode, no fsync. Durable groups
        # still hand their COMMIT to the helper thread, so only the fsync itself is taken out.
        from router_core import journal_writer

        def never_durable(self: Any, durable: bool) -> None:
            journal_writer.GroupCommitWriter._set_durability_shipped(self, False)

        writer = journal_writer.GroupCommitWriter
        writer._set_durability_shipped = writer._set_durability  # type: ignore[attr-defined]
        writer._set_durability = never_durable  # type: ignore[method-assign]
    if "no_journal" in changes:
        # What the durable journal costs in all: the claim, the leg intent, the outcome, the
        # final state and the halt-flag read of each alert become in-memory stand-ins (the
        # alerts the bench sends are all new, nothing is halted), and the two texts of each
        # claim that only the journal reads (the alert's JSON and its fingerprint's) are not
        # made. The journal's other reads still run, against a journal with no rows. Not a
        # product mode: nothing survives a crash, nothing is idempotent.
        from router_core import journal as journal_module
        from router_core import router as router_module

        def no_text(value: Any) -> str:
            return "{}"

        router_module._ALERT_TEXT = router_module._FINGERPRINT_TEXT = no_text

        new = journal_module.ClaimOutcome.NEW

        async def claim_deferred_async(self: Any, **fields: Any) -> tuple[Any, int]:
            return journal_module.Claim(new, fields["alert_id"]), 0

        async def claim_async(self: Any, **fields: Any) -> Any:  # the webhook's ack path
            return journal_module.Claim(new, fields["alert_id"])

        async def nothing_async(self: Any, *args: Any, **kwargs: Any) -> None:
            return None

        async def recorded_async(self: Any, *args: Any, **kwargs: Any) -> bool:
            return True

        def nothing(self: Any, *args: Any, **kwargs: Any) -> None:
            return None

        def no_flags(self: Any, names: list[str]) -> dict[str, str]:
            return {}

        journal = journal_module.Journal
        journal.claim_deferred_async = claim_deferred_async  # type: ignore[method-assign]
        journal.claim_async = claim_async  # type: ignore[method-assign]
        journal.ensure_durable_async = nothing_async  # type: ignore[method-assign]
        journal.set_state_async = nothing_async  # type: ignore[method-assign]
        journal.record_intent_async = recorded_async  # type: ignore[method-assign]
        journal.record_outcome_soon = nothing  # type: ignore[method-assign]
        journal.get_flags = no_flags  # type: ignore[method-assign]
    if "httpcore_transport" in changes:
        import httpx

        # The Router hands one injected transport to every account, and the Kraken spot
        # client uses it as it is. Before, each account had its own httpcore pool; one shared
        # pool is the same code, with room to keep every account's connection alive.
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
    return transport


async def experiment_worker(spot_url: str, workdir: str, p: dict[str, Any]) -> dict[str, Any]:
    name = p["experiment"]
    transport = apply_experiment(EXPERIMENTS[name])
    router = await start_router(Path(workdir), spot_url, p["keys"], transport=transport)
    out: dict[str, Any] = {"experiment": name}
    out["sequential"] = await measure.sequential(
        in_process_sender(router, ["a0"]), p["sequential"], p["warmup"])
    many = [in_process_sender(router, [f"a{n}"]) for n in range(1, p["keys"] + 1)]
    out["in_flight"] = await measure.in_flight(many, p["in_flight_orders"])
    widest = max(p["fan_out"])
    out["fan_out"] = await measure.sequential(
        in_process_sender(router, [f"a{n}" for n in range(1, widest + 1)]),
        p["fan_out_rounds"], 1)
    out["fan_out"]["accounts"] = widest
    await router.close()
    return out


# -- where the in-process time goes -----------------------------------------------------------

class StageClock:
    """Accumulates wall time per named stage by wrapping the functions that do the work."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, stage: str, seconds: float, cpu: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu
        self.calls[stage] = self.calls.get(stage, 0) + 1

    def wrap_sync(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started, time.process_time() - cpu)
        setattr(owner, name, timed)

    def wrap_async(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            # sequential alerts: while this awaits, nothing else runs, so CPU is its own
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return await original(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started, time.process_time() - cpu)
        setattr(owner, name, timed)


def fsync_cost(directory: Path, commits: int) -> float:
    """Milliseconds per durable commit of one small row: SQLite WAL, synchronous=FULL, on the
    journal's disk. What each claim and each leg intent pays at least."""
    import sqlite3

    path = directory / "fsync-probe.sqlite3"
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for _ in range(commits):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (uuid.uuid4().hex, "x" * 300))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return round(elapsed * 1000 / commits, 3)


async def claim_burst(router: Any, count: int) -> dict[str, float]:
    """``count`` alerts accepted at once the way the webhook does it (``Router.accept_async``:
    parse on the loop, the claims join the journal's group commits), nothing executed: the ack
    latency parse + claim alone allow, without HTTP."""
    async def one() -> float:
        started = time.perf_counter()
        await router.accept_async(alert(["a0"]), "application/json")
        return time.perf_counter() - started

    ms = [v * 1000 for v in await asyncio.gather(*(one() for _ in range(count)))]
    return {"ack_p50_ms": round(sorted(ms)[len(ms) // 2], 3),
            "ack_p99_ms": round(measure.percentile(ms, 99), 3),
            "parse_validate_ms": parse_validate_ms(router, count)}


def parse_validate_ms(router: Any, count: int) -> float:
    """CPU ms to parse and validate ``count`` alerts one after another (``intake.parse_alert``:
    the JSON, the dialects, the Alert model's checks that name a bad field), the part of
    each ack that no journal setting changes."""
    from router_core.intake import parse_alert

    bodies = [alert(["a0"]) for _ in range(count)]
    parse_alert(bodies[0], "application/json", router.plugins)  # warm
    started = time.process_time()
    for body in bodies:
        parse_alert(body, "application/json", router.plugins)
    return round((time.process_time() - started) * 1000, 3)


async def claim_batching(directory: Path, count: int) -> dict[str, float]:
    """``count`` claims one after the other (each waits for its own fsync) against the same
    number arriving together, which the journal's writer commits in groups."""
    from router_core.journal import Journal

    def rows() -> list[dict[str, Any]]:
        return [dict(alert_id=uuid.uuid4().hex, delivery_key=uuid.uuid4().hex,
                     intent_key=uuid.uuid4().hex, fingerprint="f", alert={"ticker": "XBTUSD"},
                     peer=None, source="bench") for _ in range(count)]

    journal = Journal(directory / "claims-probe.sqlite3")
    try:
        batch = rows()
        started = time.perf_counter()
        for row in batch:
            await journal.claim_async(**row)
        one_each = time.perf_counter() - started
        batch = rows()
        started = time.perf_counter()
        await asyncio.gather(*(journal.claim_async(**row) for row in batch))
        grouped = time.perf_counter() - started
    finally:
        journal.close()
    return {"claims": count, "one_after_another_ms": round(one_each * 1000, 1),
            "together_group_commit_ms": round(grouped * 1000, 1)}


def package_of(filename: str, function: str) -> str:
    """Who owns a profiled function: a project package, a library, or a C call by kind."""
    if filename == "~":  # built-in: name the kind of work
        for marker, label in (("sqlite3", "sqlite3 (C: SQL and fsync)"),
                              ("socket", "sockets (C)"), ("select", "event loop poll (C)"),
                              ("epoll", "event loop poll (C)"), ("hmac", "hashing (C)"),
                              ("_hashlib", "hashing (C)"), ("json", "json (C)"),
                              ("pydantic", "pydantic-core (C)")):
            if marker in function:
                return label
        return "other built-ins (C)"
    path = filename.replace("\\", "/")
    for name in ("router_core", "router_kraken_spot"):
        if f"/{name}/" in path:
            return name
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/asyncio/" in path:
        return "asyncio"
    if "/bench/" in path:
        return "benchmark harness"
    return "standard library (Python)"


def own_time_by_package(stats: Any, alerts: int) -> dict[str, float]:
    """Profiled own time (tottime) per alert, summed by package: where CPU goes, not waits
    (cProfile inflates everything by about the same factor; read the shares)."""
    totals: dict[str, float] = {}
    for (filename, _line, function), row in stats.stats.items():
        package = package_of(filename, function)
        totals[package] = totals.get(package, 0.0) + row[2]
    ordered = sorted(totals.items(), key=lambda kv: -kv[1])
    return {name: round(seconds * 1000 / alerts, 3) for name, seconds in ordered}


async def profile_worker(spot_url: str, workdir: str, p: dict[str, Any]) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    from router_kraken_spot import signing

    from router_core import VenueHttp, intake, journal

    router = await start_router(Path(workdir), spot_url, 0)
    send = in_process_sender(router, ["a0"])
    count = p["sequential"]
    for _ in range(p["warmup"]):
        await send()

    stages = StageClock()
    stages.wrap_async(journal.Journal, "claim_async", "journal: claim (fsync)")
    # the sender's path (accept_and_execute): the leg intent's fsync covers the claim
    stages.wrap_async(journal.Journal, "claim_deferred_async", "journal: claim (no fsync)")
    stages.wrap_async(journal.Journal, "ensure_durable_async", "journal: claim on disk (check)")
    stages.wrap_async(journal.Journal, "record_intent_async", "journal: leg intent (fsync)")
    stages.wrap_sync(journal.Journal, "record_outcome_soon", "journal: leg outcome (queued)")
    stages.wrap_async(journal.Journal, "set_state_async", "journal: alert state (no fsync)")
    stages.wrap_sync(journal.Journal, "get_alert", "journal: reads")
    stages.wrap_sync(journal.Journal, "legs_since", "journal: reads")
    stages.wrap_sync(journal.Journal, "realised_pnl", "journal: reads")
    stages.wrap_sync(intake, "parse_alert", "parse + validate alert")
    stages.wrap_sync(signing.Signer, "sign", "sign (HMAC-SHA512)")
    stages.wrap_async(VenueHttp, "request", "HTTP round trips (VenueHttp, incl. the fake)")
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(count):
        await send()
    total = time.perf_counter() - started
    total_cpu = time.process_time() - cpu_started
    per_alert = {stage: round(s * 1000 / count, 3) for stage, s in stages.seconds.items()}
    cpu_per_alert = {stage: round(s * 1000 / count, 3) for stage, s in stages.cpu.items()}
    rest = "everything else (router logic, models, asyncio)"
    per_alert[rest] = round(total * 1000 / count - sum(per_alert.values()), 3)
    cpu_per_alert[rest] = round(total_cpu * 1000 / count - sum(cpu_per_alert.values()), 3)
    calls = {stage: round(n / count, 2) for stage, n in stages.calls.items()}

    claims = await claim_burst(router, 100)
    batching = await claim_batching(Path(workdir), 100)

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await send()
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(40)
    by_package = own_time_by_package(stats, count)
    await router.close()
    return {
        "alerts": count,
        "total_ms_per_alert": round(total * 1000 / count, 3),
        "cpu_ms_per_alert": round(total_cpu * 1000 / count, 3),
        "stages_ms_per_alert": per_alert,
        "stages_cpu_ms_per_alert": cpu_per_alert,
        "calls_per_alert": calls,
        "sqlite_fsync_commit_ms": fsync_cost(Path(workdir), max(50, count)),
        "journal_floor": journal_floor(Path(workdir), max(200, count)),
        "journal_floor_50": journal_floor(Path(workdir), max(2000, 10 * count), group=50),
        "profiled_own_ms_per_alert_by_package": by_package,
        "accept_burst_100": claims,
        "claims_100": batching,
        "cprofile": text.getvalue(),
    }


# -- the webhook ------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def serving(spot_url: str, futures_url: str, workdir: str, keys: int,
                  experiment: str | None = None) -> AsyncIterator[tuple[int, Any, float]]:
    """``alert-router serve`` (``serve_unthrottled.py``) on a free port, until healthy: its
    port, its ``subprocess.Popen`` and the seconds it took to be ready. ``experiment``: one of
    ``EXPERIMENTS``, patched into the serve process (``BENCH_EXPERIMENT``)."""
    port = fakes.free_port()
    config = write_config(Path(workdir), spot_url, keys, futures_url=futures_url, port=port)
    env = {**os.environ, **environment(keys)}
    if experiment is not None:
        env["BENCH_EXPERIMENT"] = experiment
    started = time.perf_counter()
    log_path = Path(workdir) / "serve.log"
    log = open(log_path, "wb")  # closed in finally, after the process
    process = subprocess.Popen(
        [sys.executable, str(HERE / "serve_unthrottled.py"), "serve", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        try:
            await asyncio.to_thread(wait_healthy, f"http://127.0.0.1:{port}", process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}; its log ends with:\n"
                               f"{log_path.read_text(errors='replace')[-2000:]}") from None
        yield port, process, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def waiting_sender(session: Any, base: str, accounts: list[str],
                   check: bool = True) -> measure.Send:
    """POST one alert to ``base``/webhook?wait=true; the answer must say the alert is done
    (and, with ``check``, carry the report of its legs)."""
    async def send() -> None:
        async with session.post(f"{base}/webhook?wait=true", data=alert(accounts),
                                headers={"Content-Type": "application/json"}) as r:
            body = await r.json()
        if r.status != 200 or body.get("status") != "done":
            raise RuntimeError(f"webhook answered {r.status}: {body}")
        if check:
            check_report(body["report"], len(accounts))
    return send


async def in_flight_with_cpu(session: Any, base: str, process: Any, keys: int,
                             orders: int, check: bool = True) -> dict[str, float]:
    """Orders/s with ``keys`` accounts in flight through the server at ``base``, and the
    server process's CPU per order."""
    import psutil

    server = psutil.Process(process.pid)
    many = [waiting_sender(session, base, [f"a{n}"], check) for n in range(1, keys + 1)]
    cpu0 = _cpu(server)
    found = await measure.in_flight(many, orders)
    found["serve_cpu_ms_per_order"] = round(
        (_cpu(server) - cpu0) * 1000 / (found["orders"] + keys), 3)
    return found


async def webhook_worker(spot_url: str, futures_url: str, workdir: str,
                         p: dict[str, Any]) -> dict[str, Any]:
    import aiohttp
    import psutil

    async with serving(spot_url, futures_url, workdir, p["keys"]) as (port, process, ready_s):
        out: dict[str, Any] = {"ready_ms": round(ready_s * 1000, 1)}
        serve = psutil.Process(process.pid)
        out["rss_ready_mb"] = measure.rss_mb(process.pid)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200)) as session:
            cpu0 = _cpu(serve)
            out["sequential"] = await measure.sequential(
                waiting_sender(session, base, ["a0"]), p["sequential"], p["warmup"])
            out["sequential"]["serve_cpu_ms_per_order"] = round(
                (_cpu(serve) - cpu0) * 1000 / (p["sequential"] + p["warmup"]), 3)
            out["in_flight"] = await in_flight_with_cpu(session, base, process, p["keys"],
                                                        p["in_flight_orders"])
            out["burst"] = await burst(session, "127.0.0.1", port, p["burst"], p["keys"])
        out["burst"]["server_floor"] = await server_floor_burst(p["burst"])
        out["rss_end_mb"] = measure.rss_mb(process.pid)
        return out


# The webhook with one thing changed: the journal's variants (the transport one is the
# in-process experiments' alone: serve builds its own transports).
WEBHOOK_EXPERIMENTS = [name for name, changes in EXPERIMENTS.items()
                       if "httpcore_transport" not in changes]


async def webhook_experiment_worker(spot_url: str, futures_url: str, workdir: str,
                                    p: dict[str, Any]) -> dict[str, Any]:
    """``serve`` with ``p["experiment"]`` patched in: orders/s with N in flight, its CPU per
    order and a burst's acks, as the webhook worker measures them."""
    import aiohttp

    name = p["experiment"]
    async with serving(spot_url, futures_url, workdir, p["keys"], name) as (port, process, _):
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200)) as session:
            warm = waiting_sender(session, base, ["a0"])
            for _ in range(p["warmup"]):
                await warm()
            found = await in_flight_with_cpu(session, base, process, p["keys"],
                                             p["in_flight_orders"])
            # With no journal nothing records an alert's end, so only the acks are timed.
            executed = "no_journal" not in EXPERIMENTS[name]
            return {"experiment": name, "in_flight": found,
                    "burst": await burst(session, "127.0.0.1", port, p["burst"], p["keys"],
                                         wait_executed=executed)}


@contextlib.asynccontextmanager
async def floor_server(*options: str) -> AsyncIterator[tuple[int, Any]]:
    """``server_floor.py`` with ``options`` on a free port, until it answers: its port and its
    ``subprocess.Popen``."""
    port = fakes.free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "server_floor.py"), str(port), *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(fakes.wait_http, f"http://127.0.0.1:{port}/healthz", 20.0,
                                process)
        yield port, process
    finally:
        process.terminate()
        process.wait(10)


async def webhook_floor_worker(spot_url: str, p: dict[str, Any]) -> dict[str, Any]:
    """``server_floor.py --forward``: the least a Python webhook spends to turn each POST into
    one order (HTTP in, JSON, signing, HTTP out), with N in flight from the same sender as the
    webhook's. It must run before the router's workers: its nonces are the millisecond's, and
    a router may have gone past it on the same keys."""
    import aiohttp

    async with floor_server("--forward", spot_url, "--keys", str(p["keys"])) as (port, process):
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200)) as session:
            return {"in_flight": await in_flight_with_cpu(
                session, f"http://127.0.0.1:{port}", process, p["keys"], p["in_flight_orders"],
                check=False)}


def _cpu(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"alert-router serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)
    raise TimeoutError("alert-router serve did not become healthy")


class KeepAlive:
    """One HTTP/1.1 keep-alive connection driven by hand: a request goes out in one write and
    its answer is read by Content-Length, with no client library in the measured window."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> KeepAlive:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    def request(self, method: str, path: str, body: bytes = b"",
                content_type: str = "application/json") -> bytes:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode("ascii") + body

    async def answer(self) -> tuple[int, bytes]:
        """Status and body of the next answer on this connection."""
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("the webhook answered chunked; this client reads "
                                   "Content-Length only")
        if length is None:
            raise RuntimeError(f"the webhook answered {status} without a Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


async def ack_burst(host: str, port: int,
                    bodies: list[bytes]) -> tuple[list[tuple[float, int, bytes]], float]:
    """POST every body at once, each on its own warm keep-alive connection; each answer with
    the seconds it took from the common start, and that start (``time.perf_counter()``).

    Only the server is in the measured window: the connections are open (and each has
    answered one GET /healthz, so the server holds them too) and every request is built
    before the clock starts; then all requests are written and each ack is timed from that
    start."""
    connections = await asyncio.gather(*(KeepAlive.open(host, port) for _ in bodies))
    try:
        for connection in connections:  # warm: the server has accepted and served each one
            connection.writer.write(connection.request("GET", "/healthz"))
        for connection in connections:
            status, body = await connection.answer()
            if status != 200:
                raise RuntimeError(f"/healthz answered {status}: {body[:200]!r}")
        requests = [connection.request("POST", "/webhook", body)
                    for body, connection in zip(bodies, connections, strict=True)]

        async def ack(connection: KeepAlive) -> tuple[float, int, bytes]:
            status, body = await connection.answer()
            return time.perf_counter() - started, status, body

        started = time.perf_counter()
        for connection, request in zip(connections, requests, strict=True):
            connection.writer.write(request)
        answers = await asyncio.gather(*(ack(c) for c in connections))
        return answers, started
    finally:
        await asyncio.gather(*(c.close() for c in connections))


def ack_summary(answers: list[tuple[float, int, bytes]]) -> dict[str, float]:
    ms = [seconds * 1000 for seconds, _, _ in answers]
    return {"ack_p50_ms": round(sorted(ms)[len(ms) // 2], 3),
            "ack_p99_ms": round(measure.percentile(ms, 99), 3), "ack_max_ms": round(max(ms), 3)}


async def server_floor_burst(count: int) -> dict[str, float]:
    """The same burst against ``server_floor.py``: what uvicorn, uvloop and httptools alone
    cost for ``count`` requests at once on this machine, in this run."""
    async with floor_server() as (port, _):
        await ack_burst("127.0.0.1", port, [alert(["a1"]) for _ in range(count)])  # warm-up
        answers, _ = await ack_burst("127.0.0.1", port, [alert(["a1"]) for _ in range(count)])
        return ack_summary(answers)


async def burst(session: Any, host: str, port: int, count: int, accounts: int,
                wait_executed: bool = True) -> dict[str, Any]:
    """``count`` alerts posted at once (no wait): how long each waits for its 2xx (see
    ``ack_burst``), then (``wait_executed``) how long until every one of them has executed."""
    bodies = [alert([f"a{1 + n % accounts}"]) for n in range(count)]
    answers, started = await ack_burst(host, port, bodies)
    all_acked = max(seconds for seconds, _, _ in answers)
    ids: list[str] = []
    for _, status, body in answers:
        answer = json.loads(body)
        if status != 200:
            raise RuntimeError(f"burst alert answered {status}: {answer}")
        ids.append(answer["alert_id"])
    if not wait_executed:
        return {"alerts": count, **ack_summary(answers),
                "all_acked_ms": round(all_acked * 1000, 1)}
    base = f"http://{host}:{port}"
    pending = set(ids)
    while pending:
        for alert_id in list(pending):
            async with session.get(f"{base}/alerts/{alert_id}") as response:
                record = await response.json()
            if record.get("state") in ("done", "refused"):
                if record["state"] != "done":
                    raise RuntimeError(f"burst alert refused: {record.get('reason')}")
                check_report(record["report"], 1)
                pending.discard(alert_id)
        if pending:
            await asyncio.sleep(0.05)
    drained = time.perf_counter() - started
    return {"alerts": count, **ack_summary(answers), "all_acked_ms": round(all_acked * 1000, 1),
            "all_executed_ms": round(drained * 1000, 1)}
