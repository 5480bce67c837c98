"""``alert-router new-plugin NAME``: a broker plugin project, copied from the plugin template.

The template ships inside the core (``router_core/templates/plugin``, each file with a
``.tmpl`` suffix so it is never imported, linted or collected as part of the core). Its source
of truth is ``plugins/_template`` in the repository; a test fails when the two differ.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

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
    from importlib.metadata import entry_points

    for ep in entry_points(group="router_core.plugins"):
        if ep.name == name:
            return f"a plugin named {name!r} is already installed ({ep.value}); choose another name"
    return None


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

    def walk(node, prefix: str) -> None:  # type: ignore[no-untyped-def]
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
