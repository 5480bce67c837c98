"""``alert-router journal``: what happened to recent alerts, read from the journal only.

It opens the journal named by the config (the SQLite file of ``[router]``, or the PostgreSQL
database of ``[journal]``) and nothing else: no plugin is loaded and no venue credential is read,
so it also works on a machine without the keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_core.journal import AlertRecord, Journal, LegRecord, RefusedRecord

HELP = ("show recent alerts and the outcome of every leg; with ALERT_ID its full report as "
        "JSON; with --refused the deliveries the webhook refused")

SUMMARY_WIDTH = 40


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("alert_id", nargs="?", metavar="ALERT_ID",
                        help="an alert id (or a unique prefix of one): print its full report")
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); its [router] section locates the journal")
    parser.add_argument("--limit", "-n", type=_positive, default=20,
                        help="how many recent alerts (or refused deliveries) to list "
                        "(default 20)")
    parser.add_argument("--refused", action="store_true",
                        help="list the deliveries the webhook refused (401, 403, 409, 413, "
                        "415, 422), newest first, instead of alerts")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    if args.refused and args.alert_id:
        from router_core.errors import ConfigError

        raise ConfigError("give either ALERT_ID or --refused, not both")
    journal = open_journal(args.config, create=False)
    try:
        if args.refused:
            refused = journal.refused_deliveries(args.limit)
            if args.json:
                print(json.dumps([refused_row(record) for record in refused], indent=2))
            else:
                print(render_refused(refused))
            return 0
        if args.alert_id:
            record = find_alert(journal, args.alert_id)
            print(json.dumps(alert_details(journal, record), indent=2))
            return 0
        records = journal.recent_alerts(args.limit)
        pending = _pending_by_alert(journal)
        if args.json:
            rows = [_row(record, pending.get(record.alert_id, [])) for record in records]
            print(json.dumps(rows, indent=2))
        else:
            print(render_table(records, pending))
        return 0
    finally:
        journal.close()


# -- shared with halt and resume ------------------------------------------------------------


def journal_path(config: str | None) -> Path:
    """Where the router keeps its SQLite journal for this config (``[router]`` only)."""
    from router_core.config import load_router_settings

    return load_router_settings(config).journal_path


def open_journal(config: str | None, *, create: bool) -> Journal:
    """Open the journal (SQLite or PostgreSQL, as the config says); with ``create=False`` a
    missing SQLite file is an error, not a new journal."""
    from router_core.config import load_journal_target
    from router_core.errors import ConfigError
    from router_core.journal import Journal

    target = load_journal_target(config)
    if isinstance(target, Path) and not create and not target.exists():
        raise ConfigError(
            f"no journal at {target} (has the router run with this config yet?)",
            file=config, key="router.journal",
        )
    return Journal(target)


# -- reading ----------------------------------------------------------------------------------


def find_alert(journal: Journal, alert_id: str) -> AlertRecord:
    """The alert with this id, or the only recent one whose id starts with it."""
    from router_core.errors import ConfigError

    record = journal.get_alert(alert_id)
    if record is not None:
        return record
    matches = [r for r in journal.recent_alerts(100_000) if r.alert_id.startswith(alert_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"no alert with id {alert_id!r} in the journal at {journal.location}")
    ids = ", ".join(r.alert_id for r in matches[:5])
    raise ConfigError(f"{alert_id!r} matches {len(matches)} alerts ({ids}); give more of the id")


def alert_details(journal: Journal, record: AlertRecord) -> dict[str, Any]:
    """Everything the journal knows about one alert; ``report`` is the ExecutionReport."""
    pending = _pending_by_alert(journal).get(record.alert_id, [])
    return {
        "alert_id": record.alert_id,
        "intent_key": record.intent_key,
        "received_at": _iso(record.received_at),
        "source": record.source,
        "peer": record.peer,
        "state": record.state.value,
        "reason": record.reason,
        "alert": record.alert,
        "report": record.report,
        "unresolved_legs": [_leg_dict(leg) for leg in pending],
    }


def _pending_by_alert(journal: Journal) -> dict[str, list[LegRecord]]:
    # Legs without a final outcome (pending or unknown) are what an operator must see for an
    # alert whose report is not written yet.
    out: dict[str, list[LegRecord]] = {}
    for leg in journal.unresolved_legs():
        out.setdefault(leg.alert_id, []).append(leg)
    return out


def _leg_dict(leg: LegRecord) -> dict[str, Any]:
    result = leg.result or {}
    return {
        "account": leg.account,
        "broker": leg.broker,
        "leg": leg.purpose,
        "symbol": leg.symbol,
        "status": leg.status,
        "client_order_id": leg.client_order_id,
        "quantity": result.get("quantity") or leg.order.get("quantity"),
        "price": result.get("average_price") or result.get("price") or leg.order.get("price"),
        "reason": result.get("reason"),
    }


# -- rendering --------------------------------------------------------------------------------


def _row(record: AlertRecord, pending: list[LegRecord]) -> dict[str, Any]:
    legs = (record.report or {}).get("legs") or [_leg_dict(leg) for leg in pending]
    return {
        "time": _iso(record.received_at),
        "alert_id": record.alert_id,
        "source": record.source,
        "alert": summarize_alert(record.alert),
        "state": record.state.value,
        "reason": record.reason,
        "legs": [summarize_leg(leg) for leg in legs],
    }


def render_table(records: list[AlertRecord], pending: dict[str, list[LegRecord]]) -> str:
    if not records:
        return "no alerts in the journal yet"
    header = ("TIME (UTC)", "ALERT", "SOURCE", "SUMMARY", "STATE", "LEGS")
    lines = []
    for record in records:
        row = _row(record, pending.get(record.alert_id, []))
        # A refused alert has no legs: its reason takes the legs' place.
        outcome = "; ".join(row["legs"]) or row["reason"] or "-"
        lines.append((row["time"].replace("T", " ").removesuffix("Z"), record.alert_id[:8],
                      row["source"], _clip(row["alert"], SUMMARY_WIDTH), row["state"], outcome))
    table = [header, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1]
        for line in table
    )


def refused_row(record: RefusedRecord) -> dict[str, Any]:
    """One refused delivery; ``dropped`` > 0 (``status`` null) counts a minute's refusals that
    were over the recording limits."""
    return {
        "time": _iso(record.received_at),
        "peer": record.peer,
        "route": record.route,
        "status": record.status,
        "reason": record.reason,
        "content_type": record.content_type,
        "body_bytes": record.body_bytes,
        "body_sha256": record.body_sha256,
        "dropped": record.dropped,
    }


def render_refused(records: list[RefusedRecord]) -> str:
    if not records:
        return "no refused deliveries in the journal"
    header = ("TIME (UTC)", "PEER", "ROUTE", "STATUS", "BYTES", "CONTENT TYPE", "SHA256",
              "REASON")
    lines = []
    for record in records:
        lines.append((
            _iso(record.received_at).replace("T", " ").removesuffix("Z"),
            _clip(_printable(record.peer or "-"), 39),
            _clip(_printable(record.route or "-"), 20),
            str(record.status) if record.status is not None else "-",
            str(record.body_bytes) if record.body_bytes is not None else "-",
            _clip(_printable(record.content_type or "-"), 30),
            record.body_sha256[:12] if record.body_sha256 else "-",
            _printable(record.reason),
        ))
    table = [header, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "  " + line[-1]
        for line in table
    )


def summarize_alert(alert: dict[str, Any]) -> str:
    """``buy BTCUSD 0.5 limit@50000 [strategy] -> acct1,acct2`` from the journaled alert."""
    parts = [str(alert.get("action", "?")), str(alert.get("ticker", "?"))]
    quantity = alert.get("quantity")
    if quantity is not None:
        kind = alert.get("quantityType")
        parts.append(f"{quantity}{'' if kind in (None, 'fixed_quantity') else ' ' + kind}")
    order_type = alert.get("orderType")
    price = alert.get("limitPrice") or alert.get("stopPrice")
    if order_type and order_type != "market":
        parts.append(f"{order_type}@{price}" if price else str(order_type))
    if alert.get("strategy"):
        parts.append(f"[{alert['strategy']}]")
    accounts = alert.get("accounts") or []
    names = [a.get("account", "?") if isinstance(a, dict) else str(a) for a in accounts]
    if names:
        parts.append("-> " + ",".join(names))
    return " ".join(parts)


def summarize_leg(leg: dict[str, Any]) -> str:
    """``acct/open filled 0.5@50000`` or ``acct/close rejected: EOrder:Insufficient funds``."""
    text = f"{leg.get('account')}/{leg.get('leg')} {leg.get('status')}"
    quantity = leg.get("filled_quantity") or leg.get("quantity")
    price = leg.get("average_price") or leg.get("price")
    if quantity:
        text += f" {quantity}" + (f"@{price}" if price else "")
    if leg.get("reason"):
        text += f": {leg['reason']}"
    return text


def _printable(text: str) -> str:
    # What a sender chose (a reason quoting its field names) must not drive the terminal.
    return "".join(c if c.isprintable() else "?" for c in text)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _iso(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
