"""The journal on PostgreSQL against the journal on SQLite, in the same run.

    python bench/journal_backends.py            # about a minute on 2 cores
    python bench/journal_backends.py --quick    # smoke run
    ALERT_ROUTER_TEST_PG_URL=postgresql://... python bench/journal_backends.py   # another server

PostgreSQL is a throw-away cluster started for the run (tests/pg.py, with ``fsync=on`` so its
commits reach the disk as SQLite's do), on the same machine and disk as the SQLite file.

What it measures, per backend, each in rounds that alternate between the backends (this
machine's figures move with the other processes on its 2 cores; read the ratios):

* **journal per order, one at a time**: what the journal costs one order on its own: the
  claim (durable), the leg's intent (durable), its outcome and the alert's final state
  (``Journal.*_async``, as the router calls them); p50 and p99 per order, orders/s;
* **journal per order, 100 in flight**: the same four writes for 100 orders at once, which
  share group commits: orders/s;
* **router, in process, paper venue**: ``Router.accept_async`` (the webhook's ack: parse,
  validate, durable claim) then ``Router.execute`` (intent, paper fill, outcome, report), one
  alert at a time: ack p50/p99 and orders/s; and a burst of 100 ``accept_async`` at once: ack
  p50/p99 (what TradingView waits for).

Writes ``bench/results/journal_backends.json`` (and ``.md``: the table) and prints the table
with PostgreSQL ÷ SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _tests_pg() -> Any:
    """tests/pg.py: the throw-away cluster the tests use."""
    spec = importlib.util.spec_from_file_location("alert_router_tests_pg", ROOT / "tests" / "pg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row() -> dict[str, Any]:
    return dict(alert_id=uuid.uuid4().hex, delivery_key=uuid.uuid4().hex,
                intent_key=uuid.uuid4().hex, fingerprint="f",
                alert={"ticker": "XBTUSD", "action": "buy", "quantity": "0.01"},
                peer="127.0.0.1", source="bench")


async def _journal_order(journal: Any) -> None:
    """The journal's writes for one order with one leg, as the router makes them."""
    from router_core.journal import AlertState

    row = _row()
    await journal.claim_async(**row)
    cid = uuid.uuid4().hex
    await journal.record_intent_async(
        client_order_id=cid, alert_id=row["alert_id"], account="bench", broker="paper",
        symbol="XBTUSD", purpose="open", side="buy", quantity="0.01", notional=None,
        order={"ticker": "XBTUSD", "side": "buy", "quantity": "0.01"})
    await journal.record_outcome_async(cid, {"status": "filled", "filled_quantity": "0.01",
                                             "average_price": "50000"})
    await journal.set_state_async(row["alert_id"], AlertState.DONE, report={"legs": []})


async def _timed(count: int, one: Callable[[], Awaitable[Any]]) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await one()
        times.append(time.perf_counter() - started)
    return times


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def journal_round(target: Any, sequential: int, in_flight: int) -> dict[str, float]:
    from router_core.journal import Journal

    journal = Journal(target)
    try:
        await _timed(10, lambda: _journal_order(journal))  # warm up: connections, prepares
        times = await _timed(sequential, lambda: _journal_order(journal))
        started = time.perf_counter()
        await asyncio.gather(*(_journal_order(journal) for _ in range(in_flight)))
        together = time.perf_counter() - started
    finally:
        journal.close()
    return {"seq_p50_ms": _percentile(times, 0.5) * 1000,
            "seq_p99_ms": _percentile(times, 0.99) * 1000,
            "seq_orders_per_s": len(times) / sum(times),
            "inflight_orders_per_s": in_flight / together}


