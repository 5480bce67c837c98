"""alert-router benchmarks: the router against a hand-signed floor and ccxt, in one run.

    python bench/run.py            # full run (a few minutes)
    python bench/run.py --quick    # smoke run (~30 s)

Starts the Kraken spot fake (and the Kraken Futures fake, so ``serve`` loads both plugins) in
their own processes, runs every client in its own process against the same fakes, and writes
bench/results/latest.md and latest.json. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FULL = {"sequential": 400, "warmup": 30, "keys": 50, "in_flight_orders": 1500,
        "fan_out": [1, 5, 20, 50], "fan_out_rounds": 20, "burst": 100, "runs": 5,
        "experiment_rounds": 2, "observability_rounds": 16, "latency_ms": 150.0,
        "realistic_rounds": 10}
# Smoke run: 10 accounts instead of 50 (each Kraken spot account loads its own AssetPairs at
# start, so 51 accounts take seconds to start in each of the router's processes).
QUICK = {"sequential": 60, "warmup": 10, "keys": 10, "in_flight_orders": 200,
         "fan_out": [1, 5, 10], "fan_out_rounds": 6, "burst": 100, "runs": 2,
         "experiment_rounds": 1, "observability_rounds": 8, "latency_ms": 150.0,
         "realistic_rounds": 5}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure median over several runs of one worker (nested dicts of numbers)."""
    import statistics

    first = runs[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict):
            out[key] = median_of([r[key] for r in runs])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = round(statistics.median(r[key] for r in runs), 3)
        else:
            out[key] = value
    out["rounds"] = len(runs)
    return out


