"""``alert-router journal-copy``: copy a SQLite journal into a PostgreSQL one (the move to
several instances sharing one journal).

Stop the router first: what it journals during the copy would be missing. The copy keeps every
row as it is (alerts, legs with their outcomes, flags such as a halt, profit and loss, holdings,
refused deliveries) and is idempotent: a row already in the target is left alone, so running it
again copies nothing twice. A target that already holds alerts is refused unless ``--merge``
says to add what is missing to it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_core.journal import Journal
    from router_core.journal_store import Db

HELP = "copy a SQLite journal into a PostgreSQL journal (idempotent; reports counts)"

BATCH_ROWS = 500  # rows per transaction in the target

# Table -> the columns that make a row the same row (an alert, a leg, a flag...). ``refused``
# has no key of its own: a delivery is the same when all its recorded fields are.
TABLES: dict[str, tuple[str, ...]] = {
    "alerts": ("alert_id",),
    "legs": ("client_order_id",),
    "flags": ("name",),
    "pnl": ("account", "day"),
    "holdings": ("account", "symbol"),
    "refused": ("received_at", "peer", "route", "status", "reason", "dropped"),
}
_NOT_COPIED = {"rowid", "id"}  # each database numbers its own rows


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="PATH",
                        help="the SQLite journal to copy (the router using it stopped)")
    parser.add_argument("--to", dest="target", default=None, metavar="URL",
                        help="postgresql://user@host:port/database (no password in it); "
                        "default: [journal] url of --config")
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML) whose [journal] names the target and its "
                        "password_env")
    parser.add_argument("--password-env", default=None, metavar="VAR",
                        help="environment variable holding the target's password (else libpq "
                        "finds it: PGPASSWORD, a service file, ~/.pgpass)")
    parser.add_argument("--merge", action="store_true",
                        help="copy into a journal that already holds alerts, adding only what "
                        "it does not have")


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    source_rows: int
    copied: int  # new in the target; the rest were there already


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from router_core.errors import ConfigError
    from router_core.journal import Journal

    source_path = Path(args.source)
    if not source_path.is_file():
        raise ConfigError(f"no SQLite journal at {source_path}", key="--from")
    target = _target(args)
    source = Journal(source_path)  # brings an older journal's schema up to date first
    try:
        destination = Journal(target)
        try:
            if destination.backend != "postgresql":
                raise ConfigError("must name a PostgreSQL database", key="--to")
            held = int(destination._read("SELECT count(*) FROM alerts")[0][0])
            if held and not args.merge:
                raise ConfigError(
                    f"the journal at {destination.location} already holds {held} alerts; "
                    "pass --merge to add only what it does not have", key="--to")
            results = copy_journal(source, destination)
        finally:
            destination.close()
    finally:
        source.close()
    print(f"copied {source.location} -> {destination.location}")
    for item in results:
        print(f"  {item.table:<9} {item.copied:>7} copied, "
              f"{item.source_rows - item.copied:>7} already there")
    return 0


def _target(args: argparse.Namespace) -> Any:
    import os

    from pydantic import SecretStr

    from router_core.config import load_journal_target
    from router_core.errors import ConfigError
    from router_core.journal_location import PgTarget

    if args.target is None:
        if args.config is None:
            raise ConfigError("give --to URL, or --config with a [journal] url", key="--to")
        target = load_journal_target(args.config)
        if not isinstance(target, PgTarget):
            raise ConfigError("has no [journal] url to copy into", file=args.config,
                              key="journal.url")
        return target
    password = None
    if args.password_env:
        value = os.environ.get(args.password_env, "")
        if not value:
            raise ConfigError(f"environment variable {args.password_env} is not set",
                              key="--password-env")
        password = SecretStr(value)
    try:
        return PgTarget.from_url(args.target, password)
    except ConfigError as exc:
        raise ConfigError(exc.reason, key="--to") from None


def copy_journal(source: Journal, destination: Journal) -> list[Copied]:
    """Every table's rows from ``source`` into ``destination`` in their order, skipping rows the
    destination has already (by each table's key). Returns the counts per table."""
    results = []
    for table, key in TABLES.items():
        columns = [row[1] for row in source._read(f"PRAGMA table_info({table})")
                   if row[1] not in _NOT_COPIED]
        rows = source._read(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")  # noqa: S608
        copied = 0
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start:start + BATCH_ROWS]
            copied += int(destination._write(_insert_work(table, columns, key, batch)))
        results.append(Copied(table, len(rows), copied))
    return results


def _insert_work(table: str, columns: list[str], key: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> Any:
    # IS NOT DISTINCT FROM: a NULL field (a refused delivery without a peer) matches a NULL.
    same = " AND ".join(f"{column} IS NOT DISTINCT FROM ?" for column in key)
    exists = f"SELECT 1 FROM {table} WHERE {same} LIMIT 1"  # noqa: S608 - module constants
    insert = (f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 - module constants
              f" VALUES ({', '.join('?' * len(columns))})")
    positions = [columns.index(column) for column in key]

    def work(db: Db) -> int:
        # Read, then write: the copy runs while no router writes to the target.
        count = 0
        for row in rows:
            if db.execute(exists, tuple(row[i] for i in positions)).fetchone() is None:
                db.execute(insert, tuple(row))
                count += 1
        return count

    return work
