"""What a hanging notifier costs the order path, against no notifier, in the same run.

    python bench/notify_overhead.py            # about half a minute on 2 cores
    python bench/notify_overhead.py --quick    # smoke run

Two routers on the paper venue in one process, each with its own journal:

* **none**: no notify plugin;
* **hanging**: the notify plugin at ``level = "all"`` (every alert makes a message), its one
  URL an apprise ``json://`` notifier on a loopback server that reads each request and never
  answers (``timeout_seconds = 30``): the worker is stuck for the whole run, the queue fills,
  and from then on every message is dropped and counted. That is the worst case for the
  order path: the observer runs for every alert, and the notifier never frees the worker.

Per alert it times ``Router.accept_async`` (the webhook's ack) plus ``Router.execute`` (plan,
paper fill, report, observers), one alert at a time, alternating alert by alert between the
two routers (this machine's figures move with the other processes on its 2 cores; read the
ratio). The durable journal writes dominate that path, so it also times the observer hook
alone (``router_execution_finished`` with a failed report, every implementation) on each
router. Writes ``bench/results/notify_overhead.json`` and prints hanging ÷ none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

CONFIG = """
[router]
state_dir = "{state}"
plugins = ["paper"]

[accounts.paper]
broker = "paper"
fill_price = "100"
{notify}
"""

NOTIFY = """
[plugins.notify]
urls_env = ["BENCH_NOTIFY_URL"]
level = "all"
timeout_seconds = 30
retries = 0
queue_size = 100
drain_seconds = 0
"""


class HangingReceiver:
    """A TCP server that accepts and reads, and never answers: a notifier that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)  # read nothing back, answer nothing

    def close(self) -> None:
        self.stopped.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def build(directory: Path, notify_url: str | None) -> tuple[Any, Any]:
    from router_notify.plugin import NotifyPlugin

    from router_core import Router, make_plugin_manager

    directory.mkdir(parents=True)
    path = directory / "config.toml"
    path.write_text(CONFIG.format(state=directory / "state",
                                  notify=NOTIFY if notify_url else ""))
    notify = NotifyPlugin(environ={"BENCH_NOTIFY_URL": notify_url}) if notify_url else None
    extra = [("notify", notify)] if notify is not None else []
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"], extra=extra))
    await router.start()
    return router, notify


async def one_alert(router: Any, n: int, tag: str) -> float:
    body = json.dumps({"ticker": "BTCUSD", "action": "buy" if n % 2 == 0 else "sell",
                       "quantity": "0.01", "price": "100", "id": f"{tag}-{n}"}).encode()
    start = time.perf_counter()
    acceptance = await router.accept_async(body, "application/json")
    report = await router.execute(acceptance.alert_id)
    elapsed = time.perf_counter() - start
    assert report.ok, report.to_dict()
    return elapsed


async def observer_cost(router: Any, calls: int) -> list[float]:
    """The observer hook alone (``router_execution_finished``, every implementation), as
    ``Router.execute`` calls it at the end of each alert, with a failed report."""
    from router_core import ExecutionReport, LegPurpose, LegReport, OrderResult, OrderStatus

    result = OrderResult(OrderStatus.REJECTED, "cid", reason="bench: rejected")
    report = ExecutionReport("bench-alert", "bench", (LegReport(
        "paper", "paper", LegPurpose.OPEN, result, symbol="BTC/USD"),))
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await router.plugins.calls.execution_finished(report)
        times.append(time.perf_counter() - start)
    return times


async def run(rounds: int, per_round: int, warmup: int,
              observer_calls: int) -> dict[str, Any]:
    receiver = HangingReceiver()
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        routers = {
            "none": await build(Path(tmp) / "none", None),
            "hanging": await build(Path(tmp) / "hanging",
                                   f"json://127.0.0.1:{receiver.port}/hook"),
        }
        times: dict[str, list[float]] = {name: [] for name in routers}
        for name, (router, _) in routers.items():
            for n in range(warmup):
                await one_alert(router, n, f"warm-{name}")
        count = 0
        for round_ in range(rounds):
            # alert by alert, alternating, the first router swapped each round: drift of the
            # machine falls on both alike
            order = list(routers) if round_ % 2 == 0 else list(reversed(routers))
            for _ in range(per_round):
                for name in order:
                    router, _ = routers[name]
                    times[name].append(await one_alert(router, count, name))
                    count += 1
        notify = routers["hanging"][1]
        service = notify.service
        stuck = {"queued": service.queue.qsize(), "dropped": service.dropped,
                 "sent": service.sent}
        observer = {name: await observer_cost(router, observer_calls)
                    for name, (router, _) in routers.items()}
        for router, _ in routers.values():
            await router.close()
    receiver.close()
    figures: dict[str, Any] = {}
    for name, values in times.items():
        figures[name] = {"alerts": len(values),
                         "p50_ms": statistics.median(values) * 1000,
                         "p99_ms": percentile(values, 0.99) * 1000,
                         "mean_ms": statistics.fmean(values) * 1000}
    figures["ratio_hanging_over_none"] = {
        key: figures["hanging"][key] / figures["none"][key]
        for key in ("p50_ms", "p99_ms", "mean_ms")}
    figures["hanging_notifier"] = stuck
    figures["observer_call_us"] = {
        name: {"calls": len(values), "p50_us": statistics.median(values) * 1e6,
               "p99_us": percentile(values, 0.99) * 1e6}
        for name, values in observer.items()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few alerts")
    args = parser.parse_args()
    rounds, per_round, warmup, calls = (4, 25, 10, 2000) if args.quick else (10, 60, 30, 20000)
    figures = asyncio.run(run(rounds, per_round, warmup, calls))
    figures["parameters"] = {"rounds": rounds, "alerts_per_round_per_router": per_round,
                             "warmup": warmup, "observer_calls": calls}
    out = HERE / "results" / "notify_overhead.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    ratio = figures["ratio_hanging_over_none"]
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name in ("none", "hanging"):
        f = figures[name]
        print(f"{name:10} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} {f['mean_ms']:8.2f}")
    print(f"{'ratio':10} {ratio['p50_ms']:8.2f} {ratio['p99_ms']:8.2f} {ratio['mean_ms']:8.2f}"
          "   (hanging / none)")
    for name, f in figures["observer_call_us"].items():
        print(f"observer hook alone, {name}: p50 {f['p50_us']:.1f} us, p99 {f['p99_us']:.1f} us")
    stuck = figures["hanging_notifier"]
    print(f"hanging notifier: {stuck['sent']} sent, {stuck['queued']} queued, "
          f"{stuck['dropped']} dropped")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