def run_worker(name: str, params: dict[str, Any], **urls: str) -> dict[str, Any]:
    """One scenario in a fresh process; its JSON answer."""
    argv = [sys.executable, str(HERE / "run.py"), "--worker", name,
            "--params", json.dumps(params), "--urls", json.dumps(urls)]
    print(f"  {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{done.stderr[-3000:]}")
    print(f"  {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr,
          flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


async def worker(name: str, params: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    import clients
    import router_paths

    spot = urls["spot"]
    if name == "floor":
        return await clients.floor_worker(spot, "aiohttp", params)
    if name == "httpx-httpcore":
        return await clients.floor_worker(spot, "httpcore", params)
    if name == "httpx-router-transport":
        return await clients.floor_worker(spot, "router-transport", params)
    if name == "venue-http":
        return await clients.floor_worker(spot, "venue-http", params)
    if name == "ccxt":
        return await clients.ccxt_worker(spot, params)
    if name == "router":
        return await router_paths.router_worker(spot, urls["workdir"], params)
    if name == "profile":
        return await router_paths.profile_worker(spot, urls["workdir"], params)
    if name == "experiment":
        return await router_paths.experiment_worker(spot, urls["workdir"], params)
    if name == "realistic":
        return await router_paths.realistic_worker(spot, urls["workdir"], params)
    if name == "realistic-reference":
        return await clients.realistic_reference_worker(spot, params)
    if name == "webhook":
        return await router_paths.webhook_worker(spot, urls["futures"], urls["workdir"], params)
    if name == "webhook-floor":
        return await router_paths.webhook_floor_worker(spot, params)
    if name == "webhook-experiment":
        return await router_paths.webhook_experiment_worker(spot, urls["futures"],
                                                            urls["workdir"], params)
    if name == "observability":
        import observability

        return await observability.observability_worker(spot, urls["futures"], urls["workdir"],
                                                        params)
    raise SystemExit(f"unknown worker {name}")


def observability_rounds(params: dict[str, Any], work: Path,
                         urls: dict[str, str]) -> dict[str, Any]:
    """The webhook with /metrics and the dashboard on and off, measured in turns in one
    worker (bench/observability.py), and the metrics' own work per order."""
    import observability

    result = run_worker("observability", params, workdir=str(work / "o"), **urls)
    return {**result, "ratios": observability.compare(result),
            "round_ratios": observability.compare_rounds(result),
            "hot_path": observability.hot_path_cost()}


def realistic(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One order and the widest fan-out against a fake that answers after ``latency_ms``
    (bench/latent_fake.py), as the real Kraken does: its own fake process, for this only."""
    import fakes

    slow = fakes.start_kraken_spot(params["keys"], latency_ms=params["latency_ms"])
    try:
        # the references first: the router's nonces (the millisecond, or past it) follow theirs
        reference = run_worker("realistic-reference", params, spot=slow.url)
        return {**run_worker("realistic", params, workdir=str(work / "l"), spot=slow.url),
                "reference": reference}
    finally:
        slow.stop()


def alternating_rounds(worker_name: str, names: list[str], params: dict[str, Any], work: Path,
                       urls: dict[str, str]) -> dict[str, Any]:
    """Each variant in ``names`` run by ``worker_name`` once per round, in a fresh process and
    journal; rounds alternate the order of the variants, and each figure is the median over
    rounds, so a burst of load on the machine does not land on one variant."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_number in range(params["experiment_rounds"]):
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(run_worker(
                worker_name, {**params, "experiment": name},
                workdir=str(work / f"{worker_name}-{round_number}-{names.index(name)}"),
                **urls))
    return {name: median_of(rs) for name, rs in runs.items()}


def orchestrate(params: dict[str, Any], out_dir: Path, transports: bool,
                experiments: bool) -> dict[str, Any]:
    import fakes
    import report
    import router_paths
    import startup

    results: dict[str, Any] = {"machine": startup.machine(), "params": params,
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print("starting the fakes ...", file=sys.stderr, flush=True)
    spot = fakes.start_kraken_spot(params["keys"])
    futures = fakes.start_kraken_futures()
    # The journal goes on the project's own disk: /tmp can be a RAM disk, where fsync is free.
    with tempfile.TemporaryDirectory(prefix="bench-", dir=HERE / "results") as tmp:
        work = Path(tmp)
        try:
            urls = {"spot": spot.url, "futures": futures.url}
            scenarios = ["floor", "ccxt"] + (
                ["venue-http", "httpx-router-transport", "httpx-httpcore"] if transports else [])
            for name in scenarios:
                results[name] = run_worker(name, params, **urls)
            # before the router's workers: the forwarding floor's nonces are the millisecond's
            results["webhook_floor"] = run_worker("webhook-floor", params, **urls)
            results["router"] = run_worker("router", params, workdir=str(work / "r"), **urls)
            results["profile"] = run_worker("profile", params, workdir=str(work / "p"), **urls)
            results["webhook"] = run_worker("webhook", params, workdir=str(work / "w"), **urls)
            if params.get("observability_rounds"):
                results["observability"] = observability_rounds(params, work, urls)
            if params.get("latency_ms"):
                results["realistic"] = realistic(params, work)
            if experiments:
                small = {**params, "sequential": params["sequential"] // 2,
                         "in_flight_orders": params["in_flight_orders"] // 2,
                         "fan_out_rounds": max(3, params["fan_out_rounds"] // 2)}
                results["experiments"] = alternating_rounds(
                    "experiment", list(router_paths.EXPERIMENTS), small, work, urls)
                results["webhook_experiments"] = alternating_rounds(
                    "webhook-experiment", router_paths.WEBHOOK_EXPERIMENTS, params, work, urls)
            print("  cold start ...", file=sys.stderr, flush=True)
            results["startup"] = startup.commands(params["runs"])
            port = fakes.free_port()
            config = router_paths.write_config(work / "s", spot.url, 0,
                                               futures_url=futures.url, port=port)
            env = {**os.environ, **router_paths.environment(params["keys"])}
            results["startup"].update(
                startup.serve_until_ready(config, env, port, min(3, params["runs"])))
            results["startup"]["memory_steps"] = startup.memory_steps()
        finally:
            spot.stop()
            futures.stop()
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    profile_text = results["profile"].pop("cprofile", "")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.txt").write_text(profile_text)
    results["summary"] = report.summarise(results)
    (out_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "latest.md").write_text(report.markdown(results))
    return results


def observability_only(params: dict[str, Any], out_dir: Path) -> None:
    """The on/off comparison alone, against fresh fakes (bench/observability.py)."""
    import fakes
    import report
    import startup

    results: dict[str, Any] = {"machine": startup.machine(), "params": params,
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    spot = fakes.start_kraken_spot(params["keys"])
    futures = fakes.start_kraken_futures()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-", dir=HERE / "results") as tmp:
            urls = {"spot": spot.url, "futures": futures.url}
            results["observability"] = observability_rounds(params, Path(tmp), urls)
    finally:
        spot.stop()
        futures.stop()
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "observability.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report.observability_markdown(results)
    (out_dir / "observability.md").write_text(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, about 30 s")
    parser.add_argument("--no-transports", action="store_true",
                        help="skip the HTTP path comparison (three more clients)")
    parser.add_argument("--no-experiments", action="store_true",
                        help="skip the what-would-a-change-buy experiments on the router")
    parser.add_argument("--sequential", type=int, help="orders per sequential scenario")
    parser.add_argument("--in-flight-orders", type=int, help="orders with 50 in flight")
    parser.add_argument("--fan-out-rounds", type=int, help="alerts per fan-out width")
    parser.add_argument("--observability-rounds", type=int,
                        help="rounds of the /metrics and dashboard on-vs-off comparison")
    parser.add_argument("--no-observability", action="store_true",
                        help="skip the webhook with /metrics and the dashboard on vs off")
    parser.add_argument("--observability-only", action="store_true",
                        help="only the webhook with /metrics and the dashboard on vs off; "
                             "writes observability.md and observability.json")
    parser.add_argument("--latency-ms", type=float,
                        help="realistic mode: the fake holds each answer back this long "
                             "(default 150, as the real Kraken; 0 skips the mode)")
    parser.add_argument("--realistic-only", action="store_true",
                        help="only the realistic-latency mode; writes realistic.json")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = asyncio.run(worker(args.worker, json.loads(args.params), json.loads(args.urls)))
        print(json.dumps(result))
        return
    params = dict(QUICK if args.quick else FULL)
    for name in ("sequential", "in_flight_orders", "fan_out_rounds", "observability_rounds",
                 "latency_ms"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    params["mode"] = "quick" if args.quick else "full"
    if args.no_observability:
        params["observability_rounds"] = 0
    started = time.perf_counter()
    if args.realistic_only:
        with tempfile.TemporaryDirectory(prefix="bench-", dir=HERE / "results") as tmp:
            found = realistic(params, Path(tmp))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "realistic.json").write_text(json.dumps(found, indent=2) + "\n")
        print(json.dumps(found, indent=2))
        return
    if args.observability_only:
        observability_only(params, args.out)
        print(f"benchmark took {time.perf_counter() - started:.0f} s; results in {args.out}",
              file=sys.stderr)
        return
    results = orchestrate(params, args.out, transports=not args.no_transports,
                          experiments=not args.no_experiments)
    print((args.out / "latest.md").read_text())
    print(f"benchmark took {time.perf_counter() - started:.0f} s; results in {args.out}",
          file=sys.stderr)
    del results


if __name__ == "__main__":
    main()
