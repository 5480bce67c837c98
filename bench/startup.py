"""Cold start (a command until it exits; ``serve`` until healthy) and the machine's description."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import measure


def timed_run(argv: list[str], runs: int) -> float:
    """Median wall milliseconds of ``argv`` from spawn to exit."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def commands(runs: int) -> dict[str, float]:
    cli = shutil.which("alert-router") or "alert-router"
    python = sys.executable
    return {
        "python_bare_ms": timed_run([python, "-c", "pass"], runs),
        "alert_router_help_ms": timed_run([cli, "--help"], runs),
        "floor_import_ms": timed_run([python, "-c", "import aiohttp"], runs),
        "ccxt_import_ms": timed_run([python, "-c", "import ccxt.async_support"], runs),
    }


def serve_until_ready(config: Path, env: dict[str, str], port: int, runs: int) -> dict[str, Any]:
    """The real ``alert-router serve`` (both Kraken plugins: one spot and one futures account
    against the fakes): spawn until /healthz says ok, and its memory then."""
    from router_paths import wait_healthy

    cli = shutil.which("alert-router") or "alert-router"
    times, rss = [], []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen([cli, "serve", "--config", str(config)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
            times.append(time.perf_counter() - started)
            rss.append(measure.rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(15)
    return {"serve_ready_ms": round(statistics.median(times) * 1000, 1),
            "serve_rss_ready_mb": statistics.median(rss)}


MEMORY_STEPS = (
    ("bare interpreter", ""),
    ("+ pydantic", "import pydantic"),
    ("+ fastapi, starlette", "import fastapi"),
    ("+ uvicorn", "import uvicorn"),
    ("+ httpx", "import httpx"),
    ("+ router_core (router, journal, config, alert)",
     "import router_core.router, router_core.journal, router_core.config, router_core.alert"),
    ("+ router_core.server", "import router_core.server"),
    ("+ kraken-spot broker", "import router_kraken_spot.broker"),
    ("+ kraken-futures broker", "import router_kraken_futures.broker"),
    ("+ stevedore, pluggy, jsonschema", "import stevedore, pluggy, jsonschema"),
)


def memory_steps() -> list[dict[str, Any]]:
    """RSS after each cumulative import, in one fresh interpreter: what serve's memory is."""
    script = "\n".join([
        "import json, psutil, sys",
        "out = []",
        *(f"{code}\nout.append(({label!r}, psutil.Process().memory_info().rss / 2**20))"
          for label, code in MEMORY_STEPS),
        "print(json.dumps(out))",
    ])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    rows, previous = [], 0.0
    for label, rss in __import__("json").loads(done.stdout):
        rows.append({"step": label, "rss_mb": round(rss, 1),
                     "added_mb": round(rss - previous, 1) if previous else None})
        previous = rss
    return rows


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    versions = {}
    for package in ("httpx", "httpcore", "aiohttp", "ccxt", "uvicorn", "fastapi", "uvloop",
                    "httptools"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
    }
