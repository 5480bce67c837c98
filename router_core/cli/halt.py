"""``alert-router halt``: stop all new trading until ``alert-router resume``.

The flag lives in the journal, so it survives restarts and a running router sees it on the next
alert. Cancels still pass while halted, so an operator can always reduce what rests at a venue.
"""

from __future__ import annotations

import argparse

HELP = "halt trading: refuse every new alert except cancels (persisted; survives restarts)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); its [router] section locates the journal")
    parser.add_argument("--reason", "-r", default=None,
                        help="why; shown in every refusal while halted")
    parser.add_argument("--account", "-a", default=None, metavar="NAME",
                        help="halt only this account: its legs are denied, others still trade")


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from router_core.cli.journal import open_journal
    from router_core.router import HALT_FLAG, account_halt_flag

    reason = (args.reason or "").strip() or "halted by the operator"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    flag = HALT_FLAG if args.account is None else account_halt_flag(args.account)
    what = "trading" if args.account is None else f"trading on account {args.account}"
    if args.account is not None:
        _check_account(args.config, args.account)
    journal = open_journal(args.config, create=True)
    try:
        previous = journal.get_flag(flag)
        if previous is None or args.reason:
            journal.set_flag(flag, f"{reason}, since {stamp}")
    finally:
        journal.close()
    if previous is not None and args.reason:
        print(f"{what} was already halted ({previous}); the reason is now: {reason}")
    elif previous is not None:
        print(f"{what} is already halted ({previous}); nothing changed")
    else:
        print(f"{what} halted: {reason}")
    print(f"journal: {journal.location}")
    if args.account is None:
        print("new alerts are refused (cancels still pass) until `alert-router resume`")
    else:
        print(f"new orders for {args.account} are denied (cancels still pass) until "
              f"`alert-router resume --account {args.account}`")
    return 0


def _check_account(config: str | None, account: str) -> None:
    """A misspelt account must not halt nothing in silence: the name must be one of the
    config's ``[accounts]`` tables (read without loading plugins or credentials)."""
    from pathlib import Path

    from router_core.config import DEFAULT_CONFIG, read_toml
    from router_core.errors import ConfigError

    data = read_toml(Path(config)) if config is not None else DEFAULT_CONFIG
    accounts = data.get("accounts", {})
    names = list(accounts) if isinstance(accounts, dict) else []
    if account not in names:
        raise ConfigError(f"no account named {account!r} (configured: "
                          f"{', '.join(names) or 'none'})", file=config, key="accounts")
