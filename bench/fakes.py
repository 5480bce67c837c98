"""The loopback fakes the benchmark runs against, each in its own process on a free port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router_kraken_spot.fake_data import FAKE_API_KEY, FAKE_API_SECRET, extra_key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, process: subprocess.Popen | None = None) -> float:
    """Seconds until ``url`` answers at all (any HTTP status)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return time.perf_counter() - started
        except urllib.error.HTTPError:
            return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def key(number: int) -> tuple[str, str]:
    """Key 0 is the fake's default key; 1..N its extra keys (one per benchmark account)."""
    return (FAKE_API_KEY, FAKE_API_SECRET) if number == 0 else extra_key(number)


@dataclass
class FakeProcess:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, action: str, **args: Any) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_fake/{action}", data=json.dumps(args).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_kraken_spot(extra_keys: int, latency_ms: float = 0.0) -> FakeProcess:
    """The Kraken spot fake with its rate counters off (they would throttle every client to
    Kraken's real budget, about one order a second) and ``extra_keys`` more keys; with
    ``latency_ms``, every answer held back that long (``latent_fake.py``, realistic mode)."""
    port = free_port()
    if latency_ms:
        argv = [sys.executable, str(Path(__file__).resolve().parent / "latent_fake.py"),
                "--port", str(port), "--latency-ms", str(latency_ms)]
    else:
        argv = [sys.executable, "-m", "router_kraken_spot.fake", "--port", str(port),
                "--no-rate-limits"]
    process = subprocess.Popen([*argv, "--extra-keys", str(extra_keys)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fake = FakeProcess(process, port)
    wait_http(f"{fake.url}/0/public/Time", process=process)
    # Resting limit buys hold quote currency: enough for every order of a full run.
    fake.control("set_balance", asset="ZUSD", amount="1000000000")
    return fake


def start_kraken_futures() -> FakeProcess:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "router_kraken_futures.fake", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake = FakeProcess(process, port)
    wait_http(f"{fake.url}/", process=process)
    return fake
