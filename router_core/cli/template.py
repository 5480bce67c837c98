"""``alert-router template``: a ready-to-paste TradingView alert message.

The message (JSON) goes to stdout, so ``alert-router template --kind strategy | alert-router
validate -`` checks it; what to change before pasting it goes to stderr. Every template uses
``{{ticker}}`` (unless ``--ticker``), ``"time": "{{time}}"`` and ``"timenow": "{{timenow}}"``,
a ``strategy`` name (part of the idempotency key) and a passphrase placeholder that must be
replaced with the server's passphrase. No secret is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "print a ready-to-paste TradingView alert message (JSON) for a kind of alert"

# kind -> (a few words for --help, what it does, the fields after ticker)
KINDS: dict[str, tuple[str, str, dict[str, str]]] = {
    "strategy": (
        "a Pine strategy's order fills",
        "a Pine strategy's order fills: the {{strategy.*}} placeholders say the order and the "
        "position before and after it, so entries, adds, partial exits, exits and reversals "
        "all follow the strategy; the size is the strategy's contracts",
        {
            "action": "{{strategy.order.action}}",
            "contracts": "{{strategy.order.contracts}}",
            "market_position": "{{strategy.market_position}}",
            "prev_market_position": "{{strategy.prev_market_position}}",
            "market_position_size": "{{strategy.market_position_size}}",
            "prev_market_position_size": "{{strategy.prev_market_position_size}}",
            "price": "{{strategy.order.price}}",
            "order_id": "{{strategy.order.id}}",
        },
    ),
    "indicator-buy": (
        "an indicator's buy signal",
        "an indicator's buy signal: opens a long when flat, closes a short and opens a long, "
        "and adds to a long (with --quantity the size is a target instead: nothing is added "
        "to a long that size)",
        {"action": "buy", "sentiment": "long", "price": "{{close}}"},
    ),
    "indicator-sell": (
        "an indicator's sell signal",
        "an indicator's sell signal, the mirror of indicator-buy: opens, reverses to or adds "
        "to a short; a spot wallet cannot short: use --kind exit for its sell signal",
        {"action": "sell", "sentiment": "short", "price": "{{close}}"},
    ),
    "exit": (
        "close the position",
        "closes the whole position on the ticker and cancels the router's resting orders on "
        "it (with --quantity: closes that much)",
        {"action": "exit", "price": "{{close}}"},
    ),
    "reverse": (
        "flip the position",
        "closes the position and opens the other side, of the same size or --quantity "
        "(refused when flat)",
        {"action": "reverse", "price": "{{close}}"},
    ),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", "-k", choices=list(KINDS), default="strategy",
                        help="what the alert does (default: strategy): "
                             + "; ".join(f"{kind}: {short}"
                                         for kind, (short, _, _) in KINDS.items()))
    parser.add_argument("--account", "-a", action="append", default=[], metavar="NAME",
                        help="send to this account of the config (repeatable); default: the "
                             "config's default accounts")
    parser.add_argument("--ticker", default="{{ticker}}",
                        help="the symbol, e.g. KRAKEN:XBTUSD (default: {{ticker}}, the chart's)")
    parser.add_argument("--quantity", "-q", default=None,
                        help="a fixed size in units (not with --kind strategy, which sends the "
                             "strategy's contracts); default: the account's sizing")
    parser.add_argument("--strategy", default="my-strategy", metavar="NAME",
                        help="a name for this alert (default: my-strategy); part of the "
                             "idempotency key, so give each alert its own")


def build(kind: str, ticker: str = "{{ticker}}", accounts: list[str] | None = None,
          strategy: str = "my-strategy", quantity: str | None = None) -> dict[str, Any]:
    """The template of ``kind`` as a JSON-ready dict, in the order it is printed."""
    from router_core.placeholders import PASSPHRASE_PLACEHOLDER

    _, _, fields = KINDS[kind]
    message: dict[str, Any] = {"passphrase": PASSPHRASE_PLACEHOLDER, "ticker": ticker}
    message.update(fields)
    if quantity is not None:
        message["quantity"] = quantity
    if accounts:
        message["accounts"] = list(dict.fromkeys(accounts))
    message.update({"strategy": strategy, "time": "{{time}}", "timenow": "{{timenow}}"})
    return message


def render_text(message: dict[str, Any]) -> str:
    import json

    return json.dumps(message, indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    import textwrap

    from router_core.alert import alert_errors
    from router_core.errors import AlertError, ConfigError
    from router_core.intake import parse_alert
    from router_core.placeholders import PASSPHRASE_PLACEHOLDER, render
    from router_core.plugins import make_plugin_manager

    if args.quantity is not None and args.kind == "strategy":
        raise ConfigError("--quantity: a strategy alert sends the strategy's own contracts "
                          "({{strategy.order.contracts}}); size it in the Pine strategy, or "
                          "with the account's multiplier")
    text = render_text(build(args.kind, args.ticker, args.account, args.strategy,
                             args.quantity))
    # Refuse to print a template the webhook would refuse (a bad --ticker or --account).
    rendering = render(text)
    if rendering.unknown:
        raise ConfigError(f"--ticker: unknown placeholder {{{{{rendering.unknown[0]}}}}}")
    try:
        parse_alert(rendering.text.encode(), "application/json", make_plugin_manager(enabled=[]))
    except AlertError as exc:
        errors = "; ".join(str(error) for error in alert_errors(exc))
        raise ConfigError(f"the options give an invalid alert: {errors}") from None

    sys.stdout.write(text)
    _, description, _ = KINDS[args.kind]
    accounts = ", ".join(args.account) if args.account else None
    notes = [
        f"--kind {args.kind}: {description}.",
        f'Replace "{PASSPHRASE_PLACEHOLDER}" with your webhook passphrase: it must match the '
        "server's (the environment variable [server] passphrase_env names; with no config, "
        "the contents of alert-router-state/passphrase), else the webhook answers 401.",
        f'"strategy": "{args.strategy}" is part of the idempotency key with the ticker, the '
        "action, the bar time and the order id: give each alert its own name, or two alerts "
        "on one bar count as one.",
        "The size: " + (f"{args.quantity} units." if args.quantity else
                        "the strategy's contracts times the account's multiplier."
                        if args.kind == "strategy" else
                        "the account's sizing ([defaults] or the account's quantity and "
                        "quantity_type)."),
        f"Goes to account(s) {accounts}." if accounts else
        "No \"accounts\": goes to the config's default accounts ([defaults] accounts, else "
        "every enabled account); --account NAME names one.",
        "Paste it into the alert's Message box, the webhook URL into Notifications > Webhook "
        "URL; check it first with: alert-router validate FILE (or pipe it: alert-router "
        f"template --kind {args.kind} | alert-router validate -).",
    ]
    for note in notes:
        print(textwrap.fill(note, 99, initial_indent="# ", subsequent_indent="#   ",
                            break_on_hyphens=False),
              file=sys.stderr)
    return 0
