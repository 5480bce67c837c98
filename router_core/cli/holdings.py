"""``alert-router holdings``: what the router counts as its own on cash (spot) accounts.

On a cash account a sell only sells what the router bought for that account and symbol and
still holds, counted from its own fills. Coins bought before the router counted (an upgrade
from a version that sold the whole free balance, or a position opened by hand that the
strategy should manage) can be adopted with ``--set``.
"""

from __future__ import annotations

import argparse

HELP = "list (or --set) what the router counts as its own on cash accounts"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); its [router] section locates the journal")
    parser.add_argument("--set", nargs=3, metavar=("ACCOUNT", "SYMBOL", "QUANTITY"),
                        help="adopt QUANTITY of the venue symbol SYMBOL (e.g. XXBTZUSD) as the "
                        "router's own on ACCOUNT; a later sell may sell it")


def run(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from router_core.cli.journal import open_journal
    from router_core.decimals import format_decimal

    if args.set:
        account, symbol, text = args.set
        try:
            quantity = Decimal(text)
        except InvalidOperation:
            quantity = Decimal("NaN")
        if not quantity.is_finite() or quantity < 0:
            print(f"alert-router holdings: QUANTITY must be a number >= 0, not {text!r:.40}")
            return 2
    journal = open_journal(args.config, create=bool(args.set))
    try:
        if args.set:
            before = journal.set_holdings(account, symbol, quantity)
            print(f"{account} {symbol}: the router now counts {format_decimal(quantity)} as its "
                  f"own (was {format_decimal(before)}); never more than the free balance is sold")
            return 0
        rows = journal.all_holdings()
    finally:
        journal.close()
    if not rows:
        print("the router holds nothing it bought on cash accounts")
        return 0
    width = max(len(account) for account, _, _ in rows)
    for account, symbol, quantity in rows:
        print(f"{account:<{width}}  {symbol:<12}  {format_decimal(quantity)}")
    return 0
