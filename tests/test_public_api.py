"""The public plugin API: ``router_core`` exports what its type information says, and the
first-party plugins use nothing else (``router_core`` and, in tests, ``router_core.testing``).

A third-party plugin author reads ``router_core/__init__.py``'s ``TYPE_CHECKING`` imports in an
IDE and imports the same names at run time from the lazy ``_EXPORTS`` table: the two lists
must be one list. The first-party plugins are the examples to copy, so an import of a private
core module there (``router_core.normalize``, ``router_core.router``...) fails here.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import router_core

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "router_core" / "__init__.py"
PLUGINS = ROOT / "plugins"
ALLOWED_MODULES = {"router_core", "router_core.testing"}


def _type_checking_imports() -> dict[str, str]:
    """``name -> module`` for every import under ``if TYPE_CHECKING:`` in __init__.py."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    blocks = [node for node in tree.body if isinstance(node, ast.If)
              and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    assert len(blocks) == 1, "router_core/__init__.py must have one `if TYPE_CHECKING:` block"
    names: dict[str, str] = {}
    for node in ast.walk(blocks[0]):
        if isinstance(node, ast.ImportFrom):
            module = "router_core" + ("." + node.module if node.module else "") \
                if node.level == 1 else node.module or ""
            for alias in node.names:
                assert alias.name != "*", (
                    f"`from {module} import *` in the TYPE_CHECKING block gives type checkers "
                    "every public name of that module, not the exported ones: list them")
                names[alias.asname or alias.name] = module
        elif isinstance(node, ast.Import):
            pytest.fail("the TYPE_CHECKING block should only hold `from .x import Name` lines")
    return names


@pytest.mark.parametrize("name", router_core.__all__)
def test_every_exported_name_imports(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from router_core import {name}", namespace)
    value = namespace[name]
    module = importlib.import_module(router_core._EXPORTS[name])
    assert value is getattr(module, name)


def test_all_is_the_export_table_and_dir_lists_it() -> None:
    assert router_core.__all__ == sorted(router_core._EXPORTS)
    assert len(set(router_core.__all__)) == len(router_core.__all__)
    assert set(router_core.__all__) <= set(dir(router_core))


def test_type_checking_imports_list_the_same_names_from_the_same_modules() -> None:
    typed = _type_checking_imports()
    exported = router_core._EXPORTS
    assert sorted(set(exported) - set(typed)) == [], "exported but unknown to type checkers"
    assert sorted(set(typed) - set(exported)) == [], "typed but missing at run time"
    wrong = {name: (typed[name], exported[name]) for name in exported
             if typed[name] != exported[name]}
    assert wrong == {}, "TYPE_CHECKING imports these names from another module"


def test_no_export_is_shadowed_by_a_submodule() -> None:
    # `import router_core.<x>` sets the attribute <x> on the package: an export of that name
    # would then be the module, not the object.
    submodules = {info.name for info in pkgutil.iter_modules(router_core.__path__)}
    assert sorted(set(router_core.__all__) & submodules) == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'normalize_tickers'"):
        router_core.normalize_tickers


def test_the_broker_contract_names_are_exported() -> None:
    # what a plugin builds on, by the guide (docs/writing-a-plugin.md)
    needed = {"Broker", "BrokerConfig", "BrokerContext", "Capabilities", "RegisterBroker",
              "hookimpl", "normalize_ticker", "round_down", "format_decimal", "to_decimal",
              "decimals_step", "ENV_NAME_PATTERN", "ENV_NAME_MAX_LENGTH", "LegReport",
              "ExecutionReport", "PluginSet", "make_plugin_manager", "Router"}
    assert sorted(needed - set(router_core.__all__)) == []


# -- first-party plugins ------------------------------------------------------------------------


def _plugin_files() -> list[Path]:
    files: list[Path] = []
    for plugin in sorted(PLUGINS.iterdir()):
        if not plugin.is_dir() or plugin.name.startswith(("_", ".")):
            continue  # plugins/_template is the new-plugin skeleton, checked by its own tests
        for folder in [*sorted(plugin.glob("router_*")), plugin / "tests"]:
            if folder.is_dir():
                files += sorted(folder.rglob("*.py"))
    return files


def _private_uses(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(root)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("router_core.") and node.module not in ALLOWED_MODULES:
                found.append(f"{where}:{node.lineno}: from {node.module} import ...")
            elif node.module == "router_core":
                found += [f"{where}:{node.lineno}: from router_core import {a.name} (not exported)"
                          for a in node.names if a.name not in router_core.__all__]
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: import {a.name}" for a in node.names
                      if a.name.startswith("router_core.") and a.name not in ALLOWED_MODULES]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "router_core" and node.attr not in router_core.__all__
              and node.attr not in {"testing", "__version__"}):
            found.append(f"{where}:{node.lineno}: router_core.{node.attr}")
    return found


def test_the_scan_sees_every_first_party_plugin() -> None:
    files = _plugin_files()
    scanned = {path.relative_to(PLUGINS).parts[0] for path in files}
    assert {"paper", "kraken_spot", "kraken_futures", "propfirms"} <= scanned
    assert any(path.parent.name == "tests" for path in files)


def test_first_party_plugins_import_only_the_public_api() -> None:
    found = [line for path in _plugin_files() for line in _private_uses(path)]
    assert found == [], (
        "first-party plugins may import only `router_core` (exported names) and "
        "`router_core.testing`; export what they need from router_core/__init__.py:\n"
        + "\n".join(found))


def test_the_scan_catches_a_private_import(tmp_path: Path) -> None:
    source = tmp_path / "plugin.py"
    source.write_text("import router_core\nimport router_core.journal\n"
                      "from router_core.normalize import normalize\n"
                      "from router_core import Broker, models\n"
                      "from router_core.testing import BrokerContract\n"
                      "x = router_core.sizing\n")
    found = _private_uses(source, tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == [
        "import router_core.journal",
        "from router_core.normalize import ...",
        "from router_core import models (not exported)",
        "router_core.sizing",
    ]
