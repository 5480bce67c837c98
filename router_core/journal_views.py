"""Read-only views of the journal for the dashboard (``router_core.dashboard``).

Every query goes through ``Journal._read`` (``?`` placeholders) and uses portable SQL only:
no JSON functions, no SQLite pragmas, nothing a PostgreSQL journal behind the same read path
could not run. What lives inside a JSON column (an alert's ticker, a leg's fill) is read in
Python after the row comes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .journal import Journal

# The flags that halt one account are named with this prefix (see router.account_halt_flag).
_ACCOUNT_HALT_PREFIX = "halt:account:"
FAILED_LEG_STATUSES = ("denied", "rejected", "unknown", "absent_given_up")
RESTING_LEG_STATUSES = ("accepted", "partially_filled")
SCAN_LIMIT = 1000  # alerts read for a filtered list: the newest ones


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as the dashboard lists it."""

    alert_id: str
    received_at: float
    finished_at: float | None
    source: str
    state: str
    reason: str | None
    alert: dict[str, Any]
    report: dict[str, Any] | None
    routing: dict[str, Any] | None

    @property
    def ticker(self) -> str:
        return str(self.alert.get("ticker", ""))

    @property
    def action(self) -> str:
        return str(self.alert.get("action", ""))

    @property
    def legs(self) -> list[dict[str, Any]]:
        return list((self.report or {}).get("legs") or [])

    @property
    def accounts(self) -> list[str]:
        """The accounts the alert went to: its legs', else those chosen at acceptance, else
        those it names."""
        names = [str(leg.get("account")) for leg in self.legs]
        names += list(self.routing or {})
        names += [str(t.get("account") if isinstance(t, dict) else t)
                  for t in self.alert.get("accounts") or []]
        return list(dict.fromkeys(n for n in names if n and n != "None"))

    @property
    def latency_ms(self) -> float | None:
        """From the journal's receipt to the final state (plan, venue round trips, records)."""
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.received_at) * 1000.0)

    @property
    def outcome(self) -> str:
        """ok, failed (a leg denied, rejected or unknown), refused or pending."""
        if self.state == "refused":
            return "refused"
        if self.state != "done":
            return "pending"
        return "ok" if (self.report or {}).get("ok") else "failed"


@dataclass(frozen=True, slots=True)
class LegView:
    """A journaled leg with what the venue answered."""

    client_order_id: str
    alert_id: str
    account: str
    broker: str
    symbol: str
    purpose: str
    side: str | None
    quantity: str | None
    status: str
    order: dict[str, Any]
    result: dict[str, Any] | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Fill:
    """What executed of one leg, for profit and loss."""

    time: float
    account: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    strategy: str


@dataclass(frozen=True, slots=True)
class FillScan:
    fills: list[Fill]
    without_price: int  # legs that executed but whose answer gave no average price


_ALERT_COLUMNS = ("alert_id, received_at, finished_at, source, state, reason, alert, report,"
                  " routing")
_LEG_COLUMNS = ("client_order_id, alert_id, account, broker, symbol, purpose, side, quantity,"
                " status, order_json, result, created_at, updated_at")


def _json(text: Any) -> Any:
    if not text:
        return None
    if isinstance(text, dict | list):  # a driver that decodes JSON columns itself
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _alert_row(row: tuple[Any, ...]) -> AlertRow:
    return AlertRow(row[0], float(row[1]), None if row[2] is None else float(row[2]), row[3],
                    row[4], row[5], _json(row[6]) or {}, _json(row[7]), _json(row[8]))


def _leg_view(row: tuple[Any, ...]) -> LegView:
    return LegView(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                   _json(row[9]) or {}, _json(row[10]), float(row[11]), float(row[12]))


def alerts(journal: Journal, *, account: str | None = None, symbol: str | None = None,
           outcome: str | None = None, limit: int = 100) -> list[AlertRow]:
    """The newest alerts, filtered by account, ticker (case-insensitive, as sent) and
    outcome. Filters read the newest ``SCAN_LIMIT`` alerts."""
    filtered = bool(account or symbol or outcome)
    rows = journal._read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY received_at DESC LIMIT ?",  # noqa: S608 - module constants only
        (SCAN_LIMIT if filtered else limit,),
    )
    found = []
    wanted_symbol = (symbol or "").strip().upper()
    for row in rows:
        view = _alert_row(row)
        if account and account not in view.accounts:
            continue
        if wanted_symbol and wanted_symbol not in view.ticker.upper():
            continue
        if outcome and view.outcome != outcome:
            continue
        found.append(view)
        if len(found) >= limit:
            break
    return found


