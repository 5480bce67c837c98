"""``alert-router new-plugin``: the bundled template, the name substitution and the scaffold.

plugins/_template is the source of truth; router_core/templates/plugin is its copy inside the
core (every file with a ``.tmpl`` suffix). Resync after editing the template with::

    python tests/test_new_plugin.py --sync
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.cli.new_plugin import (
    SUFFIX,
    name_problem,
    render,
    scaffold,
    substitutions,
    template_files,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "plugins" / "_template"
BUNDLED = ROOT / "router_core" / "templates" / "plugin"
SKIP_PARTS = {"__pycache__", ".pytest_cache", "build", "dist", ".ruff_cache"}


def source_files() -> dict[str, str]:
    found = {}
    for path in sorted(SOURCE.rglob("*")):
        relative = path.relative_to(SOURCE)
        if path.is_dir() or SKIP_PARTS & set(relative.parts) or path.suffix == ".pyc":
            continue
        if any(part.endswith(".egg-info") for part in relative.parts):
            continue
        found[relative.as_posix()] = path.read_text(encoding="utf-8")
    return found


def sync() -> None:
    shutil.rmtree(BUNDLED, ignore_errors=True)
    for relative, text in source_files().items():
        path = BUNDLED / (relative + SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_bundled_template_matches_plugins_template() -> None:
    bundled = template_files()
    source = source_files()
    hint = "plugins/_template changed: run `python tests/test_new_plugin.py --sync`"
    assert sorted(bundled) == sorted(source), hint
    for relative, text in source.items():
        assert bundled[relative] == text, f"{relative} differs; {hint}"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("My-Venue", "lower-case"),
        ("x", "2 to 40"),
        ("9lives", "start with a letter"),
        ("my--venue", "single '-' or '_'"),
        ("venue-", "single '-' or '_'"),
        ("core", "reserved"),
        ("a" * 41, "2 to 40"),
    ],
)
def test_invalid_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    problem = name_problem(name)
    assert problem is not None and reason in problem and repr(name) in problem


def test_an_installed_plugin_name_is_refused() -> None:
    from importlib.metadata import entry_points

    installed = [ep.name for ep in entry_points(group="router_core.plugins")]
    if not installed:
        pytest.skip("no plugin installed in this environment")
    problem = name_problem(installed[0])
    assert problem is not None and "already installed" in problem


def test_substitution_covers_every_spelling() -> None:
    names = substitutions("my-venue")
    text = (
        'name = "alert-router-mybroker"\nmybroker = "router_mybroker.plugin"\n'
        'class MyBrokerConfig: api_key_env = "MYBROKER_API_KEY"\n'
        'raise NotSupported("mybroker: x is not implemented yet (template)")\n'
    )
    assert render(text, names) == (
        'name = "alert-router-my-venue"\nmy-venue = "router_my_venue.plugin"\n'
        'class MyVenueBrokerConfig: api_key_env = "MY_VENUE_API_KEY"\n'
        'raise NotSupported("my-venue: x is not implemented yet (template)")\n'
    )


def test_cli_refuses_bad_name_and_existing_dir(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-plugin", "Bad Name", "--dir", str(tmp_path / "x")]) == 2
    assert "plugin name 'Bad Name' must be lower-case" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    (tmp_path / "taken").mkdir()
    assert main(["new-plugin", "hello-venue", "--dir", str(tmp_path / "taken")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_scaffolds_with_every_name_substituted(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "hello"
    assert main(["new-plugin", "hello-venue", "--dir", str(target)]) == 0
    assert "created alert-router-hello-venue" in capsys.readouterr().out
    project = tomllib.loads((target / "pyproject.toml").read_text())["project"]
    assert project["name"] == "alert-router-hello-venue"
    assert project["entry-points"]["router_core.plugins"] == {
        "hello-venue": "router_hello_venue.plugin"
    }
    assert (target / "router_hello_venue" / "broker.py").is_file()
    assert (target / "tests" / "test_hello_venue.py").is_file()
    broker = (target / "router_hello_venue" / "broker.py").read_text()
    assert 'name = "hello-venue"' in broker and "class HelloVenueBroker(Broker):" in broker
    assert '"HELLO_VENUE_API_KEY"' in broker
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for token in ("mybroker", "MyBroker", "MYBROKER"):
                assert token not in text and token not in path.name, f"{token} left in {path}"


@pytest.mark.slow
def test_scaffolded_plugin_passes_its_own_tests_without_installation(tmp_path: Path) -> None:
    target = tmp_path / "alert-router-hello-venue"
    scaffold("hello-venue", target)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(target / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=target, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout


if __name__ == "__main__":
    if sys.argv[1:] == ["--sync"]:
        sync()
        print(f"copied {SOURCE.relative_to(ROOT)} to {BUNDLED.relative_to(ROOT)}")
    else:
        print(__doc__)
