"""``alert-router plugins``: what is installed, from which distribution, with which brokers;
``--schema BROKER`` prints the JSON Schema of that broker's keys in an account section."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_core.plugins import PluginSet

HELP = "list installed plugins: name, distribution, version and brokers (stubs marked)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--schema", metavar="BROKER", default=None,
        help="print the JSON Schema of BROKER's keys in an [accounts.NAME] section (its Config "
        "model) instead; the core's own account keys are in `alert-router schema --config`",
    )


def run(args: argparse.Namespace) -> int:
    import json

    from router_core.plugins import make_plugin_manager

    plugins = make_plugin_manager()
    if args.schema is not None:
        return _print_schema(plugins, args.schema)
    by_plugin = plugins.brokers.by_plugin()
    rows: list[dict[str, Any]] = []
    for name, info in sorted(plugins.installed.items()):
        brokers = []
        for broker in by_plugin.get(name, []):
            cls = plugins.brokers.get(broker)
            brokers.append(f"{broker} (stub)" if cls.stub else broker)
        rows.append(
            {
                "name": name,
                "distribution": info.distribution or "?",
                "version": info.version or "?",
                "brokers": brokers,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("PLUGIN", "DISTRIBUTION", "VERSION", "BROKERS")
    table = [header] + [
        (r["name"], r["distribution"], r["version"], ", ".join(r["brokers"])) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return 0


def _print_schema(plugins: PluginSet, broker: str) -> int:
    import json

    if broker not in plugins.brokers:
        installed = ", ".join(plugins.brokers.names()) or "none"
        print(f"alert-router plugins: error: no broker named {broker!r} is installed "
              f"(installed: {installed})", file=sys.stderr)
        return 2
    cls = plugins.brokers.get(broker)
    print(json.dumps(cls.Config.model_json_schema(), indent=2))
    return 0
