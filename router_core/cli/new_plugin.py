"""``alert-router new-plugin NAME``: a broker plugin project, copied from the plugin template.

The template ships inside the core (``router_core/templates/plugin``, each file with a
``.tmpl`` suffix so it is never imported, linted or collected as part of the core) and is the
only copy: edit it there. tests/test_new_plugin.py generates a plugin from it and runs that
plugin's own tests (the BrokerContract suite) and ruff over it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

HELP = "create a broker plugin project (alert-router-NAME, package router_NAME) from the template"

PLACEHOLDER = "mybroker"
SUFFIX = ".tmpl"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
RESERVED = frozenset({"core", "testing", "template"})  # router_core, router_testing, ...


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        help="plugin and broker name: lower-case letters and digits, words joined by '-' or "
        "'_' (e.g. my-venue)",
    )
    parser.add_argument(
        "--dir", dest="directory", default=None,
        help="folder to create; it must not exist (default: ./alert-router-NAME)",
    )


def run(args: argparse.Namespace) -> int:
    problem = name_problem(args.name)
    if problem:
        print(f"alert-router new-plugin: error: {problem}", file=sys.stderr)
        return 2
    target = Path(args.directory or f"alert-router-{args.name}")
    if target.exists():
        print(
            f"alert-router new-plugin: error: {target} already exists; choose another --dir "
            "or remove it",
            file=sys.stderr,
        )
        return 2
    names = substitutions(args.name)
    written = scaffold(args.name, target)
    print(f"created {names['alert-router-mybroker']} in {target} ({len(written)} files)")
    print(f"  test it:     cd {target} && PYTHONPATH=. python -m pytest tests")
    print(f"  install it:  pip install -e {target}")
    print(f"  then:        alert-router plugins   (lists {args.name})")
    return 0


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a plugin, or ``None`` when it can."""
    if not 2 <= len(name) <= 40:
        return f"plugin name {name!r} must be 2 to 40 characters long"
    if not _NAME.match(name):
        return (
            f"plugin name {name!r} must be lower-case letters and digits, start with a letter, "
            "with single '-' or '_' between words (e.g. my-venue)"
        )
    package = package_part(name)
    if package in RESERVED:
        return f"plugin name {name!r} is reserved (its package would be router_{package})"
    return taken_problem(name)


def taken_problem(name: str) -> str | None:
    """Why ``name`` is taken by an installed plugin or broker, or ``None`` when it is free.

    The new project's name is both its plugin (entry point) name and its broker name, so it
    must clash with neither; ``my-venue`` and ``my_venue`` clash too (one package,
    ``router_my_venue``, and one set of environment variables).
    """
    from importlib.metadata import entry_points

    from router_core.errors import PluginError
    from router_core.plugins import GROUP, make_plugin_manager

    wanted = package_part(name)
    for ep in entry_points(group=GROUP):
        if package_part(ep.name) == wanted:
            dist = getattr(ep, "dist", None)
            source = dist.metadata["Name"] if dist is not None else ep.value
            return (
                f"plugin name {name!r} is already taken by the installed plugin {ep.name!r} "
                f"({source}{_same_package(name, ep.name)}); choose another name"
            )
    try:  # every installed plugin's brokers: a plugin may register several, under any names
        plugins = make_plugin_manager()
    except PluginError:  # a broken installation is reported by `alert-router plugins`
        return None
    for broker in plugins.brokers.names():
        if package_part(broker) == wanted:
            owner = plugins.brokers.entry(broker).plugin
            info = plugins.installed.get(owner)
            source = f"plugin {owner}"
            if info is not None and info.distribution:
                source += f", {info.distribution}"
            return (
                f"broker name {name!r} is already taken by the installed broker {broker!r} "
                f"({source}{_same_package(name, broker)}); choose another name"
            )
    return None


def _same_package(name: str, taken: str) -> str:
    return "" if name == taken else f"; same package, router_{package_part(name)}"


def package_part(name: str) -> str:
    return name.replace("-", "_")


def substitutions(name: str) -> dict[str, str]:
    """Placeholder -> replacement, for the template's text and file names."""
    package = package_part(name)
    camel = "".join(part.capitalize() for part in re.split(r"[-_]", name))
    return {
        "alert-router-mybroker": f"alert-router-{name}",  # distribution
        "router_mybroker": f"router_{package}",  # package
        "MYBROKER": package.upper(),  # environment variables
        "MyBroker": f"{camel}Broker",  # classes: MyBrokerConfig -> MyVenueBrokerConfig
        "mybroker": name,  # broker name, entry point, messages
    }


def render(text: str, names: dict[str, str]) -> str:
    pattern = re.compile("|".join(re.escape(token) for token in names))  # longest first
    return pattern.sub(lambda match: names[match.group(0)], text)


def render_path(relative: str, name: str) -> str:
    """File names use the package spelling (``test_my_venue.py``)."""
    names = substitutions(name)
    names["mybroker"] = package_part(name)
    return render(relative, names)


def template_files() -> dict[str, str]:
    """The bundled template: relative path (without ``.tmpl``) -> text."""
    from importlib.resources import files

    root = files("router_core") / "templates" / "plugin"
    found: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            relative = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, relative + "/")
            elif child.name.endswith(SUFFIX):
                found[relative[: -len(SUFFIX)]] = child.read_text(encoding="utf-8")

    walk(root, "")
    if not found:
        raise FileNotFoundError(f"the plugin template is missing from {root}")
    return found


def scaffold(name: str, target: Path) -> list[Path]:
    """Write the template into ``target`` (which must not exist) with ``name`` substituted."""
    names = substitutions(name)
    files = template_files()
    target.mkdir(parents=True)
    written = []
    for relative, text in sorted(files.items()):
        path = target / render_path(relative, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(text, names), encoding="utf-8")
        written.append(path)
    return written
