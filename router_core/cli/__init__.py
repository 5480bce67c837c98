"""The ``alert-router`` command line.

Each subcommand lives in its own module under ``router_core.cli`` with ``HELP`` (one line),
``configure(parser)`` and ``run(args) -> int``. Those modules keep their top level light and
import what they need inside ``run``, so ``alert-router --help`` never pays for the web stack,
pydantic or the plugins.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from router_core import __version__

# name -> module; the order is the order of ``--help``.
COMMANDS = {
    "init": "router_core.cli.init",
    "serve": "router_core.cli.serve",
    "reload": "router_core.cli.reload",
    "send": "router_core.cli.send",
    "template": "router_core.cli.template",
    "validate": "router_core.cli.validate",
    "check-config": "router_core.cli.check_config",
    "journal": "router_core.cli.journal",
    "journal-copy": "router_core.cli.journal_copy",
    "holdings": "router_core.cli.holdings",
    "positions": "router_core.cli.positions",
    "halt": "router_core.cli.halt",
    "resume": "router_core.cli.resume",
    "plugins": "router_core.cli.plugins",
    "schema": "router_core.cli.schema",
    "new-plugin": "router_core.cli.new_plugin",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alert-router",
        description="Route TradingView webhook alerts to correctly sized orders on your venues.",
    )
    parser.add_argument("--version", action="version", version=f"alert-router {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue  # a command still being built is simply not offered
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from router_core.errors import RouterError

    try:
        return int(args._run(args) or 0)
    except RouterError as exc:  # a foreseeable mistake: one clear line, no traceback
        print(f"alert-router {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
