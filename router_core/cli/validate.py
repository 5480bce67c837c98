"""``alert-router validate``: check alert bodies offline, exactly as the webhook would read them."""

from __future__ import annotations

import argparse
import sys

HELP = "check alert JSON files (or - for stdin) against the alert format and the dialects"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        default=["-"],
        metavar="FILE",
        help="alert bodies to check; '-' (the default) reads one body from stdin",
    )


def run(args: argparse.Namespace) -> int:
    from router_core.alert import alert_errors
    from router_core.errors import AlertError
    from router_core.intake import parse_alert
    from router_core.plugins import make_plugin_manager

    plugins = make_plugin_manager(enabled=[])  # the built-in dialects only: fast, no venues
    failed = False
    for name in args.files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else _read(name)
        except OSError as exc:
            print(f"error {name}: cannot read: {exc.strerror or exc}")
            failed = True
            continue
        try:
            alert = parse_alert(raw, "application/json", plugins)
        except AlertError as exc:
            failed = True
            for error in alert_errors(exc):
                print(f"error {name}: {error}")
            continue
        print(f"ok {name}: {alert.summary()}")
    return 1 if failed else 0


def _read(name: str) -> bytes:
    with open(name, "rb") as handle:
        return handle.read()
