"""``alert-router serve``: zero-config passphrase, first-run output, logging, a real process."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from router_core.cli import build_parser
from router_core.cli.serve import configure_logging, ensure_passphrase, print_first_run


def test_serve_is_offered_with_its_flags() -> None:
    args = build_parser().parse_args(["serve", "--config", "x.toml", "--host", "0.0.0.0",
                                      "--port", "9000"])
    assert (args.config, args.host, args.port) == ("x.toml", "0.0.0.0", 9000)


def test_passphrase_is_generated_once_with_0600(tmp_path: Path) -> None:
    state = tmp_path / "alert-router-state"
    first, generated = ensure_passphrase(state)
    assert generated and len(first) >= 24
    mode = stat.S_IMODE((state / "passphrase").stat().st_mode)
    assert mode == 0o600
    again, generated_again = ensure_passphrase(state)
    assert (again, generated_again) == (first, False)


def test_first_run_prints_the_passphrase_only_when_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print_first_run("0.0.0.0", 8080, tmp_path, "generated-secret")
    first = capsys.readouterr().out
    assert "http://127.0.0.1:8080/webhook" in first
    assert "generated-secret" in first
    assert "curl" in first and "Content-Type: application/json" in first
    print_first_run("127.0.0.1", 8080, tmp_path, None)
    later = capsys.readouterr().out
    assert "generated-secret" not in later
    assert "$(cat alert-router-state/passphrase)" in later


def test_logging_goes_to_stderr_at_info_and_hides_tokens(
    capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    try:
        configure_logging()
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "POST", "/webhook/tok3n?x=1", "1.1", 200)
        logging.getLogger("httpx").info("GET https://api.example/secret-url")
        err = capsys.readouterr().err
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, previous in quiet.items():
            logging.getLogger(name).setLevel(previous)
    assert "/webhook/[redacted]" in err
    assert "tok3n" not in err
    assert "secret-url" not in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(cwd: Path, port: int, run: int) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = cwd / f"out-{run}.txt", cwd / f"err-{run}.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from router_core.cli import main; sys.exit(main())",
         "serve", "--port", str(port)],
        cwd=cwd, stdout=out.open("wb"), stderr=err.open("wb"), env=dict(os.environ),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "listening on" in out.read_text() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert "listening on" in out.read_text(), err.read_text()
    return proc, out, err


@pytest.mark.slow
def test_zero_config_serve_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("router_paper", reason="alert-router-paper is not installed")
    port = _free_port()
    proc, out, err = _start(tmp_path, port, 1)
    try:
        passphrase = (tmp_path / "alert-router-state" / "passphrase").read_text().strip()
        text = out.read_text()
        assert passphrase in text
        assert f"alert-router listening on http://127.0.0.1:{port}" in text
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "0.01", "price": "65000",
                "passphrase": passphrase}
        answer = httpx.post(f"http://127.0.0.1:{port}/webhook?wait=true",
                            content=json.dumps(body), timeout=10,
                            headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["report"]["legs"][0]["status"] == "filled"
        refused = httpx.post(f"http://127.0.0.1:{port}/webhook", timeout=10,
                             content=json.dumps({**body, "passphrase": "guess"}))
        assert refused.status_code == 401
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    logs = err.read_text()
    assert code == 0, logs
    assert passphrase not in logs
    assert "Application shutdown complete" in logs

    proc, out, err = _start(tmp_path, port, 2)  # a restart keeps the passphrase, quietly
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0, err.read_text()
    assert passphrase not in out.read_text()
    assert "stored in alert-router-state/passphrase" in out.read_text()


RELOAD_CONFIG = """
[server]
passphrase_env = "ROUTER_TEST_PASSPHRASE"

[accounts.paper]
broker = "paper"
fill_price = "100"
"""


@pytest.mark.slow
def test_sighup_reloads_a_good_config_and_survives_a_bad_one(tmp_path: Path) -> None:
    pytest.importorskip("router_paper", reason="alert-router-paper is not installed")
    config = tmp_path / "router.toml"
    config.write_text(RELOAD_CONFIG)
    port = _free_port()
    env = {**os.environ, "ROUTER_TEST_PASSPHRASE": "reload-test-passphrase"}
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "router_core.cli", "serve", "--config", str(config),
         "--port", str(port)], cwd=tmp_path, stdout=out.open("wb"), stderr=err.open("wb"),
        env=env,
    )

    def wait_for(text: str, where: Path) -> None:
        deadline = time.monotonic() + 20
        while text not in where.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err.read_text()
            time.sleep(0.05)
        assert text in where.read_text(), err.read_text()

    def buy(n: int) -> dict:
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": f"r{n}",
                "passphrase": "reload-test-passphrase"}
        answer = httpx.post(f"http://127.0.0.1:{port}/webhook?wait=true", timeout=10,
                            content=json.dumps(body),
                            headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        return answer.json()["report"]

    def reload() -> None:
        done = subprocess.run([sys.executable, "-m", "router_core.cli", "reload", "--config",
                               str(config)], capture_output=True, env=env, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr

    try:
        wait_for("listening on", out)
        assert buy(1)["ok"]
        config.write_text(RELOAD_CONFIG + "[accounts.paper.risk\n")  # broken TOML
        refused = subprocess.run([sys.executable, "-m", "router_core.cli", "reload",
                                  "--config", str(config)], capture_output=True, env=env,
                                 timeout=30)
        assert refused.returncode == 2 and b"not valid TOML" in refused.stderr
        pid = int((tmp_path / "alert-router-state" / "serve.pid").read_text())
        os.kill(pid, signal.SIGHUP)  # as a service manager would, without checking first
        wait_for("config not reloaded, the running one stays", err)
        assert buy(2)["ok"]  # still serving, under the old config
        config.write_text(RELOAD_CONFIG + '[accounts.paper.risk]\nmax_order_notional = "50"\n')
        reload()
        wait_for("config reloaded; accounts changed: paper", err)
        refused = buy(3)
        assert not refused["ok"] and "max_order_notional 50" in refused["legs"][0]["reason"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, err.read_text()
    assert not (tmp_path / "alert-router-state" / "serve.pid").exists()
