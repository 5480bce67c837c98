"""A loopback fake of the ProjectX Gateway API (the REST part), as a raw ASGI app.

It follows the request and answer shapes of the Gateway's documentation and refuses what the
Gateway refuses: a login with a wrong API key, a missing, unknown or expired bearer token
(HTTP 401), an account of another user, an unknown contract, an order size that is not a
positive whole number, a second order with a ``customTag`` already used on the account, a
limit or stop price off the contract's tick. Market orders and marketable limit orders fill at
the contract's price (``set_price``); other orders rest until ``set_price`` crosses them.
Positions are netted per contract and closing fills move the account's balance by the profit
or loss, so prop-firm rules have figures to read.

Its contract roots are the fake's own (``ENQ`` for NQ as the Gateway's documentation shows,
``EP`` for ES, ``CLE`` for CL, ``GCE`` for GC...): a client must read them from
``/api/Contract/search``, never guess them. Which contracts are listed follows the CME
calendars of ``router_propfirms.futures`` on the fake's clock (the ones still trading, up to
four per root); ``activeContract`` marks the first one not yet rolled.

Run in-process with ``httpx.ASGITransport(app=fake)`` or as a server with
``python -m router_propfirms.fake.projectx --port N`` (127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..futures import SPECS, Contract, front_contract
from .asgi import Clock, Receive, Scope, Send, SystemClock, read_request, send_json

FAKE_USERNAME = "fake-projectx-trader"
FAKE_API_KEY = "fake-projectx-api-key-loopback-only"
TOKEN_SECONDS = 24 * 3600

# The fake's venue roots (illustrative; a client reads them from Contract/search).
VENUE_ROOTS = {"NQ": "ENQ", "ES": "EP", "CL": "CLE", "GC": "GCE", "SI": "SIE", "6E": "EU6",
               "ZB": "USA", "ZN": "TYA", "YM": "YM", "RTY": "RTY"}
DEFAULT_PRICES = {"ES": "6000", "MES": "6000", "NQ": "21000", "MNQ": "21000", "RTY": "2300",
                  "M2K": "2300", "YM": "44000", "MYM": "44000", "6E": "1.08", "ZB": "118",
                  "ZN": "110", "CL": "70", "MCL": "70", "GC": "2650", "MGC": "2650",
                  "SI": "31", "MBT": "95000"}

# Order types, sides, statuses as the Gateway numbers them (Order/place, Order/search).
LIMIT, MARKET, STOP, TRAILING_STOP = 1, 2, 4, 5
BUY, SELL = 0, 1
OPEN, FILLED, CANCELLED = 1, 2, 3
LONG, SHORT = 1, 2

class Refused(Exception):
    """An answer ``{success: false, errorCode, errorMessage}`` (HTTP 200, as the Gateway)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FakeOrder:
    id: int
    account_id: int
    contract_id: str
    type: int
    side: int
    size: int
    created: float
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    custom_tag: str | None = None
    status: int = OPEN
    fill_volume: int = 0
    filled_price: Decimal | None = None
    linked_to: int | None = None
    updated: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id, "accountId": self.account_id, "contractId": self.contract_id,
            "creationTimestamp": _iso(self.created),
            "updateTimestamp": _iso(self.updated or self.created), "status": self.status,
            "type": self.type, "side": self.side, "size": self.size,
            "limitPrice": _num(self.limit_price), "stopPrice": _num(self.stop_price),
            "fillVolume": self.fill_volume, "filledPrice": _num(self.filled_price),
            "customTag": self.custom_tag,
        }


@dataclass
class FakePosition:
    size: int = 0  # signed: positive long
    average_price: Decimal = Decimal(0)
    opened: float = 0.0


@dataclass
class FakeAccount:
    id: int
    name: str
    owner: str
    balance: Decimal = Decimal("50000")
    can_trade: bool = True
    positions: dict[str, FakePosition] = field(default_factory=dict)
    max_size: int = 50  # contracts per order the firm allows


@dataclass
class Drop:
    """Carry out the next request to ``path``, then never answer it."""

    path: str


