"""The plugin as installed: found through its entry point, configured by ``[plugins.notify]``
in the file, its URLs read from the environment and shown nowhere (``check-config``,
``send``'s errors). The commands run as a user runs them: in a process of their own."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from router_core import make_plugin_manager

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

SECRET_URL = f"json://u:{secrets.token_hex(8)}@127.0.0.1:9/{secrets.token_hex(8)}"

CONFIG = """
[router]
state_dir = "state"
plugins = ["paper", "notify"]

[accounts.main]
broker = "paper"
fill_price = "100"

[plugins.notify]
urls_env = ["T_INSTALLED_NOTIFY_URL"]
level = "{level}"
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "T_INSTALLED_NOTIFY_URL"}
    return subprocess.run([sys.executable, "-m", "router_core.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**environ, **(env or {})})


def write(tmp_path: Path, level: str, extra: str = "") -> tuple[Path, Path]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(level=level) + extra)
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1"}))
    return path, alert


def test_the_entry_point_loads_the_plugin_with_its_settings_model():
    plugins = make_plugin_manager(["notify"])
    assert plugins.installed["notify"].distribution == "alert-router-notify"
    assert set(plugins.calls.settings_models()) == {"notify"}


def test_check_config_accepts_the_table_and_never_prints_the_url(tmp_path):
    path, _ = write(tmp_path, "failures")
    result = run("check-config", "--config", str(path), env={"T_INSTALLED_NOTIFY_URL": SECRET_URL})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")
    assert SECRET_URL not in result.stdout + result.stderr


def test_send_with_an_unset_variable_names_file_key_and_variable(tmp_path):
    path, alert = write(tmp_path, "failures")
    result = run("send", "--config", str(path), str(alert))
    assert result.returncode != 0
    assert (f"{path}: plugins.notify.urls_env.0: environment variable T_INSTALLED_NOTIFY_URL "
            "is not set") in result.stderr
    assert "Traceback" not in result.stderr


def test_send_with_a_bad_level_names_the_key(tmp_path):
    path, alert = write(tmp_path, "everything")
    result = run("send", "--config", str(path), str(alert),
                 env={"T_INSTALLED_NOTIFY_URL": SECRET_URL})
    assert result.returncode != 0 and "plugins.notify.level" in result.stderr
    assert SECRET_URL not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_send_routes_with_notifications_on(tmp_path):
    """A working config: the alert is routed; the unreachable notifier only logs."""
    path, alert = write(tmp_path, "all", "drain_seconds = 1\n")
    result = run("send", "--config", str(path), str(alert),
                 env={"T_INSTALLED_NOTIFY_URL": SECRET_URL + "?rto=0.5&cto=0.5"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert SECRET_URL.split("@")[0] not in result.stdout + result.stderr
