"""The journal's SQLite schema: the migrations, applied in order and never dropped, and the
connection settings every journal connection uses (WAL, ``synchronous=FULL``)."""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: alerts, legs, flags
    """
    CREATE TABLE alerts (
        alert_id     TEXT PRIMARY KEY,
        delivery_key TEXT NOT NULL UNIQUE,
        intent_key   TEXT NOT NULL UNIQUE,
        fingerprint  TEXT NOT NULL,
        alert        TEXT NOT NULL,
        received_at  REAL NOT NULL,
        peer         TEXT,
        source       TEXT NOT NULL,
        state        TEXT NOT NULL,
        reason       TEXT,
        report       TEXT,
        finished_at  REAL
    );
    CREATE INDEX alerts_received ON alerts (received_at);
    CREATE INDEX alerts_state ON alerts (state);
    CREATE TABLE legs (
        client_order_id TEXT PRIMARY KEY,
        alert_id        TEXT NOT NULL REFERENCES alerts (alert_id),
        account         TEXT NOT NULL,
        broker          TEXT NOT NULL,
        symbol          TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        side            TEXT,
        quantity        TEXT,
        notional        TEXT,
        order_json      TEXT NOT NULL,
        status          TEXT NOT NULL,
        result          TEXT,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE INDEX legs_status ON legs (status);
    CREATE INDEX legs_account_time ON legs (account, created_at);
    CREATE TABLE flags (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL);
    """,
    # 2: realised profit and loss per account and UTC day, for the daily loss limit
    """
    CREATE TABLE pnl (
        account TEXT NOT NULL, day TEXT NOT NULL, realised TEXT NOT NULL,
        PRIMARY KEY (account, day)
    );
    """,
    # 3: what this router bought and still holds per account and symbol, counted from its own
    # fills as their outcomes are recorded (a cash account's position); ``counted`` is how much
    # of a leg's fill is already in it, so a fill seen twice counts once
    """
    CREATE TABLE holdings (
        account TEXT NOT NULL, symbol TEXT NOT NULL, quantity TEXT NOT NULL,
        PRIMARY KEY (account, symbol)
    );
    ALTER TABLE legs ADD COLUMN counted TEXT;
    """,
    # 4: deliveries the webhook refused (401, 403, 409, 413, 415, 422), for the operator:
    # who sent what and why it was refused. Never a body or a secret, only the body's size and
    # hash. ``dropped`` > 0 marks a summary row: that many refusals of one minute were over the
    # recording limits (``REFUSED_PER_PEER_PER_MINUTE``, ``REFUSED_PER_MINUTE``) and only
    # counted; its ``status`` is NULL
    """
    CREATE TABLE refused (
        id           INTEGER PRIMARY KEY,
        received_at  REAL NOT NULL,
        peer         TEXT,
        route        TEXT,
        body_bytes   INTEGER,
        content_type TEXT,
        body_sha256  TEXT,
        status       INTEGER,
        reason       TEXT NOT NULL,
        dropped      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX refused_received ON refused (received_at);
    """,
    # 5: the accounts an alert was routed to when it was accepted, each with a digest of its
    # broker settings, so a recovered alert trades only where it was meant to
    """
    ALTER TABLE alerts ADD COLUMN routing TEXT;
    """,
    # 6: every execution a venue reported for an account (its fill stream, or a REST backfill),
    # once per trade id. ``client_order_id`` names the leg it updated; NULL for a foreign fill
    # (an order this router did not place), kept for the position view and never attached to
    # a leg. Quantities, prices and fees are decimal text
    """
    CREATE TABLE fills (
        id              INTEGER PRIMARY KEY,
        account         TEXT NOT NULL,
        trade_id        TEXT NOT NULL,
        venue_order_id  TEXT NOT NULL,
        client_order_id TEXT,
        symbol          TEXT NOT NULL,
        side            TEXT NOT NULL,
        quantity        TEXT NOT NULL,
        price           TEXT NOT NULL,
        fee             TEXT NOT NULL,
        fee_currency    TEXT,
        filled_at       REAL NOT NULL,
        recorded_at     REAL NOT NULL,
        source          TEXT NOT NULL,
        UNIQUE (account, trade_id)
    );
    CREATE INDEX fills_account_time ON fills (account, filled_at);
    CREATE INDEX fills_leg ON fills (client_order_id);
    """,
)

# Refused deliveries recorded one by one, per minute (fixed windows of the journal's clock):
# a flood of bad requests must not fill the disk. What is over the limits is counted in one
# summary row per minute. Worst case: 61 rows a minute, about 90 000 a day.


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