def alert(journal: Journal, alert_id: str) -> AlertRow | None:
    rows = journal._read(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id = ?", (alert_id,))  # noqa: S608 - module constants only
    return _alert_row(rows[0]) if rows else None


def legs_of(journal: Journal, alert_id: str) -> list[LegView]:
    rows = journal._read(
        f"SELECT {_LEG_COLUMNS} FROM legs WHERE alert_id = ? ORDER BY created_at",  # noqa: S608 - module constants only
        (alert_id,),
    )
    return [_leg_view(row) for row in rows]


def failed_legs(journal: Journal, limit: int = 100) -> list[LegView]:
    """Legs refused before sending, rejected by the venue, or whose outcome is unknown."""
    marks = ", ".join("?" * len(FAILED_LEG_STATUSES))
    rows = journal._read(
        f"SELECT {_LEG_COLUMNS} FROM legs WHERE status IN ({marks})"  # noqa: S608 - constants
        " ORDER BY updated_at DESC LIMIT ?",
        (*FAILED_LEG_STATUSES, limit),
    )
    return [_leg_view(row) for row in rows]


def refused_alerts(journal: Journal, limit: int = 100) -> list[AlertRow]:
    """Alerts accepted and then refused as a whole (halt, lag, routing), newest first."""
    rows = journal._read(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state = ? ORDER BY received_at DESC"  # noqa: S608 - module constants only
        " LIMIT ?",
        ("refused", limit),
    )
    return [_alert_row(row) for row in rows]


def resting_legs(journal: Journal, account: str | None = None) -> list[LegView]:
    """The router's own orders that, as last journaled, rest at a venue."""
    marks = ", ".join("?" * len(RESTING_LEG_STATUSES))
    sql = f"SELECT {_LEG_COLUMNS} FROM legs WHERE status IN ({marks})"  # noqa: S608
    args: tuple[Any, ...] = RESTING_LEG_STATUSES
    if account is not None:
        sql += " AND account = ?"
        args = (*args, account)
    rows = journal._read(sql + " ORDER BY account, symbol, created_at", args)
    return [_leg_view(row) for row in rows]


def traded_tickers(journal: Journal, account: str, limit: int = 500) -> dict[str, str]:
    """The venue symbols the router traded for an account, each with the ticker an alert
    used for it (what ``Broker.resolve`` takes back), from the newest legs."""
    rows = journal._read(
        "SELECT symbol, order_json FROM legs WHERE account = ? ORDER BY created_at DESC LIMIT ?",
        (account, limit),
    )
    tickers: dict[str, str] = {}
    for symbol, order_text in rows:
        ticker = (_json(order_text) or {}).get("ticker")
        if symbol not in tickers and isinstance(ticker, str):
            tickers[symbol] = ticker
    return tickers


def fills(journal: Journal) -> FillScan:
    """Every journaled leg that executed (in part or in full), oldest first, with the
    strategy its alert named. A fill counts when the venue's answer gave both the filled
    quantity and the average price; a ``fee`` in the answer is kept where a broker reports
    one. A leg whose executions a fill stream journaled (``fills``) counts them one by one
    instead: each at its own time, price and fee."""
    rows = journal._read(
        "SELECT l.updated_at, l.account, l.symbol, l.side, l.result, a.alert, l.client_order_id"
        " FROM legs l JOIN alerts a ON a.alert_id = l.alert_id"
        " WHERE l.result IS NOT NULL AND l.side IS NOT NULL"
        " ORDER BY l.updated_at, l.created_at"
    )
    streamed: dict[str, list[tuple[Any, ...]]] = {}
    for row in journal._read(
        "SELECT client_order_id, filled_at, quantity, price, fee FROM fills"
        " WHERE client_order_id IS NOT NULL ORDER BY filled_at, id"
    ):
        streamed.setdefault(row[0], []).append(row[1:])
    found: list[Fill] = []
    without_price = 0
    for updated_at, account, symbol, side, result_text, alert_text, cid in rows:
        if cid in streamed and side in ("buy", "sell"):
            strategy = (_json(alert_text) or {}).get("strategy") or "-"
            found.extend(Fill(float(at), account, symbol, side, Decimal(quantity), Decimal(price),
                              Decimal(fee), str(strategy))
                         for at, quantity, price, fee in streamed[cid])
            continue
        result = _json(result_text) or {}
        quantity = _decimal(result.get("filled_quantity"))
        if quantity is None or quantity <= 0 or side not in ("buy", "sell"):
            continue
        price = _decimal(result.get("average_price"))
        if price is None or price <= 0:
            without_price += 1
            continue
        strategy = (_json(alert_text) or {}).get("strategy") or "-"
        found.append(Fill(float(updated_at), account, symbol, side, quantity, price,
                          _decimal(result.get("fee")), str(strategy)))
    found.sort(key=lambda fill: fill.time)  # streamed fills keep their own times
    return FillScan(found, without_price)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def halted_accounts(journal: Journal) -> dict[str, str]:
    """Accounts halted on their own (``halt --account``): name -> reason."""
    rows = journal._read("SELECT name, value FROM flags WHERE name LIKE ?",
                         (_ACCOUNT_HALT_PREFIX + "%",))
    return {name[len(_ACCOUNT_HALT_PREFIX):]: value for name, value in rows}


def change_marker(journal: Journal) -> tuple[Any, ...]:
    """A cheap fingerprint of what the live pages show: the newest alerts with their states,
    the newest refused delivery and the halt flags. Two equal markers: nothing to redraw."""
    newest = journal._read(
        "SELECT alert_id, state FROM alerts ORDER BY received_at DESC LIMIT 50")
    refused = journal._read("SELECT max(id) FROM refused")
    flags = journal._read("SELECT name, value FROM flags WHERE name LIKE ?", ("halt%",))
    return (tuple(map(tuple, newest)), refused[0][0] if refused else None,
            tuple(sorted(map(tuple, flags))))