class FakeProjectX:
    """The fake gateway. All state is plain attributes, for tests to read and change."""

    def __init__(self, *, clock: Clock | None = None, users: dict[str, str] | None = None,
                 accounts: int = 1, balance: Decimal = Decimal("50000")) -> None:
        self.clock = clock or SystemClock()
        self.users = dict(users or {FAKE_USERNAME: FAKE_API_KEY})
        owner = next(iter(self.users))
        self.accounts: dict[int, FakeAccount] = {}
        for n in range(accounts):
            self.add_account(f"EVAL-{n + 1:02d}", owner=owner, balance=balance)
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self.orders: list[FakeOrder] = []
        self.prices: dict[str, Decimal] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (path, body), tokens left out
        self.logins = 0
        self.drops: list[Drop] = []
        self.token_seconds = TOKEN_SECONDS
        self._next_order = 9000

    # -- setup helpers for tests ---------------------------------------------------------------

    def add_account(self, name: str, *, owner: str | None = None,
                    balance: Decimal = Decimal("50000")) -> FakeAccount:
        account_id = 1000 + len(self.accounts) + 1
        account = FakeAccount(account_id, name, owner or next(iter(self.users)), balance)
        self.accounts[account_id] = account
        return account

    def account(self, name: str) -> FakeAccount:
        return next(a for a in self.accounts.values() if a.name == name)

    def drop_next(self, path: str) -> None:
        """The next request to ``path`` is carried out and never answered."""
        self.drops.append(Drop(path))

    def revoke_tokens(self) -> None:
        """Forget every session token, as a gateway restart would."""
        self.tokens.clear()

    def contracts(self) -> list[dict[str, Any]]:
        """Every contract the fake lists today, as Contract/search rows."""
        today = datetime.fromtimestamp(self.clock.time(), UTC).date()
        rows = []
        for root, spec in SPECS.items():
            venue_root = VENUE_ROOTS.get(root, root)
            active = front_contract(spec, today)
            contract = front_contract(spec, today, roll_days=0)
            if contract.last_trading_day < today:
                contract = contract.next_in_cycle()
            for _ in range(4):
                rows.append(self._contract_row(contract, venue_root, contract == active))
                contract = contract.next_in_cycle()
        return rows

    def _contract_row(self, contract: Contract, venue_root: str, active: bool) -> dict[str, Any]:
        spec = contract.spec
        code = f"{contract.month_code}{contract.year % 100:02d}"
        month = datetime(contract.year, contract.month, 1).strftime("%B %Y")
        return {
            "id": f"CON.F.US.{venue_root}.{code}", "name": f"{venue_root}{code}",
            "description": f"{spec.description}: {month}",
            "tickSize": float(spec.tick_size), "tickValue": float(spec.tick_size
                                                                  * spec.point_value),
            "activeContract": active, "symbolId": f"F.US.{venue_root}",
        }

    def price_of(self, contract_id: str) -> Decimal:
        if contract_id in self.prices:
            return self.prices[contract_id]
        venue_root = contract_id.split(".")[3]
        root = next((r for r, v in VENUE_ROOTS.items() if v == venue_root), venue_root)
        return Decimal(DEFAULT_PRICES.get(root, "100"))

    def set_price(self, contract_id: str, price: Decimal | str) -> None:
        """Move the contract's price; resting orders it crosses fill at their price."""
        self.prices[contract_id] = Decimal(str(price))
        for order in list(self.orders):
            if order.status == OPEN and order.contract_id == contract_id:
                fill = self._crossed(order, self.prices[contract_id])
                if fill is not None:
                    self._fill(order, fill)

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        status, answer = self.handle(request.method, request.path, request.headers, request.body)
        drop = next((d for d in self.drops if d.path == request.path), None)
        if drop is not None and status == 200:
            self.drops.remove(drop)
            await asyncio.Event().wait()  # carried out; the answer never comes
        await send_json(send, status, answer)

    def handle(self, method: str, path: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, dict[str, Any] | None]:
        """One request: ``(HTTP status, answer)``."""
        if method != "POST":
            return 405, None
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"title": "the body is not JSON"}
        if not isinstance(body, dict):
            return 400, {"title": "the body must be a JSON object"}
        if path == "/api/Auth/loginKey":
            return 200, self._login(body)
        user = self._user(headers.get("authorization", ""))
        if user is None:
            return 401, None
        self.requests.append((path, body))
        handler = ROUTES.get(path)
        if handler is None:
            return 404, None
        try:
            data = handler(self, user, body)
        except Refused as refused:
            return 200, {"success": False, "errorCode": refused.code,
                         "errorMessage": refused.message}
        return 200, {**data, "success": True, "errorCode": 0, "errorMessage": None}

    # -- auth ----------------------------------------------------------------------------------

    def _login(self, body: dict[str, Any]) -> dict[str, Any]:
        user, key = body.get("userName"), body.get("apiKey")
        if not isinstance(user, str) or self.users.get(user) != key:
            # [assumed] code 3 for bad credentials on loginKey
            return {"token": None, "success": False, "errorCode": 3,
                    "errorMessage": "invalid user name or API key"}
        expires = self.clock.time() + self.token_seconds
        claims = {"sub": user, "exp": int(expires)}
        token = ".".join((
            _b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(json.dumps(claims).encode()),
            secrets.token_urlsafe(16),
        ))
        self.tokens[token] = (user, expires)
        self.logins += 1
        return {"token": token, "success": True, "errorCode": 0, "errorMessage": None}

    def _user(self, authorization: str) -> str | None:
        if not authorization.startswith("Bearer "):
            return None
        found = self.tokens.get(authorization.removeprefix("Bearer "))
        if found is None or found[1] <= self.clock.time():
            return None
        return found[0]

    def _own_account(self, user: str, body: dict[str, Any]) -> FakeAccount:
        account = self.accounts.get(body.get("accountId"))  # type: ignore[arg-type]
        if account is None or account.owner != user:
            raise Refused(1, "account not found")
        return account

    # -- endpoints -----------------------------------------------------------------------------

    def account_search(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = [{"id": a.id, "name": a.name, "balance": float(a.balance),
                 "canTrade": a.can_trade, "isVisible": True}
                for a in self.accounts.values() if a.owner == user]
        return {"accounts": rows}

    def contract_search(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        text = str(body.get("searchText") or "").lower()
        rows = [row for row in self.contracts()
                if text in row["name"].lower() or text in row["description"].lower()
                or text in row["symbolId"].lower()]
        return {"contracts": rows[:20]}  # the Gateway answers at most 20 [secondary]

    def order_place(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        contract = self._contract(body.get("contractId"))
        kind, side, size = body.get("type"), body.get("side"), body.get("size")
        if kind not in (LIMIT, MARKET, STOP, TRAILING_STOP):
            raise Refused(2, f"order type {kind!r} is not supported")
        if side not in (BUY, SELL):
            raise Refused(2, f"side {side!r} is not 0 (bid) or 1 (ask)")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise Refused(2, f"invalid order size {size!r}: a positive whole number of "
                             "contracts")
        if size > account.max_size:
            raise Refused(2, f"order size {size} exceeds the account's maximum "
                             f"{account.max_size}")
        if not account.can_trade:
            raise Refused(4, "the account cannot trade (rule violation)")
        tag = body.get("customTag")
        if tag is not None and any(o.custom_tag == tag and o.account_id == account.id
                                   for o in self.orders):
            raise Refused(2, "an order with this custom tag already exists on the account")
        tick = Decimal(str(contract["tickSize"]))
        limit = self._price(body.get("limitPrice"), tick, "limitPrice")
        stop = self._price(body.get("stopPrice"), tick, "stopPrice")
        trail = self._price(body.get("trailPrice"), tick, "trailPrice")
        if kind == LIMIT and limit is None:
            raise Refused(2, "a limit order needs limitPrice")
        if kind == STOP and stop is None:
            raise Refused(2, "a stop order needs stopPrice")
        if kind == TRAILING_STOP:
            if trail is None:
                raise Refused(2, "a trailing stop needs trailPrice")
            stop = trail
        now = self.clock.time()
        self._next_order += 1
        order = FakeOrder(self._next_order, account.id, contract["id"], kind, side, size, now,
                          limit_price=limit, stop_price=stop, custom_tag=tag)
        self.orders.append(order)
        fill = self._crossed(order, self.price_of(order.contract_id))
        if fill is not None:
            self._fill(order, fill)
            self._brackets(order, body, tick)
        return {"orderId": order.id}

    def order_search(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        start = _parse_iso(body.get("startTimestamp"))
        end = _parse_iso(body.get("endTimestamp"))
        if start is None:
            raise Refused(2, "startTimestamp is required")
        rows = [o.row() for o in self.orders if o.account_id == account.id
                and o.created >= start and (end is None or o.created <= end)]
        return {"orders": rows}

    def order_search_open(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        return {"orders": [o.row() for o in self.orders
                           if o.account_id == account.id and o.status == OPEN]}

    def order_cancel(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        order = next((o for o in self.orders if o.id == body.get("orderId")
                      and o.account_id == account.id), None)
        if order is None or order.status != OPEN:
            raise Refused(2, "order not found or not open")
        order.status, order.updated = CANCELLED, self.clock.time()
        return {}

    def position_search_open(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        rows = [{"id": index + 1, "accountId": account.id, "contractId": contract_id,
                 "creationTimestamp": _iso(p.opened), "type": LONG if p.size > 0 else SHORT,
                 "size": abs(p.size), "averagePrice": float(p.average_price)}
                for index, (contract_id, p) in enumerate(sorted(account.positions.items()))
                if p.size != 0]
        return {"positions": rows}

    def position_close(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._own_account(user, body)
        contract = self._contract(body.get("contractId"))
        position = account.positions.get(contract["id"])
        if position is None or position.size == 0:
            raise Refused(2, "no open position on the contract")
        self._next_order += 1
        side = SELL if position.size > 0 else BUY
        order = FakeOrder(self._next_order, account.id, contract["id"], MARKET, side,
                          abs(position.size), self.clock.time())
        self.orders.append(order)
        self._fill(order, self.price_of(order.contract_id))
        return {}

    # -- the engine ----------------------------------------------------------------------------

    def _contract(self, contract_id: object) -> dict[str, Any]:
        row = next((c for c in self.contracts() if c["id"] == contract_id), None)
        if row is None:
            raise Refused(8, f"contract {contract_id!r} not found")
        return row

    @staticmethod
    def _price(value: object, tick: Decimal, name: str) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise Refused(2, f"{name} must be a number")
        price = Decimal(str(value))
        if price <= 0 or price % tick != 0:
            raise Refused(2, f"{name} {value} is not on the tick {tick}")
        return price

    @staticmethod
    def _crossed(order: FakeOrder, price: Decimal) -> Decimal | None:
        """The fill price if ``order`` executes at market ``price`` now, else ``None``."""
        buy = order.side == BUY
        if order.type == MARKET:
            return price
        if order.type == LIMIT:
            assert order.limit_price is not None
            marketable = price <= order.limit_price if buy else price >= order.limit_price
            return price if marketable else None
        assert order.stop_price is not None
        triggered = price >= order.stop_price if buy else price <= order.stop_price
        return price if triggered else None

    def _fill(self, order: FakeOrder, price: Decimal) -> None:
        account = self.accounts[order.account_id]
        order.status, order.fill_volume, order.filled_price = FILLED, order.size, price
        order.updated = self.clock.time()
        contract = self._contract(order.contract_id)
        point_value = Decimal(str(contract["tickValue"])) / Decimal(str(contract["tickSize"]))
        position = account.positions.setdefault(order.contract_id, FakePosition())
        signed = order.size if order.side == BUY else -order.size
        before = position.size
        if before == 0 or (before > 0) == (signed > 0):
            total = abs(before) + abs(signed)
            position.average_price = ((position.average_price * abs(before)
                                       + price * abs(signed)) / total)
            position.opened = position.opened or order.updated
        else:
            closed = min(abs(before), abs(signed))
            direction = 1 if before > 0 else -1
            account.balance += closed * (price - position.average_price) * direction \
                * point_value
            if abs(signed) > abs(before):
                position.average_price, position.opened = price, order.updated
        position.size = before + signed
        if position.size == 0:
            position.average_price, position.opened = Decimal(0), 0.0
            for child in self.orders:  # brackets of a closed position go with it
                if child.linked_to is not None and child.contract_id == order.contract_id \
                        and child.status == OPEN and child.account_id == account.id:
                    child.status = CANCELLED

    def _brackets(self, entry: FakeOrder, body: dict[str, Any], tick: Decimal) -> None:
        """Attach the stop-loss and take-profit brackets of a filled entry (ticks away)."""
        assert entry.filled_price is not None
        exit_side = SELL if entry.side == BUY else BUY
        away = -1 if entry.side == BUY else 1  # a long's stop sits below its entry
        for key, kind, direction in (("stopLossBracket", STOP, away),
                                     ("takeProfitBracket", LIMIT, -away)):
            bracket = body.get(key)
            if not isinstance(bracket, dict):
                continue
            ticks = bracket.get("ticks")
            if not isinstance(ticks, int) or ticks <= 0:
                raise Refused(2, f"{key}.ticks must be a positive whole number")
            level = entry.filled_price + direction * ticks * tick
            self._next_order += 1
            child = FakeOrder(self._next_order, entry.account_id, entry.contract_id, kind,
                              exit_side, entry.size, self.clock.time(), linked_to=entry.id,
                              limit_price=level if kind == LIMIT else None,
                              stop_price=level if kind == STOP else None)
            self.orders.append(child)


ROUTES: dict[str, Callable[[FakeProjectX, str, dict[str, Any]], dict[str, Any]]] = {
    "/api/Account/search": FakeProjectX.account_search,
    "/api/Contract/search": FakeProjectX.contract_search,
    "/api/Order/place": FakeProjectX.order_place,
    "/api/Order/search": FakeProjectX.order_search,
    "/api/Order/searchOpen": FakeProjectX.order_search_open,
    "/api/Order/cancel": FakeProjectX.order_cancel,
    "/api/Position/searchOpen": FakeProjectX.position_search_open,
    "/api/Position/closeContract": FakeProjectX.position_close,
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise Refused(2, f"timestamp {value!r} is not ISO 8601") from None


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def main(argv: list[str] | None = None) -> int:
    """``python -m router_propfirms.fake.projectx --port N``: serve the fake on 127.0.0.1."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m router_propfirms.fake.projectx",
        description="A loopback fake of the ProjectX Gateway API (127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=8789)
    parser.add_argument("--accounts", type=int, default=1)
    args = parser.parse_args(argv)
    import uvicorn

    print(f"fake ProjectX on http://127.0.0.1:{args.port} (user {FAKE_USERNAME})",
          file=sys.stderr)
    uvicorn.run(FakeProjectX(accounts=args.accounts), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
