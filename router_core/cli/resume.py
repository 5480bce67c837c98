"""``alert-router resume``: clear the halt flag that ``alert-router halt`` set."""

from __future__ import annotations

import argparse

HELP = "resume trading after `alert-router halt` (clears the persisted halt flag)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); its [router] section locates the journal")
    parser.add_argument("--account", "-a", default=None, metavar="NAME",
                        help="resume only this account (after `alert-router halt --account`)")


def run(args: argparse.Namespace) -> int:
    from router_core.cli.journal import open_journal
    from router_core.router import HALT_FLAG, account_halt_flag

    flag = HALT_FLAG if args.account is None else account_halt_flag(args.account)
    what = "trading" if args.account is None else f"trading on account {args.account}"
    journal = open_journal(args.config, create=True)
    try:
        previous = journal.get_flag(flag)
        journal.set_flag(flag, None)
    finally:
        journal.close()
    if previous is None:
        print(f"{what} was not halted; nothing changed")
    else:
        print(f"{what} resumed (it was halted: {previous})")
    print(f"journal: {journal.location}")
    return 0
