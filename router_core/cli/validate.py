"""``alert-router validate``: check alert bodies offline, exactly as the webhook would read them.

A body may be the message as it is typed into TradingView: its ``{{placeholders}}`` are first
filled with fixed sample values (``router_core.placeholders.SAMPLE_VALUES``; ``--set`` changes
one), an unknown placeholder is reported by name, and the rendered body is then read exactly as
the webhook reads it. A body written for another tool (TradingView's default strategy message,
3Commas, Alertatron) gets a hint saying what to use instead. ``--plan`` also shows what the
alert would do on a fresh paper account. Exit status: 0 when every body is valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_core.alert import Alert
    from router_core.plugins import PluginSet

HELP = ("check alert messages (files, or - for stdin) as the webhook reads them, TradingView "
        "placeholders filled with sample values")

# The webhook's default max_body_bytes ([server] in the config).
DEFAULT_MAX_BODY_BYTES = 64 * 1024


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        default=["-"],
        metavar="FILE",
        help="alert bodies to check; '-' (the default) reads one body from stdin",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
        help="render the placeholder {{NAME}} as VALUE instead of its sample value, e.g. "
             "--set strategy.market_position=short (repeatable)",
    )
    parser.add_argument(
        "--plan", action="store_true",
        help="also show the orders the alert would plan on a fresh paper account "
             "(simulated, flat, default sizing); nothing is sent",
    )


def run(args: argparse.Namespace) -> int:
    from router_core.errors import ConfigError
    from router_core.placeholders import is_known
    from router_core.plugins import make_plugin_manager

    overrides: dict[str, str] = {}
    for item in args.overrides:
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("{{").removesuffix("}}")
        if not sep or not is_known(name):
            raise ConfigError(f"--set {item!r}: expected NAME=VALUE with a TradingView "
                              "placeholder name, e.g. strategy.order.action=sell")
        overrides[name] = value

    plugins = make_plugin_manager(enabled=[])  # the built-in dialects only: fast, no venues
    failed = False
    for name in args.files:
        try:
            raw = sys.stdin.buffer.read() if name == "-" else _read(name)
        except OSError as exc:
            print(f"error {name}: cannot read: {exc.strerror or exc}")
            failed = True
            continue
        alert, body = check_body(name, raw, plugins, overrides)
        if alert is None:
            failed = True
        elif args.plan:
            for line in plan_lines(name, alert, body):
                print(line)
    return 1 if failed else 0


def check_body(
    name: str, raw: bytes, plugins: PluginSet, overrides: dict[str, str] | None = None
) -> tuple[Alert | None, bytes]:
    """Print the verdict on one body; the alert when it is valid, and the body as rendered."""
    from router_core.alert import alert_errors
    from router_core.errors import AlertError
    from router_core.intake import load_json, parse_alert
    from router_core.placeholders import (
        ALERT_MESSAGE,
        foreign_format,
        render,
        unknown_reason,
    )

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # parse_alert says what is wrong with it
    used: dict[str, str] = {}
    problems: list[str] = []
    warnings: list[str] = []
    if text is not None:
        if text.removeprefix("\ufeff").strip() == f"{{{{{ALERT_MESSAGE}}}}}":
            print(f"error {name}: the message is only {{{{{ALERT_MESSAGE}}}}}: TradingView "
                  "sends the alert_message text of your Pine strategy's order; check that "
                  "text instead (save it to a file and validate the file)")
            return None, raw
        rendering = render(text, overrides)
        used = rendering.used
        problems = [unknown_reason(unknown) for unknown in rendering.unknown]
        if ALERT_MESSAGE in used:
            warnings.append(f"{{{{{ALERT_MESSAGE}}}}} is your Pine script's alert_message text; "
                            f"checked here as {used[ALERT_MESSAGE]!r}")
        raw = rendering.text.encode("utf-8")
    for problem in problems:
        print(f"error {name}: {problem}")
    if len(raw) > DEFAULT_MAX_BODY_BYTES:
        print(f"error {name}: body: {len(raw)} bytes, above the webhook's default "
              f"max_body_bytes ({DEFAULT_MAX_BODY_BYTES})")
        return None, raw
    alert: Alert | None = None
    try:
        alert = parse_alert(raw, "application/json", plugins)
    except AlertError as exc:
        for error in alert_errors(exc):
            print(f"error {name}: {error}")
        hint = _hint(raw, load_json, foreign_format)
        if hint:
            print(f"hint {name}: {hint}")
    if alert is not None:
        secret = alert.passphrase.get_secret_value() if alert.passphrase is not None else None
        if secret is not None and _is_template_passphrase(secret):
            warnings.append(f"passphrase: still {secret!r}: put your webhook passphrase here "
                            "(the value of the server's passphrase_env; the webhook refuses "
                            "any other)")
        if not problems:
            print(f"ok {name}: {alert.summary()}")
    for warning in warnings:
        print(f"warning {name}: {warning}")
    if used:
        shown = ", ".join(f"{{{{{key}}}}}={value}" for key, value in used.items())
        print(f"  with sample values: {shown}")
    return (alert if not problems else None), raw


def _hint(raw: bytes, load_json: Any, foreign_format: Any) -> str | None:
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError:
        return None
    try:
        data, _ = load_json(text)
    except Exception:  # a body too deep or too large: no hint, the error says enough
        return None
    return foreign_format(text, data)


def _is_template_passphrase(secret: str) -> bool:
    from router_core.placeholders import PASSPHRASE_PLACEHOLDER

    text = secret.strip()
    return text == PASSPHRASE_PLACEHOLDER or (text.startswith("<") and text.endswith(">"))


# --- --plan ----------------------------------------------------------------------------------


def plan_lines(name: str, alert: Alert, raw: bytes) -> list[str]:
    """What ``alert`` would do on fresh paper accounts (the ones it names, else ``paper``)."""
    import asyncio

    accounts = [target.account for target in alert.accounts] or ["paper"]
    lines = [f"plan {name}: on a fresh paper account ({', '.join(accounts)}: flat, default "
             "sizing); nothing is sent"]
    for item in asyncio.run(_preview(alert, raw, accounts)):
        if isinstance(item, str):
            lines.append(f"  refused: {item}")
            continue
        data = item.to_dict()
        lines.append(f"  {data['account']}: {data['symbol']} position "
                     f"{data['position_before'] or '0'} -> {data['target'] or '?'}")
        if data["cancels_resting_orders"]:
            lines.append("    cancel the router's resting orders on the symbol")
        for leg in data["legs"]:
            lines.append(f"    {_leg_text(leg)}")
        if not data["legs"]:
            lines.append("    no orders")
        lines.extend(f"    note: {note}" for note in data["notes"])
    return lines


def _leg_text(leg: dict[str, Any]) -> str:
    if "side" not in leg:
        return f"{leg['leg']}: denied: {leg['denied']}"
    words = [f"{leg['leg']}:", leg["side"], leg["quantity"], leg["order_type"]]
    for key in ("limit_price", "stop_price", "leverage"):
        if leg.get(key) is not None:
            words.append(f"{key.removesuffix('_price')}={leg[key]}")
    if leg.get("reduce_only"):
        words.append("reduce-only")
    if leg.get("after_fill_of_previous"):
        words.append("(once the previous leg has filled)")
    if leg.get("denied"):
        words.append(f"denied: {leg['denied']}")
    return " ".join(words)


async def _preview(alert: Alert, raw: bytes, accounts: list[str]) -> list[Any]:
    import json
    import tempfile
    from pathlib import Path

    from router_core.router import Router

    with tempfile.TemporaryDirectory(prefix="alert-router-validate-") as tmp:
        config = Path(tmp) / "paper.toml"
        tables = "".join(f"[accounts.{json.dumps(account)}]\nbroker = \"paper\"\n"
                         for account in accounts)
        config.write_text(f'[router]\nstate_dir = "state"\nplugins = ["paper"]\n\n{tables}',
                          encoding="utf-8")
        router = Router.from_config_file(config)
        try:
            await router.start_brokers()
            return await router.preview(alert, router.intent_key(alert, raw))
        finally:
            await router.close()


def _read(name: str) -> bytes:
    with open(name, "rb") as handle:
        return handle.read()
