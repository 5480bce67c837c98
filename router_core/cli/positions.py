"""``alert-router positions``: per account and symbol, the position and its profit and loss
computed from the journaled fills (average cost, fees included: docs/positions.md).

The fills are those the fill streams journaled under ``serve`` (and their REST catch-up),
foreign ones included: the position is the account's, whoever placed the orders. Unrealised
P&L needs a price: give one per symbol with ``--price SYMBOL=PRICE``.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

HELP = "positions and realised/unrealised P&L per account and symbol, from journaled fills"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); it locates the journal")
    parser.add_argument("--account", default=None, help="only this account")
    parser.add_argument("--price", action="append", default=[], metavar="SYMBOL=PRICE",
                        help="a current price of the venue symbol (e.g. XXBTZUSD=64000), for "
                        "the unrealised P&L; repeat for more symbols")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from router_core.cli.journal import open_journal
    from router_core.decimals import format_decimal
    from router_core.fill_pnl import positions_from_fills

    prices = _prices(args.price)
    if prices is None:
        return 2
    journal = open_journal(args.config, create=False)
    try:
        lines = positions_from_fills(journal.fills(args.account), prices)
    finally:
        journal.close()
    if args.json:
        print(json.dumps([{
            "account": line.account, "symbol": line.symbol,
            "quantity": format_decimal(line.quantity),
            "average_cost": format_decimal(line.average_cost),
            "realized": format_decimal(line.realized), "fees": format_decimal(line.fees),
            "unrealized": None if line.unrealized is None else format_decimal(line.unrealized),
            "fills": line.fills, "foreign_fills": line.foreign_fills,
        } for line in lines], indent=2))
        return 0
    if not lines:
        print("no fills journaled (fills are recorded by serve's fill streams)")
        return 0
    header = ("account", "symbol", "position", "avg cost", "realized", "fees", "unrealized",
              "fills")
    rows = [header] + [(
        line.account, line.symbol, format_decimal(line.quantity),
        format_decimal(_cents(line.average_cost)), format_decimal(_cents(line.realized)),
        format_decimal(_cents(line.fees)),
        "-" if line.unrealized is None else format_decimal(_cents(line.unrealized)),
        f"{line.fills}" + (f" ({line.foreign_fills} foreign)" if line.foreign_fills else ""),
    ) for line in lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def _cents(value: Decimal) -> Decimal:
    """Round a money amount for the table (8 places: crypto quotes); JSON keeps all."""
    return value.quantize(Decimal("0.00000001")).normalize() if value else value


def _prices(texts: list[str]) -> dict[str, Decimal] | None:
    prices: dict[str, Decimal] = {}
    for text in texts:
        symbol, _, number = text.partition("=")
        try:
            price = Decimal(number)
        except InvalidOperation:
            price = Decimal("NaN")
        if not symbol or not price.is_finite() or price <= 0:
            print(f"alert-router positions: --price must be SYMBOL=PRICE with a price > 0, "
                  f"not {text!r:.40}")
            return None
        prices[symbol] = price
    return prices
