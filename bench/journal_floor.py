"""What the durable journal costs at least: one alert's rows written by hand on SQLite.

The router journals, for every alert with one filled leg: the claim (before anything is sent),
the leg intent (fsynced before the order goes out), the leg's outcome with the holdings it
moves, and the alert's final state. This module writes exactly those rows on a bare
``sqlite3`` connection to a journal file of the same schema, in the fewest transactions the
guarantees allow (the claim; the leg intent, fsynced, which also makes the claim durable; the
outcome, holdings and final state together), and reports the CPU and wall time per alert. One
alert after another is the floor of a sequential order; fifty alerts sharing each of the three
transactions is the floor with fifty in flight, grouped as well as group commit can ever group
them. No writer, no futures, no event loop: the floor any Python journal with the same
guarantees on this disk pays, measured in the same run as the router it is compared with.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

_CLAIM = ("INSERT INTO alerts (alert_id, delivery_key, intent_key, fingerprint, alert,"
          " received_at, peer, source, state, reason, routing)"
          " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING")
_INTENT = ("INSERT INTO legs (client_order_id, alert_id, account, broker, symbol, purpose, side,"
           " quantity, notional, order_json, status, result, created_at, updated_at)"
           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING")
_OUTCOME = ("UPDATE legs SET status = ?, result = ?, updated_at = ?, counted = ?"
            " WHERE client_order_id = ?")
_HOLDINGS = ("INSERT INTO holdings (account, symbol, quantity) VALUES (?,?,?)"
             " ON CONFLICT (account, symbol) DO UPDATE SET quantity = excluded.quantity")
_STATE = "UPDATE alerts SET state = ?, report = ?, finished_at = ? WHERE alert_id = ?"


def _schema(path: Path) -> None:
    """Create the journal's own schema (and its indexes) by opening it once."""
    from router_core.journal import Journal

    Journal(path).close()


def _alerts(db: sqlite3.Connection, numbers: range) -> None:
    """The rows of every alert in ``numbers``, in three transactions shared by all of them
    (one alert each when the range holds one): what group commit reaches at best."""
    now = time.time()
    ids = {n: (f"floor-{n}", str(uuid.uuid4())) for n in numbers}
    db.execute("PRAGMA synchronous=NORMAL")  # the claims: covered by the intents' fsync
    db.execute("BEGIN IMMEDIATE")
    for n in numbers:
        alert = {"ticker": "XBTUSD", "action": "buy", "quantity": "0.01"}
        db.execute(_CLAIM, (ids[n][0], f"d-{n}", f"i-{n}", "f" * 64, json.dumps(alert), now,
                            "127.0.0.1", "bench", "received", None, None))
    db.execute("COMMIT")
    db.execute("PRAGMA synchronous=FULL")  # the leg intents: on disk before any order is sent
    db.execute("BEGIN IMMEDIATE")
    for n in numbers:
        alert_id, cid = ids[n]
        order = {"symbol": "XBTUSD", "side": "buy", "quantity": "0.01", "type": "market",
                 "client_order_id": cid}
        db.execute(_INTENT, (cid, alert_id, f"a{n % 50}", "kraken_spot", "XBTUSD", "open",
                             "buy", "0.01", None, json.dumps(order), "pending", None, now, now))
    db.execute("COMMIT")
    db.execute("PRAGMA synchronous=NORMAL")  # outcomes and states: recovery looks legs up
    db.execute("BEGIN IMMEDIATE")
    for n in numbers:
        alert_id, cid = ids[n]
        result = {"status": "filled", "client_order_id": cid, "venue_order_id": f"O{n}",
                  "filled_quantity": "0.01", "average_price": "50000"}
        db.execute(_OUTCOME, ("filled", json.dumps(result), now, "0.01", cid))
        db.execute(_HOLDINGS, (f"a{n % 50}", "XBTUSD", str(n)))
        db.execute(_STATE, ("done", json.dumps({"alert_id": alert_id, "legs": [result]}), now,
                            alert_id))
    db.execute("COMMIT")


def journal_floor(directory: Path, alerts: int, *, group: int = 1) -> dict[str, Any]:
    """CPU and wall milliseconds per alert for the hand-written rows (see the module text),
    ``group`` alerts sharing each transaction (1: one alert after another; 50: fifty alerts in
    flight, as well grouped as they can be)."""
    path = directory / f"journal-floor-{group}.sqlite3"
    _schema(path)
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    try:
        for n in range(-20 * group, 0, group):  # warm the statement cache and the file
            _alerts(db, range(n, n + group))
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(0, alerts, group):
            _alerts(db, range(n, min(n + group, alerts)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        db.close()
    return {"alerts": alerts, "cpu_ms_per_alert": round(cpu * 1000 / alerts, 3),
            "wall_ms_per_alert": round(wall * 1000 / alerts, 3),
            "alerts_per_transaction": group, "transactions_per_alert": round(3 / group, 3),
            "fsyncs_per_alert": round(1 / group, 3)}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(journal_floor(Path(folder), 1000))
        print(journal_floor(Path(folder), 5000, group=50))
