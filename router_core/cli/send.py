"""``alert-router send``: route one alert without a server and print the ExecutionReport."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from router_core.models import ExecutionReport

HELP = "route one alert (a file or - for stdin) and print the execution report as JSON"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("alert", nargs="?", default="-", help="alert JSON file, or - for stdin")
    parser.add_argument(
        "--config", "-c", default=None, help="config file (TOML); default: one paper account"
    )
    parser.add_argument(
        "--dry-run", action="store_true",
        help="read each account's position and print the planned legs; send nothing",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from router_core.errors import AlertError

    raw = sys.stdin.buffer.read() if args.alert == "-" else _read(args.alert)
    if args.dry_run:
        try:
            plans = asyncio.run(_dry_run(raw, args.config))
        except AlertError as exc:
            print(f"alert-router send: invalid alert: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({"dry_run": True, "plans": plans}, indent=2))
        return 0
    try:
        report = asyncio.run(_send(raw, args.config))
    except AlertError as exc:
        print(f"alert-router send: invalid alert: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


async def _send(raw: bytes, config: str | None) -> ExecutionReport:
    from router_core.journal import ClaimOutcome
    from router_core.router import Router

    router = Router.from_config_file(config)
    try:
        await router.start()
        # One fsync per alert: the claim is made durable by the first leg intent's commit
        # (or by one of its own when nothing follows), before any venue sees an order.
        acceptance, report = await router.accept_and_execute(
            raw, "application/json", peer="cli", source="cli")
        if acceptance.outcome is ClaimOutcome.CONFLICT:
            from router_core.errors import AlertError

            raise AlertError(
                "id",
                f"an alert with this intent key but different content was "
                f"already routed (alert {acceptance.alert_id}); nothing placed",
            )
        if report is None:  # a duplicate: its recorded report, or it resumes if unfinished
            report = await router.execute(acceptance.alert_id)
        return report
    finally:
        await router.close()


async def _dry_run(raw: bytes, config: str | None) -> list[dict[str, object]]:
    """Each account's plan, read from the venues; nothing journaled, nothing sent."""
    from router_core.router import Router

    router = Router.from_config_file(config)
    try:
        await router.start_brokers()
        return await router.dry_run(router.parse(raw, "application/json"), raw)
    finally:
        await router.close()


def _read(path: str) -> bytes:
    from router_core.errors import ConfigError

    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read alert file: {exc.strerror}", file=path) from None