def _router_config(directory: Path, journal_url: str | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["[router]", f'state_dir = "{directory / "state"}"', 'plugins = ["paper"]', ""]
    if journal_url:
        lines += ["[journal]", f'url = "{journal_url}"', ""]
    lines += ["[accounts.paper]", 'broker = "paper"', "fill_price = 50000", ""]
    path = directory / "router.toml"
    path.write_text("\n".join(lines))
    return path


def _alert(n: int) -> bytes:
    return json.dumps({"ticker": "XBTUSD", "action": "buy" if n % 2 else "sell",
                       "quantity": "0.001", "price": "50000",
                       "id": f"bench-{uuid.uuid4().hex}"}).encode()


async def router_round(config: Path, sequential: int, burst: int) -> dict[str, float]:
    from router_core import make_plugin_manager
    from router_core.router import Router

    router = Router.from_config_file(config, plugins=make_plugin_manager(["paper"]))
    await router.start()
    try:
        for n in range(5):  # warm up
            accepted = await router.accept_async(_alert(n), "application/json")
            await router.execute(accepted.alert_id)
        acks, totals = [], []
        for n in range(sequential):
            started = time.perf_counter()
            accepted = await router.accept_async(_alert(n), "application/json")
            acked = time.perf_counter()
            await router.execute(accepted.alert_id)
            acks.append(acked - started)
            totals.append(time.perf_counter() - started)

        async def one_ack(n: int) -> float:
            started = time.perf_counter()
            await router.accept_async(_alert(n), "application/json")
            return time.perf_counter() - started

        burst_acks = await asyncio.gather(*(one_ack(n) for n in range(burst)))
    finally:
        await router.close()
    return {"ack_p50_ms": _percentile(acks, 0.5) * 1000,
            "ack_p99_ms": _percentile(acks, 0.99) * 1000,
            "orders_per_s": len(totals) / sum(totals),
            "burst_ack_p50_ms": _percentile(list(burst_acks), 0.5) * 1000,
            "burst_ack_p99_ms": _percentile(list(burst_acks), 0.99) * 1000}


def _median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    pg = _tests_pg()
    outside = os.environ.get(pg.ENV_URL)
    cluster = pg.PgCluster(outside) if outside else pg.start_cluster(fsync=True)
    work = Path(tempfile.mkdtemp(prefix="alert-router-bench-"))
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        "sqlite": {"journal": [], "router": []}, "postgresql": {"journal": [], "router": []}}
    try:
        for round_number in range(args.rounds):
            for backend in ("sqlite", "postgresql"):
                tag = f"{backend}-{round_number}"
                if backend == "sqlite":
                    target: Any = work / f"{tag}.sqlite3"
                    router_url = None
                else:
                    target = router_url = cluster.create_database()
                results[backend]["journal"].append(
                    await journal_round(target, args.sequential, args.in_flight))
                if backend == "postgresql":
                    router_url = cluster.create_database()
                results[backend]["router"].append(await router_round(
                    _router_config(work / tag, router_url), args.router_orders, args.burst))
                print(f"round {round_number + 1}/{args.rounds} {backend}: done", flush=True)
    finally:
        if not outside:
            pg.remove_cluster(cluster)
    summary = {backend: {part: _median_of(rounds) for part, rounds in parts.items()}
               for backend, parts in results.items()}
    return {"parameters": vars(args), "median": summary, "rounds": results,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}


ROWS = (
    ("journal", "seq_p50_ms", "journal per order, one at a time: p50 ms"),
    ("journal", "seq_p99_ms", "journal per order, one at a time: p99 ms"),
    ("journal", "seq_orders_per_s", "journal per order, one at a time: orders/s"),
    ("journal", "inflight_orders_per_s", "journal per order, 100 in flight: orders/s"),
    ("router", "ack_p50_ms", "router (paper), one at a time: ack p50 ms"),
    ("router", "ack_p99_ms", "router (paper), one at a time: ack p99 ms"),
    ("router", "orders_per_s", "router (paper), one at a time: orders/s"),
    ("router", "burst_ack_p50_ms", "router, burst of 100 accepts: ack p50 ms"),
    ("router", "burst_ack_p99_ms", "router, burst of 100 accepts: ack p99 ms"),
)


def render(report: dict[str, Any]) -> str:
    median = report["median"]
    lines = ["| measure | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |", "|---|---:|---:|---:|"]
    for part, key, label in ROWS:
        lite, pg = median["sqlite"][part][key], median["postgresql"][part][key]
        lines.append(f"| {label} | {lite:.2f} | {pg:.2f} | {pg / lite:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--router-orders", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.sequential, args.router_orders = 1, 50, 30
    report = asyncio.run(main_async(args))
    out = HERE / "results" / "journal_backends.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    table = render(report)
    out.with_suffix(".md").write_text(
        f"# Journal: PostgreSQL against SQLite (same run)\n\n{table}\n\n"
        f"Medians of {args.rounds} alternating rounds; {report['machine']['cpus']} CPUs, "
        f"Python {report['machine']['python']}. `python bench/journal_backends.py`.\n")
    print(table)
    print(f"(medians of {args.rounds} alternating rounds; all figures in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
