"""SIGKILL the real server mid-order, restart it, and find exactly one order at the venue.

The kill comes from a test-only plugin installed the way any plugin is: a distribution (a
dist-info with an entry point) on PYTHONPATH, enabled in the config's ``[router] plugins``. Its
``router_submit_order`` runs after the leg's intent is committed and kills the process once,
either before the order reaches the paper venue or right after the venue recorded it but
before the router journaled the outcome.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

pytestmark = pytest.mark.slow

PASSPHRASE = "kill-test-passphrase"

CRASH_PLUGIN = '''
"""Test-only: SIGKILL this process once, at the point ALERT_ROUTER_TEST_CRASH names."""

import os
import signal

from router_core import hookimpl


def _first_time():
    marker = os.environ["ALERT_ROUTER_TEST_CRASH_MARKER"]
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


@hookimpl(tryfirst=True)
async def router_submit_order(broker, order, context):
    point = os.environ.get("ALERT_ROUTER_TEST_CRASH")
    if point == "intent" and _first_time():
        os.kill(os.getpid(), signal.SIGKILL)  # intent committed, nothing sent
    if point == "sent" and _first_time():
        await broker.submit_order(order)  # the venue has it; the journal does not know
        os.kill(os.getpid(), signal.SIGKILL)
    return None
'''

CONFIG = """
[router]
state_dir = "state"
plugins = ["paper", "crash"]
reconcile_attempts = 2
reconcile_window_seconds = 0.4
[server]
passphrase_env = "KILL_TEST_PASSPHRASE"
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _install_crash_plugin(root: Path) -> Path:
    site = root / "site"
    info = site / "alert_router_test_crash-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: alert-router-test-crash\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[router_core.plugins]\ncrash = crash_plugin\n")
    (site / "crash_plugin.py").write_text(textwrap.dedent(CRASH_PLUGIN))
    return site


class Server:
    def __init__(self, root: Path, site: Path, port: int, crash_point: str) -> None:
        self.root = root
        self.port = port
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
            "KILL_TEST_PASSPHRASE": PASSPHRASE,
            "ALERT_ROUTER_TEST_CRASH": crash_point,
            "ALERT_ROUTER_TEST_CRASH_MARKER": str(root / "crashed"),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        out = self.root / f"stdout-{self.runs}.txt"
        err = self.root / f"stderr-{self.runs}.txt"
        self.out = out
        self.err = err
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from router_core.cli import main; "
             "sys.exit(main())", "serve", "--config", str(self.root / "router.toml"),
             "--port", str(self.port)],
            cwd=self.root, env=self.env, stdout=out.open("wb"), stderr=err.open("wb"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "listening on" in out.read_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"server did not start:\n{err.read_text()}")

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.mark.parametrize("crash_point", ["intent", "sent"])
def test_sigkill_mid_order_then_restart_places_exactly_one_order(
    tmp_path: Path, crash_point: str
) -> None:
    site = _install_crash_plugin(tmp_path)
    (tmp_path / "router.toml").write_text(CONFIG)
    server = Server(tmp_path, site, _free_port(), crash_point)
    server.start()
    body = json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": "kill-1",
                       "passphrase": PASSPHRASE}).encode()
    try:
        answer = httpx.post(f"{server.url}/webhook", content=body,
                            headers={"Content-Type": "application/json"}, timeout=10)
        # The 200 goes out before any broker work starts: the sender always has its answer.
        assert answer.status_code == 200, answer.text
        alert_id = answer.json()["alert_id"]
        assert server.proc is not None
        assert server.proc.wait(timeout=15) == -signal.SIGKILL
        assert (tmp_path / "crashed").exists()

        server.start()  # recovery runs before the server listens
        record = httpx.get(f"{server.url}/alerts/{alert_id}", timeout=10).json()
        assert record["state"] == "done", record
        legs = record["report"]["legs"]
        assert [leg["status"] for leg in legs] == ["filled"], record

        # A TradingView resend after the crash is a duplicate, not a second order.
        again = httpx.post(f"{server.url}/webhook", content=body,
                           headers={"Content-Type": "application/json"}, timeout=10)
        assert again.json()["status"] == "duplicate"
        assert again.json()["alert_id"] == alert_id
    finally:
        assert server.stop() == 0, server.err.read_text()

    with sqlite3.connect(tmp_path / "state" / "paper-paper.sqlite3") as ledger:
        (orders,) = ledger.execute("SELECT count(*) FROM orders").fetchone()
    assert orders == 1
    with sqlite3.connect(tmp_path / "state" / "journal.sqlite3") as journal:
        statuses = [row[0] for row in journal.execute("SELECT status FROM legs")]
        (state,) = journal.execute("SELECT state FROM alerts WHERE alert_id = ?",
                                   (alert_id,)).fetchone()
    assert statuses == ["filled"]
    assert state == "done"
