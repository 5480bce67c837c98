"""``alert-router init``: write a commented starter config and print the next steps.

The config has a paper account (where alerts go by default), a Kraken spot account that is
disabled and validate-only until the operator turns it on, a ``[server]`` section naming the
passphrase's environment variable, and risk limits per account. It names environment
variables, never secrets. An existing file is never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write a commented starter config (paper + a disabled Kraken spot account) and say what next"

DEFAULT_PATH = "alert-router.toml"
PASSPHRASE_ENV = "ALERT_ROUTER_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
KRAKEN_KEY_ENV = "KRAKEN_API_KEY"
KRAKEN_SECRET_ENV = "KRAKEN_API_SECRET"  # noqa: S105 - the name of a variable, not a secret

CONFIG = f"""\
# alert-router config, written by `alert-router init`. Reference: docs/configuration.md
#
# Secrets are never written in this file: every *_env key holds the NAME of an environment
# variable, and the router reads the secret from it when it starts. Check the file (and which
# variables are set) with:
#
#   alert-router check-config --config @PATH@

[router]
state_dir = "alert-router-state"   # journal and paper ledgers; relative to this file
plugins = ["paper", "kraken-spot"] # load only these venues

[server]
host = "127.0.0.1"                 # keep the loopback address behind a TLS reverse proxy
port = 8080                        # TradingView posts only to 80 and 443: the proxy forwards
# Every alert must carry this variable's value as "passphrase" (alert-router template
# prints a message with a placeholder for it). serve refuses to start while it is unset.
passphrase_env = "{PASSPHRASE_ENV}"
# ip_allowlist = "tradingview"     # only TradingView's published addresses may post
# trusted_proxies = ["127.0.0.1"]  # believe X-Forwarded-For from the proxy only
# max_lag_seconds = 60             # refuse alerts older than this ("timenow": "{{{{timenow}}}}")

[defaults]
quantity = "1"                     # the size when an alert gives none (units of the symbol)
quantity_type = "fixed_quantity"
reverse = true                     # an opposite signal closes the position, then opens
accounts = ["paper"]               # alerts without "accounts" go here only: a live account
                                   # trades only alerts that name it ("accounts": ["kraken"])

# Simulated fills at the alert's price; nothing real is traded.
[accounts.paper]
broker = "paper"
starting_balance = "100000"

[accounts.paper.risk]
max_orders_per_minute = 30         # refuse orders beyond 30 a minute on this account
# max_order_notional = "10000"     # refuse orders worth more; needs the alert's "price"

# Kraken spot: OFF until you turn it on. Before enabling it:
#   1. create a Kraken API key that may query funds and orders and create and cancel orders,
#      and NOT withdraw; restrict it to this host's IP address (docs/operations.md);
#   2. export {KRAKEN_KEY_ENV} and {KRAKEN_SECRET_ENV} (the names below, not the keys, go here);
#   3. set enabled = true: with validate = true Kraken checks every order and places nothing;
#   4. set validate = false only when the journal shows the orders you expect.
[accounts.kraken]
broker = "kraken-spot"
enabled = false
api_key_env = "{KRAKEN_KEY_ENV}"
api_secret_env = "{KRAKEN_SECRET_ENV}"
tier = "starter"                   # your verification tier: starter, intermediate or pro
validate = true                    # true: Kraken checks each order, nothing is placed
quantity_type = "dollar_amount"    # size each alert by its value in the quote currency...
quantity = "20"                    # ...here 20 USD, unless the alert gives a quantity

[accounts.kraken.risk]
max_order_notional = "100"         # refuse any order worth more than 100 (quote currency);
                                   # with no price known the order is refused, never guessed
max_orders_per_minute = 6
daily_loss_limit = "50"            # refuse every order once today's realised loss is 50
# max_position = "0.01"            # largest position in units of the symbol
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH, metavar="PATH",
                        help=f"where to write the config (default: ./{DEFAULT_PATH})")
    parser.add_argument("--force", action="store_true",
                        help="overwrite PATH if it exists")


def config_text(path: str) -> str:
    return CONFIG.replace("@PATH@", path)


def run(args: argparse.Namespace) -> int:
    import os

    path = Path(args.path)
    shown = str(args.path)
    if path.is_dir():
        print(f"alert-router init: {shown} is a directory; give a file name, e.g. "
              f"{path / DEFAULT_PATH}", file=sys.stderr)
        return 1
    text = config_text(shown)
    try:
        if args.force:
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, path)
        else:
            with open(path, "x", encoding="utf-8") as handle:  # never replaces a file
                handle.write(text)
    except FileExistsError:
        print(f"alert-router init: {shown} exists; not overwritten (use --force to replace "
              "it)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"alert-router init: cannot write {shown}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1

    config = f" --config {_quoted(shown)}"
    print(f"wrote {shown}: a paper account (where alerts go by default) and a Kraken spot "
          "account (disabled, validate-only)")
    print(f"""
next steps:
  1. choose the webhook passphrase and export it where serve runs:
       export {PASSPHRASE_ENV}="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
     every alert carries the same value as "passphrase"
  2. check the config and the environment:
       alert-router check-config{config}
  3. print an alert message to paste into TradingView (replace its passphrase placeholder),
     and check it:
       alert-router template --kind strategy
       alert-router template --kind strategy | alert-router validate --plan -
  4. start the webhook (put a TLS reverse proxy in front of it: docs/operations.md):
       alert-router serve{config}
  Kraken: export {KRAKEN_KEY_ENV} and {KRAKEN_SECRET_ENV}, follow the comments in
  [accounts.kraken], and send it alerts with: alert-router template --account kraken""")
    return 0


def _quoted(path: str) -> str:
    import shlex

    return shlex.quote(path)
