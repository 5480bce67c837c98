"""An out-of-tree plugin, installed with pip into a fresh virtual environment, routes an alert.

The plugin is tests/e2e/hello_plugin, whose module is copied from the guide's hello broker
(docs/examples/hello_broker.py) at build time, packaged as alert-router-hello with an entry
point ``hello``. The core is installed from a copy of this
checkout's sources, not from the checkout itself, so the build never writes ``build/`` or
``*.egg-info`` into the shared work tree. Only the core's dependencies come from PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HELLO = Path(__file__).resolve().parent / "hello_plugin"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
ALERT = {"ticker": "BTCUSD", "action": "buy", "quantity": "0.25", "price": "65000"}
CONFIG = """\
[router]
state_dir = "state"
plugins = ["hello"]

[accounts.main]
broker = "hello"
"""


def run(*args: str | Path, cwd: Path, check: bool = True,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {done.returncode}\n"
                    f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


def copy_core(target: Path) -> Path:
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "router_core", target / "router_core", ignore=IGNORE)
    return target


def test_pip_installed_plugin_is_listed_routes_an_alert_and_uninstalls(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, cli = venv / "bin" / "python", venv / "bin" / "alert-router"

    core = copy_core(tmp_path / "core")
    plugin = shutil.copytree(HELLO, tmp_path / "hello_plugin", ignore=IGNORE)
    # The package's module is the guide's hello broker itself, so the two cannot drift.
    example = ROOT / "docs" / "examples" / "hello_broker.py"
    shutil.copy(example, plugin / "router_hello" / "plugin.py")
    run(python, "-m", "pip", "install", "-q", core, cwd=tmp_path)
    run(python, "-m", "pip", "install", "-q", plugin, cwd=tmp_path)

    listing = run(cli, "plugins", "--json", cwd=tmp_path)
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["hello"]["distribution"] == "alert-router-hello", listing.stdout
    assert rows["hello"]["brokers"] == ["hello"], listing.stdout
    assert "hello" in run(cli, "plugins", cwd=tmp_path).stdout

    (tmp_path / "alert.json").write_text(json.dumps(ALERT))
    (tmp_path / "cfg.toml").write_text(CONFIG)
    sent = run(cli, "send", "alert.json", "--config", "cfg.toml", cwd=tmp_path)
    report = json.loads(sent.stdout)
    assert report["ok"] is True, sent.stdout
    [leg] = report["legs"]
    assert (leg["account"], leg["broker"], leg["status"]) == ("main", "hello", "filled")
    assert leg["quantity"] in ("0.25", "0.250"), leg
    assert (tmp_path / "state").is_dir()  # the journal lives where the config says

    # the plugin template ships inside the installed (non-editable) core
    run(cli, "new-plugin", "demo-venue", "--dir", tmp_path / "demo", cwd=tmp_path)
    assert (tmp_path / "demo" / "router_demo_venue" / "broker.py").is_file()

    run(python, "-m", "pip", "uninstall", "-y", "-q", "alert-router-hello", cwd=tmp_path)
    after = json.loads(run(cli, "plugins", "--json", cwd=tmp_path).stdout)
    assert "hello" not in {row["name"] for row in after}
    # the config still names the plugin: one clear line, no traceback
    refused = run(cli, "send", "alert.json", "--config", "cfg.toml", cwd=tmp_path, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "hello" in refused.stderr and "not installed" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
