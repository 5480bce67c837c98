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
    """The real ``alert-router serve`` (both Kraken plugins, 51 spot accounts and a futures
    account against the fakes): spawn until /healthz says ok, and its memory then."""
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
