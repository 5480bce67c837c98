"""``alert-router new-plugin``: the bundled template, the name substitution and the scaffold.

router_core/templates/plugin is the template's only copy (every file with a ``.tmpl`` suffix).
What guards it is the generated project itself: the slow test below generates a plugin, runs
its own tests (the BrokerContract suite) and ruff over it, and reads its entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.cli.new_plugin import (
    name_problem,
    render,
    scaffold,
    substitutions,
    template_files,
)
from router_core.errors import PluginError

ROOT = Path(__file__).resolve().parents[1]
LONGEST = "a" * 19 + "-" + "b" * 20  # the longest name new-plugin takes (40 characters)


def test_the_template_ships_inside_the_core() -> None:
    files = template_files()
    assert "pyproject.toml" in files and "router_mybroker/broker.py" in files
    assert "tests/test_mybroker.py" in files
    assert not (ROOT / "plugins" / "_template").exists()  # no second, hand-kept copy


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


def _installed() -> tuple[list[str], list[str]]:
    """Installed plugin names, and broker names that are not also a plugin name."""
    from router_core.plugins import make_plugin_manager

    plugins = make_plugin_manager()
    brokers = [b for b in plugins.brokers.names() if b not in plugins.installed]
    return sorted(plugins.installed), brokers


def test_an_installed_plugin_name_is_refused() -> None:
    plugins, _ = _installed()
    if not plugins:
        pytest.skip("no plugin installed in this environment")
    problem = name_problem(plugins[0])
    assert problem is not None
    assert f"is already taken by the installed plugin {plugins[0]!r}" in problem


def test_a_broker_name_an_installed_plugin_registers_is_refused() -> None:
    _, brokers = _installed()
    if not brokers:  # propfirms registers tradovate, rithmic, ...
        pytest.skip("no installed plugin registers a broker under another name")
    problem = name_problem(brokers[0])
    assert problem is not None
    assert f"broker name {brokers[0]!r} is already taken by the installed broker" in problem
    assert "choose another name" in problem


def test_dash_and_underscore_spellings_of_a_taken_name_are_taken() -> None:
    plugins, brokers = _installed()
    taken = [n for n in plugins + brokers if "-" in n]
    if not taken:
        pytest.skip("no installed plugin or broker with a '-' in its name")
    other = taken[0].replace("-", "_")
    problem = name_problem(other)
    assert problem is not None and repr(taken[0]) in problem
    assert f"same package, router_{other}" in problem


def test_a_broken_installation_does_not_block_a_free_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise PluginError("import failed: ImportError: boom", plugin="broken")

    monkeypatch.setattr("router_core.plugins.make_plugin_manager", broken)
    assert name_problem("hello-venue") is None


def test_cli_refuses_a_taken_broker_name_in_one_line_with_exit_code_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins, brokers = _installed()
    if not plugins + brokers:
        pytest.skip("nothing installed")
    name, kind = (brokers[0], "broker") if brokers else (plugins[0], "plugin")
    assert main(["new-plugin", name, "--dir", str(tmp_path / "x")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"alert-router new-plugin: error: {kind} name {name!r} is already "
                          f"taken by the installed {kind} "), err
    assert not (tmp_path / "x").exists()


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


def _ruff_settings(pyproject: Path) -> dict[str, object]:
    ruff = tomllib.loads(pyproject.read_text())["tool"]["ruff"]
    return {
        "line-length": ruff["line-length"],
        "target-version": ruff["target-version"],
        "select": ruff["lint"]["select"],
        "ignore": ruff["lint"]["ignore"],
    }


@pytest.mark.slow
def test_a_generated_plugin_passes_its_own_tests_and_ruff(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``alert-router new-plugin`` output, not installed: its BrokerContract suite, its own
    tests and ruff (with alert-router's settings, which the project carries) all pass."""
    target = tmp_path / "alert-router-hello-venue"
    assert main(["new-plugin", "hello-venue", "--dir", str(target)]) == 0
    capsys.readouterr()

    # The entry point makes the plugin visible to `alert-router plugins`.
    pyproject = tomllib.loads((target / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"]["router_core.plugins"]
    assert entry_points == {"hello-venue": "router_hello_venue.plugin"}
    assert (target / "router_hello_venue" / "plugin.py").is_file()
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == [
        "router_hello_venue*"
    ]

    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=target, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all(line.endswith(("hello-venue is not a stub",
                              "hello-venue declares capabilities.fill_stream=False"))
               for line in skipped), skipped

    # Lint: the generated settings are alert-router's own, and the generated tree passes them,
    # also with the longest name new-plugin takes (line lengths grow with the name).
    assert _ruff_settings(target / "pyproject.toml") == _ruff_settings(ROOT / "pyproject.toml")
    assert len(LONGEST) == 40 and name_problem(LONGEST) is None
    longest = tmp_path / "longest"
    scaffold(LONGEST, longest)
    for tree in (target, longest):
        linted = subprocess.run(  # as its README says: `ruff check .`, its own settings
            [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
            cwd=tree, capture_output=True, text=True, timeout=60,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
