"""``alert-router plugins``: what is installed, from which distribution, with which brokers."""

from __future__ import annotations

import argparse

HELP = "list installed plugins: name, distribution, version and brokers (stubs marked)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from router_core.plugins import make_plugin_manager

    plugins = make_plugin_manager()
    by_plugin = plugins.brokers.by_plugin()
    rows = []
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
