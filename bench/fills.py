"""Real-time fills: from the venue's fill to the journal, and what open streams cost.

    python bench/fills.py            # about 20 s on 2 cores
    python bench/fills.py --quick    # smoke run

Everything runs in one process on loopback: the Kraken spot fakes (REST in-process, the
WebSocket ``executions`` fake on a 127.0.0.1 port), the kraken-spot broker's stream, the core's
``FillStreams`` and a SQLite journal in a temporary directory. What it measures:

* **fill -> journal**: from the fake executing a resting order (``FakeVenue.fill``) until the
  fill is committed in the journal, its leg updated, and the waiter woken (a ``FillEvents``
  listener), one fill at a time: p50 and p99;
* **CPU per fill**: process CPU time over a batch of fills through the stream (the fake's side
  included: one process), against the baseline in the same run: the same fills written
  straight into the journal (``Journal.record_fill_async``, no WebSocket) — the ratio is what
  the stream adds;
* **memory of 50 open streams**: the process's resident memory and Python's traced allocations
  before and after 50 accounts' streams subscribe (each its own API key, connection and token;
  the fake's side of each connection is in the same process and counted too).

Writes ``bench/results/fills.json`` and prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _setup(tmp: Path, accounts: int) -> dict[str, Any]:
    from router_kraken_spot.fake import FakeKraken
    from router_kraken_spot.fake.stream import FakeKrakenStream
    from router_kraken_spot.fake_data import extra_key
    from router_kraken_spot.testing import make_broker, make_context

    from router_core.fills import FillEvents, FillStreams
    from router_core.journal import Journal

    keys = [extra_key(number) for number in range(accounts)]  # one API key per account
    rest = FakeKraken(tier="pro", extra_keys=dict(keys))
    stream = FakeKrakenStream(rest, heartbeat_seconds=1.0)
    url = await stream.start()
    journal = Journal(tmp / "journal.sqlite3")
    events = FillEvents()
    brokers = {}
    for number in range(accounts):
        name = f"k{number}"
        key, secret = keys[number]
        context = make_context(tmp / name, rest, account=name,
                               environ={"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret})
        broker = make_broker(context, ws_url=url, tier="pro")
        await broker.start()
        brokers[name] = broker
    streams = FillStreams(journal, events)
    return {"rest": rest, "stream": stream, "journal": journal, "events": events,
            "streams": streams, "brokers": brokers}


async def _until(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting")
        await asyncio.sleep(0.001)


def _resting(rest: Any) -> str:
    answer = rest._ep_AddOrder({"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit",
                                "price": "20000", "volume": "0.0001",
                                "cl_ord_id": uuid.uuid4().hex[:18]})
    return str(answer["txid"][0])


async def fill_latency_and_cpu(fills: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = await _setup(Path(tmp), 1)
        rest, events, streams = env["rest"], env["events"], env["streams"]
        done: list[float] = []
        events.listeners.append(lambda *_: done.append(time.perf_counter()))
        streams.start(env["brokers"], {})
        await _until(lambda: events.streaming("k0"))
        latencies = []
        cpu_start = time.process_time()
        for _ in range(fills):
            txid = _resting(rest)
            before = len(done)
            started = time.perf_counter()
            rest.fill(txid)
            await _until(lambda before=before: len(done) > before)
            latencies.append((done[-1] - started) * 1000)
        cpu_stream = (time.process_time() - cpu_start) / fills
        await streams.close()
        # the baseline: the same fills written straight into the journal
        from router_core.models import Fill, Side

        journal = env["journal"]
        cpu_start = time.process_time()
        for number in range(fills):
            await journal.record_fill_async("base", Fill(
                trade_id=f"B{number}", venue_order_id="O", client_order_id="", symbol="S",
                side=Side.BUY, quantity=Decimal("0.0001"), price=Decimal(20000)), "rest")
        cpu_journal = (time.process_time() - cpu_start) / fills
        for broker in env["brokers"].values():
            await broker.close()
        await env["stream"].stop()
        journal.close()
    return {"fills": fills, "fill_to_journal_ms_p50": round(statistics.median(latencies), 3),
            "fill_to_journal_ms_p99": round(_percentile(latencies, 0.99), 3),
            "cpu_ms_per_fill_stream": round(cpu_stream * 1000, 3),
            "cpu_ms_per_fill_journal_only": round(cpu_journal * 1000, 3),
            "cpu_ratio_stream_over_journal_only": round(cpu_stream / cpu_journal, 2)}


async def memory_of_streams(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = await _setup(Path(tmp), count)
        tracemalloc.start()
        rss_before, traced_before = _rss_kib(), tracemalloc.get_traced_memory()[0]
        env["streams"].start(env["brokers"], {})
        await _until(lambda: env["stream"].subscribed == count)
        await asyncio.sleep(1.5)  # a heartbeat or so on every connection
        rss_after, traced_after = _rss_kib(), tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        await env["streams"].close()
        for broker in env["brokers"].values():
            await broker.close()
        await env["stream"].stop()
        env["journal"].close()
    return {"streams": count, "rss_kib_added": rss_after - rss_before,
            "traced_kib_added": (traced_after - traced_before) // 1024,
            "traced_kib_per_stream": round((traced_after - traced_before) / 1024 / count, 1)}


async def main(quick: bool) -> dict[str, Any]:
    result = {"latency_and_cpu": await fill_latency_and_cpu(30 if quick else 300),
              "memory": await memory_of_streams(5 if quick else 50)}
    result["python"] = sys.version.split()[0]
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    figures = asyncio.run(main(args.quick))
    print(json.dumps(figures, indent=2))
    if not args.quick:
        (HERE / "results" / "fills.json").write_text(json.dumps(figures, indent=2) + "\n")
