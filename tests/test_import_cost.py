"""Start-up stays cheap: ``import router_core`` and ``alert-router --help`` load no heavy stack.

Each check runs in a fresh interpreter, so nothing this test process imported counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

HEAVY = ("fastapi", "starlette", "uvicorn", "httpx", "httpcore", "pydantic", "pydantic_core",
         "stevedore", "pluggy", "jsonschema")
VENUE_PLUGINS = ("router_kraken_spot", "router_kraken_futures", "router_paper",
                 "router_propfirms")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    roots = {name.split(".")[0] for name in modules}
    return sorted(roots & set(HEAVY + VENUE_PLUGINS))


def test_import_router_core_loads_no_heavy_module():
    assert _heavy(_loaded_after("import router_core")) == []


def test_building_the_cli_parser_loads_no_heavy_module():
    # --help builds every subcommand's parser: their top level must stay light.
    modules = _loaded_after("from router_core.cli import build_parser\nbuild_parser()")
    assert _heavy(modules) == []
    assert "router_core.cli.journal" in modules  # the commands really were built


@pytest.mark.slow
def test_help_runs_and_is_quick():
    command = [sys.executable, "-c", "import sys; from router_core.cli import main; "
               "sys.argv = ['alert-router', '--help']; sys.exit(main())"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    print(f"alert-router --help: {elapsed * 1000:.0f} ms")
    assert result.returncode == 0, result.stderr
    for command_name in ("journal", "halt", "resume", "check-config"):
        assert command_name in result.stdout
    assert elapsed < 3.0
