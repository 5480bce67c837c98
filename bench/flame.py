"""Flame graphs of the router under load (py-spy), and a reading of where the samples go.

    pip install py-spy
    python bench/flame.py                  # both graphs into bench/profiles/ (~2 minutes)
    python bench/flame.py --out /tmp/p     # somewhere else (a before/after pair)
    python bench/flame.py --read bench/profiles/in_process.svg   # only the reading

* ``in_process.svg``: the in-process worker (``run.py --worker router``:
  ``Router.accept_and_execute``, one order after another, then N accounts in flight, then
  the fan-out), sampled from its start to its end by ``py-spy record``.
* ``burst.svg``: ``serve`` over 15 bursts of 100 acks, each followed by the execution of its
  alerts (``--burst-only`` records just this one).
* ``webhook.svg``: ``alert-router serve`` (``serve_unthrottled.py``) sampled while it takes
  ``?wait=true`` orders with N accounts in flight and then bursts of 100 acks.

py-spy samples the CPU (idle threads are left out), so a frame's share of the samples is its
share of the process's CPU. ``reading`` turns a graph into the figures bench/profiles/README.md
quotes: samples per package (own time, the leaf frames) and the inclusive share of the
functions the reading names.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PARAMS: dict[str, Any] = {"sequential": 400, "warmup": 20, "keys": 10, "in_flight_orders": 800,
                          "fan_out": [10], "fan_out_rounds": 20}
RATE = 400  # samples per second: enough for a few thousand samples per graph

FRAME = re.compile(r'<title>(?P<title>[^<]*)</title><rect [^>]*y="(?P<y>\d+)"[^>]*'
                   r'fg:x="(?P<x>\d+)" fg:w="(?P<w>\d+)"')
NAME = re.compile(r"^(?P<function>.*?) \((?P<where>.*?)(?::\d+)?\) \(\d[\d,]* samples")

# What the reading names: (label, a regular expression on "function (file)").
FUNCTIONS = [
    ("start-up imports (not per order)", r"_find_and_load \("),
    ("Router.accept_async (parse, validate, durable claim)", r"^Router\.accept_async "),
    ("Router.execute (plan, intent, venue, outcome, report)", r"^Router\.execute "),
    ("planning (AccountPlanner.plan)", r"^AccountPlanner\.plan "),
    ("venue call (router_submit_order hook)", r"^HookCaller\.submit_order "),
    ("journal commit (COMMIT + fsync, helper thread)", r"_commit_and_unlock"),
    ("journal writes (claim, intent, outcome, state)", r"router_core/journal"),
    ("pydantic validation / model build", r"pydantic|validate_python|model_validate"),
    ("logging", r"logging/"),
    ("the webhook's own path (fast path: handler, accept, answer)", r"^WebhookFastPath"),
    # RouterMetrics.timed_submit wraps the venue call: only prometheus-client's own frames.
    ("metrics (prometheus-client)", r"prometheus_client"),
    ("pluggy hook calls", r"pluggy/"),
    ("httpx", r"httpx/"),
    ("aiohttp", r"aiohttp/"),
    ("asyncio event loop", r"asyncio/"),
    ("json", r"json/|orjson"),
    ("signing (hmac/hashlib)", r"hmac|hashlib|signing\.py"),
    ("webhook handler (router_core.webhook)", r"router_core/webhook"),
    ("starlette / fastapi", r"starlette/|fastapi/"),
    ("uvicorn", r"uvicorn/"),
]


def package(where: str) -> str:
    """The package a frame's file belongs to (site-packages name, or the project's)."""
    where = where.replace("\\", "/")
    for marker in ("router_core/", "router_kraken_spot/", "router_kraken_futures/"):
        if marker in where:
            return marker.rstrip("/")
    if where.startswith("<"):
        return "interpreter"
    top = where.split("/")[0]
    return top.removesuffix(".py") or where


def reading(svg: Path) -> dict[str, Any]:
    """Samples per package (own time) and the inclusive share of FUNCTIONS, from a py-spy SVG."""
    frames = []
    for match in FRAME.finditer(svg.read_text()):
        title = html.unescape(match["title"])
        found = NAME.match(title)
        function, where = (found["function"], found["where"]) if found else (title, "")
        frames.append((int(match["y"]), int(match["x"]), int(match["w"]), function, where))
    if not frames:
        raise SystemExit(f"{svg}: no frames")
    # py-spy draws an icicle: the root ("all") on top, each callee one row (16 px) below.
    total = max(w for _, _, w, _, _ in frames)
    frames = [f for f in frames if f[2] < total or f[0] != min(g[0] for g in frames)]
    by_depth: dict[int, list[tuple[int, int]]] = {}
    for y, x, w, _, _ in frames:
        by_depth.setdefault(y, []).append((x, w))
    own: dict[str, int] = {}
    own_function: dict[str, int] = {}
    for y, x, w, function, where in frames:
        children = sum(cw for cx, cw in by_depth.get(y + 16, [])
                       if x <= cx and cx + cw <= x + w)
        name = package(where) if where else function
        own[name] = own.get(name, 0) + w - children
        line = f"{function} ({where})"
        own_function[line] = own_function.get(line, 0) + w - children
    inclusive: dict[str, float] = {}
    for label, pattern in FUNCTIONS:
        regex = re.compile(pattern)
        spans = sorted((x, x + w) for _, x, w, function, where in frames
                       if regex.search(f"{function} ({where})"))
        covered, end = 0, -1
        for start, stop in spans:  # union of intervals: recursion counted once
            if stop > end:
                covered += stop - max(start, end)
                end = stop
        inclusive[label] = round(100 * covered / total, 1)
    return {"samples": total,
            "own_by_package_pct": {k: round(100 * v / total, 1)
                                   for k, v in sorted(own.items(), key=lambda kv: -kv[1])
                                   if 100 * v / total >= 0.5},
            "own_by_line_pct": {k: round(100 * v / total, 1)
                                for k, v in sorted(own_function.items(),
                                                   key=lambda kv: -kv[1])[:25]},
            "inclusive_pct": dict(sorted(inclusive.items(), key=lambda kv: -kv[1]))}


def spy(target: list[str], out: Path) -> subprocess.Popen:
    return subprocess.Popen(["py-spy", "record", "--rate", str(RATE), "--nonblocking",
                             "-o", str(out), *target],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def in_process(out: Path, urls: dict[str, str], work: Path) -> None:
    argv = ["--", sys.executable, str(HERE / "run.py"), "--worker", "router",
            "--params", json.dumps(PARAMS), "--urls", json.dumps({**urls, "workdir": str(work)})]
    done = spy(argv, out)
    _, err = done.communicate()
    if done.returncode != 0:
        raise RuntimeError(f"py-spy on the in-process worker failed: {err.decode()[-2000:]}")


async def webhook(out: Path, urls: dict[str, str], work: Path, bursts: int) -> None:
    import aiohttp
    import fakes
    import measure
    import router_paths

    port = fakes.free_port()
    config = router_paths.write_config(work, urls["spot"], PARAMS["keys"],
                                       futures_url=urls["futures"], port=port)
    env = {**os.environ, **router_paths.environment(PARAMS["keys"])}
    process = subprocess.Popen([sys.executable, str(HERE / "serve_unthrottled.py"), "serve",
                                "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(router_paths.wait_healthy, base, process)
        recorder = spy(["--pid", str(process.pid)], out)
        await asyncio.sleep(1.0)  # py-spy attached
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            many = [router_paths.waiting_sender(session, base, [f"a{n}"], check=False)
                    for n in range(1, PARAMS["keys"] + 1)]
            await measure.in_flight(many, PARAMS["in_flight_orders"])
            for _ in range(bursts):
                await router_paths.burst(session, "127.0.0.1", port, 100, PARAMS["keys"])
        recorder.send_signal(signal.SIGINT)
        _, err = await asyncio.to_thread(recorder.communicate)
        if not out.exists():
            raise RuntimeError(f"py-spy on serve wrote nothing: {err.decode()[-2000:]}")
    finally:
        process.terminate()
        process.wait(15)


async def burst_window(out: Path, urls: dict[str, str], work: Path, bursts: int) -> list[float]:
    """``serve`` sampled over ``bursts`` bursts of 100 acks (``router_paths.ack_burst``: warm
    keep-alive connections, each first answers GET /healthz), each followed by a pause in which
    its alerts execute; the ack p99 of each burst."""
    import fakes
    import router_paths

    port = fakes.free_port()
    config = router_paths.write_config(work, urls["spot"], PARAMS["keys"],
                                       futures_url=urls["futures"], port=port)
    env = {**os.environ, **router_paths.environment(PARAMS["keys"])}
    process = subprocess.Popen([sys.executable, str(HERE / "serve_unthrottled.py"), "serve",
                                "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def bodies() -> list[bytes]:
        return [router_paths.alert([f"a{1 + n % PARAMS['keys']}"]) for n in range(100)]
    try:
        await asyncio.to_thread(router_paths.wait_healthy, f"http://127.0.0.1:{port}", process)
        for _ in range(3):  # warm: every account's connection to the fake open
            await router_paths.ack_burst("127.0.0.1", port, bodies())
            await asyncio.sleep(0.5)
        recorder = spy(["--pid", str(process.pid)], out)
        await asyncio.sleep(1.0)
        p99s = []
        for _ in range(bursts):
            answers, _ = await router_paths.ack_burst("127.0.0.1", port, bodies())
            p99s.append(router_paths.ack_summary(answers)["ack_p99_ms"])
            await asyncio.sleep(0.6)
        recorder.send_signal(signal.SIGINT)
        await asyncio.to_thread(recorder.communicate)
        return sorted(p99s)
    finally:
        process.terminate()
        process.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=HERE / "profiles")
    parser.add_argument("--read", type=Path, nargs="*", help="only print the reading of SVGs")
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--burst-only", action="store_true",
                        help="only burst.svg: serve over 15 bursts of 100 acks")
    args = parser.parse_args()
    if args.read:
        for svg in args.read:
            print(svg, json.dumps(reading(svg), indent=1))
        return
    import tempfile

    import fakes
    from serve_unthrottled import lift_kraken_spot_budgets

    lift_kraken_spot_budgets()
    args.out.mkdir(parents=True, exist_ok=True)
    spot = fakes.start_kraken_spot(PARAMS["keys"])
    futures = fakes.start_kraken_futures()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-", dir=HERE / "results") as tmp:
            urls = {"spot": spot.url, "futures": futures.url}
            started = time.perf_counter()
            p99s = asyncio.run(burst_window(args.out / "burst.svg", urls, Path(tmp) / "b", 15))
            print(f"burst graph in {time.perf_counter() - started:.0f} s; ack p99 per burst "
                  f"{p99s}", file=sys.stderr)
            if args.burst_only:
                print(json.dumps(reading(args.out / "burst.svg"), indent=1))
                return
            started = time.perf_counter()
            in_process(args.out / "in_process.svg", urls, Path(tmp) / "i")
            print(f"in-process graph in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            started = time.perf_counter()
            asyncio.run(webhook(args.out / "webhook.svg", urls, Path(tmp) / "w", args.bursts))
            print(f"webhook graph in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        spot.stop()
        futures.stop()
    readings = {svg.stem: reading(svg) for svg in (args.out / "in_process.svg",
                                                   args.out / "webhook.svg",
                                                   args.out / "burst.svg")}
    (args.out / "reading.json").write_text(json.dumps(readings, indent=1) + "\n")
    print(json.dumps(readings, indent=1))


if __name__ == "__main__":
    main()
