"""``alert-router resume``: clear the halt flag that ``alert-router halt`` set."""

from __future__ import annotations

import argparse

HELP = "resume trading after `alert-router halt` (clears the persisted halt flag)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); its [router] section locates the journal")


def run(args: argparse.Namespace) -> int:
    from router_core.cli.journal import open_journal
    from router_core.router import HALT_FLAG

    journal = open_journal(args.config, create=True)
    try:
        previous = journal.get_flag(HALT_FLAG)
        journal.set_flag(HALT_FLAG, None)
    finally:
        journal.close()
    if previous is None:
        print("trading was not halted; nothing changed")
    else:
        print(f"trading resumed (it was halted: {previous})")
    print(f"journal: {journal.location}")
    return 0
