"""A loopback fake of Tradovate's REST API (``/v1``), as a raw ASGI app.

It follows the documented request and answer shapes and refuses what Tradovate refuses:
wrong credentials (``errorText``), a missing, unknown or expired bearer token (HTTP 401), the
renewal of an expired token, an account of another user, a contract it does not list, a
quantity that is not a positive whole number, a limit or stop price off the tick or missing
(``InvalidPrice``), a position beyond the account's limit (``MaxPosLimitReached``), and a
cancel of an order that no longer works (``TooLate``). Penalty tickets can be scripted
(``penalize``): the endpoint then answers ``p-ticket`` / ``p-time`` until the identical body
comes back carrying the ticket. The fake is stricter than the documentation in one place, on
purpose: an order without ``isAutomated: true`` is refused, since no human enters these.

Market orders and marketable limit orders fill at the contract's price (``set_price``);
stops trigger when the price reaches them; other orders work until ``set_price`` crosses
them. OSO brackets are placed when their entry fills and cancel each other. Positions are
net per contract; closing fills move the cash balance by the profit or loss.

Tokens live ``token_seconds`` on the fake's clock (a test passes its ``FakeClock``).

Run in-process with ``httpx.ASGITransport(app=fake)`` or as a server with
``python -m router_propfirms.fake.tradovate --port N`` (127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..futures import SPECS
from ..wire import loads
from .asgi import Clock, Receive, Scope, Send, SystemClock, read_request, send_json

FAKE_USERNAME = "fake-tradovate-trader"
FAKE_PASSWORD = "fake-tradovate-password-loopback"  # noqa: S105 - a loopback fake's
FAKE_APP_ID = "alert-router"
FAKE_CID = "4242"
FAKE_SEC = "fake-tradovate-sec-loopback-only"
TOKEN_SECONDS = 80 * 60
MAX_POSITION = 50  # contracts per contract and account, like a prop account's limit
START_CASH = Decimal(50_000)
MARGIN_PER_CONTRACT = Decimal(500)

DEFAULT_PRICES = {"ES": "6000", "MES": "6000", "NQ": "21000", "MNQ": "21000", "RTY": "2300",
                  "M2K": "2300", "YM": "44000", "MYM": "44000", "6E": "1.08", "ZB": "118",
                  "ZN": "110", "CL": "70", "MCL": "70", "GC": "2650", "MGC": "2650",
                  "SI": "31", "MBT": "95000"}
_NAME = re.compile(r"^([A-Z0-9]{1,4}?)([FGHJKMNQUVXZ])(\d)$")

class Failure(Exception):
    """A business refusal: answered as HTTP 200 with ``failureReason`` / ``failureText``."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


@dataclass
class FakeOrder:
    id: int
    account_id: int
    contract_id: int
    action: str  # Buy | Sell
    qty: int
    order_type: str  # Market | Limit | Stop
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str | None
    cl_ord_id: str | None
    timestamp: str
    status: str = "Working"
    brackets: list[dict[str, Any]] = field(default_factory=list)
    oco_id: int | None = None

    @property
    def sign(self) -> int:
        return 1 if self.action == "Buy" else -1


@dataclass
class FakePosition:
    net_pos: int = 0
    net_price: Decimal | None = None
    bought: int = 0
    sold: int = 0


class FakeTradovate:
    """The fake venue; an ASGI application. State is plain attributes, for tests."""

    def __init__(self, *, clock: Clock | None = None, accounts: int = 1) -> None:
        self.clock: Clock = clock or SystemClock()
        self.token_seconds = TOKEN_SECONDS
        self.max_position = MAX_POSITION
        self.users = {FAKE_USERNAME: (FAKE_PASSWORD, FAKE_APP_ID, FAKE_CID, FAKE_SEC)}
        self.accounts: list[dict[str, Any]] = [
            {"id": 70001 + n, "name": f"DEMO{70001 + n}", "userId": 1,
             "accountType": "Customer", "active": True} for n in range(accounts)]
        self.tokens: dict[str, float] = {}  # token -> expiry (Unix seconds)
        self.token_requests = 0
        self.renewals = 0
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, body)
        self.orders: dict[int, FakeOrder] = {}
        self.commands: list[dict[str, Any]] = []
        self.fills: list[dict[str, Any]] = []
        self.positions: dict[tuple[int, int], FakePosition] = {}
        self.cash: dict[int, Decimal] = {a["id"]: START_CASH for a in self.accounts}
        self.contracts: dict[str, int] = {}
        self.prices: dict[str, Decimal] = {}
        self.penalties: dict[str, tuple[int, bool]] = {}  # path -> (p-time, p-captcha)
        self.tickets: dict[str, str] = {}  # ticket -> path it was issued for
        self.drops: list[str] = []  # paths whose next answer is lost after it is carried out
        self._ids = itertools.count(1000)

    # -- test controls ------------------------------------------------------------------------

    def set_price(self, name: str, price: Decimal | str) -> None:
        """Move ``name``'s price and work the orders it crosses."""
        self.prices[name] = Decimal(price)
        contract_id = self.contract_id(name)
        for order in [o for o in self.orders.values() if o.contract_id == contract_id]:
            if order.status == "Working":
                self._work(order)

    def price(self, name: str) -> Decimal:
        if name not in self.prices:
            match = _NAME.match(name)
            root = match.group(1) if match else ""
            self.prices[name] = Decimal(DEFAULT_PRICES.get(root, "100"))
        return self.prices[name]

    def contract_id(self, name: str) -> int:
        if name not in self.contracts:
            self.contracts[name] = 3_000_000 + len(self.contracts)
        return self.contracts[name]

    def contract_name(self, contract_id: int) -> str:
        return next(name for name, cid in self.contracts.items() if cid == contract_id)

    def penalize(self, path: str, seconds: int = 2, *, captcha: bool = False) -> None:
        """The next request to ``path`` gets a penalty ticket instead of an answer."""
        self.penalties[path] = (seconds, captcha)

    def drop_next(self, path: str) -> None:
        """Carry out the next request to ``path`` and never answer it."""
        self.drops.append(path)

    def expire_tokens(self) -> None:
        """Every token expires now (as after a long sleep)."""
        self.tokens = dict.fromkeys(self.tokens, 0.0)

    def position_of(self, name: str, account_id: int | None = None) -> int:
        account = account_id or self.accounts[0]["id"]
        return self.positions.get((account, self.contract_id(name)), FakePosition()).net_pos

    @property
    def placed(self) -> list[dict[str, Any]]:
        """The bodies of every authenticated placeorder / placeoso, in arrival order."""
        return [b for m, p, b in self.requests if p in ("/v1/order/placeorder",
                                                        "/v1/order/placeoso")]

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        status, answer = self.handle(request.method, request.path, request.headers,
                                     request.query, request.body)
        if request.path in self.drops and status == 200:
            self.drops.remove(request.path)
            await asyncio.Event().wait()  # carried out; the answer never comes
        await send_json(send, status, answer)

    def handle(self, method: str, path: str, headers: dict[str, str], query: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        """One request: ``(HTTP status, answer)``."""
        route = ROUTES.get((method, path))
        if route is None:
            return 404, None
        body: Any = None
        if method == "POST":
            try:
                body = loads(raw or b"{}")
            except ValueError:
                return 400, None
            if not isinstance(body, dict):
                return 400, None
        ticket = self._penalty(path, body)
        if ticket is not None:
            return 200, ticket
        if path == "/v1/auth/accesstokenrequest":
            return 200, self._token_request(body)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0.0) <= self.clock.time():
            return 401, None  # unknown or expired
        self.requests.append((method, path, body))
        try:
            return 200, route(self, token, body if body is not None else query)
        except Failure as failure:
            return 200, {"failureReason": failure.reason, "failureText": failure.text}
        except LookupError:
            return 404, None

    def _penalty(self, path: str, body: Any) -> dict[str, Any] | None:
        if isinstance(body, dict) and body.get("p-ticket") in self.tickets:
            self.tickets.pop(body.pop("p-ticket"))
            return None
        if path not in self.penalties:
            return None
        seconds, captcha = self.penalties.pop(path)
        ticket = secrets.token_hex(8)
        self.tickets[ticket] = path
        return {"p-ticket": ticket, "p-time": seconds, "p-captcha": captcha}

    # -- auth -----------------------------------------------------------------------------------

    def _token_request(self, body: dict[str, Any]) -> dict[str, Any]:
        self.token_requests += 1
        expected = self.users.get(str(body.get("name")))
        given = (body.get("password"), body.get("appId"), str(body.get("cid")), body.get("sec"))
        if expected is None or given != expected:
            return {"errorText": "Incorrect username or password. Please try again."}
        return {**self._issue(), "userId": 1, "name": body["name"], "userStatus": "Active",
                "hasLive": False}

    def _issue(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        expiry = self.clock.time() + self.token_seconds
        self.tokens[token] = expiry
        return {"accessToken": token, "mdAccessToken": secrets.token_urlsafe(24),
                "expirationTime": _iso(expiry)}

    def renew(self, token: str, _: Any) -> dict[str, Any]:
        self.renewals += 1
        self.tokens.pop(token)
        return self._issue()

    # -- reads ----------------------------------------------------------------------------------

    def account_list(self, token: str, _: Any) -> list[dict[str, Any]]:
        return self.accounts

    def contract_find(self, token: str, query: dict[str, str]) -> dict[str, Any]:
        name = query.get("name", "")
        match = _NAME.match(name)
        if match is None or match.group(1) not in SPECS:
            raise LookupError(name)
        return {"id": self.contract_id(name), "name": name, "contractMaturityId": 1}

    def contract_item(self, token: str, query: dict[str, str]) -> dict[str, Any]:
        contract_id = int(query.get("id", "0"))
        if contract_id not in self.contracts.values():
            raise LookupError(contract_id)
        return {"id": contract_id, "name": self.contract_name(contract_id),
                "contractMaturityId": 1}

    def position_list(self, token: str, _: Any) -> list[dict[str, Any]]:
        return [{"id": n, "accountId": account, "contractId": contract, "netPos": p.net_pos,
                 "netPrice": p.net_price, "bought": p.bought, "sold": p.sold, "prevPos": 0,
                 "timestamp": _iso(self.clock.time())}
                for n, ((account, contract), p) in enumerate(self.positions.items(), 1)]

    def order_item(self, token: str, query: dict[str, str]) -> dict[str, Any]:
        order = self.orders[int(query.get("id", "0"))]
        return {"id": order.id, "accountId": order.account_id, "contractId": order.contract_id,
                "timestamp": order.timestamp, "action": order.action,
                "ordStatus": order.status, "admin": False, "ocoId": order.oco_id}

    def order_list(self, token: str, _: Any) -> list[dict[str, Any]]:
        own = self._own_ids()
        return [self.order_item(token, {"id": str(o.id)}) for o in self.orders.values()
                if o.account_id in own]

    def order_versions(self, token: str, query: dict[str, str]) -> list[dict[str, Any]]:
        order = self.orders.get(int(query.get("masterid", "0")))
        if order is None:
            return []
        return [{"id": order.id, "orderId": order.id, "orderQty": order.qty,
                 "orderType": order.order_type, "price": order.price,
                 "stopPrice": order.stop_price, "timeInForce": order.time_in_force}]

    def order_fills(self, token: str, query: dict[str, str]) -> list[dict[str, Any]]:
        master = int(query.get("masterid", "0"))
        return [f for f in self.fills if f["orderId"] == master]

    def command_list(self, token: str, _: Any) -> list[dict[str, Any]]:
        return self.commands

    def cash_snapshot(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._account(body)
        open_pnl, margin = Decimal(0), Decimal(0)
        for (owner, contract), position in self.positions.items():
            if owner != account or not position.net_pos or position.net_price is None:
                continue
            name = self.contract_name(contract)
            point = SPECS[_NAME.match(name).group(1)].point_value  # type: ignore[union-attr]
            open_pnl += (self.price(name) - position.net_price) * position.net_pos * point
            margin += abs(position.net_pos) * MARGIN_PER_CONTRACT
        cash = self.cash[account]
        return {"totalCashValue": cash, "netLiq": cash + open_pnl, "openPnL": open_pnl,
                "initialMargin": margin, "maintenanceMargin": margin}

    # -- commands -------------------------------------------------------------------------------

    def place_order(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        order = self._new_order(body)
        self._work(order)
        return {"orderId": order.id}

    def place_oso(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("bracket1"), dict):
            raise Failure("Unsupported", "bracket1 is required")
        order = self._new_order(body)
        order.brackets = [b for b in (body.get("bracket1"), body.get("bracket2"))
                          if isinstance(b, dict)]
        for bracket in order.brackets:
            if bracket.get("action") == order.action:
                raise Failure("Unsupported", "a bracket must exit the entry's side")
        self._work(order)
        return {"orderId": order.id}

    def cancel_order(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(body.get("orderId"))  # type: ignore[arg-type]
        if order is None or order.account_id not in self._own_ids():
            raise Failure("Unauthorized", "no such order on your accounts")
        if order.status != "Working":
            raise Failure("TooLate", f"the order is {order.status}")
        order.status = "Canceled"
        return {"commandId": self._command(order, "Cancel", None)}

    def liquidate(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        account = self._account(body)
        contract = body.get("contractId")
        position = self.positions.get((account, contract))  # type: ignore[arg-type]
        for order in self.orders.values():
            if (order.account_id, order.contract_id) == (account, contract) \
                    and order.status == "Working":
                order.status = "Canceled"
        if position is None or position.net_pos == 0:
            return {"orderId": None}
        order = self._record(account, int(contract or 0), "Sell" if position.net_pos > 0 else "Buy",
                             abs(position.net_pos), "Market", None, None, None, None)
        self._work(order)
        return {"orderId": order.id}

    # -- the engine -----------------------------------------------------------------------------

    def _own_ids(self) -> set[int]:
        return {a["id"] for a in self.accounts}

    def _account(self, body: dict[str, Any]) -> int:
        account = body.get("accountId")
        if account not in self._own_ids():
            raise Failure("Unauthorized", f"account {account} is not yours")
        return int(account)

    def _new_order(self, body: dict[str, Any]) -> FakeOrder:
        account = self._account(body)
        spec = body.get("accountSpec")
        if spec is not None and spec != next(a["name"] for a in self.accounts
                                             if a["id"] == account):
            raise Failure("Unauthorized", f"accountSpec {spec!r} does not name account {account}")
        if body.get("isAutomated") is not True:
            raise Failure("Unsupported", "isAutomated must be true for orders no human entered")
        name = str(body.get("symbol", ""))
        match = _NAME.match(name)
        if match is None or match.group(1) not in SPECS:
            raise Failure("InvalidContract", f"unknown contract {name!r}")
        qty = body.get("orderQty")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            raise Failure("Unsupported", f"orderQty {qty!r} is not a positive whole number")
        action, kind = body.get("action"), body.get("orderType")
        if action not in ("Buy", "Sell") or kind not in ("Market", "Limit", "Stop"):
            raise Failure("Unsupported", f"action {action!r} / orderType {kind!r}")
        tick = SPECS[match.group(1)].tick_size
        price = _price(body.get("price"), tick, required=kind == "Limit")
        stop = _price(body.get("stopPrice"), tick, required=kind == "Stop")
        contract = self.contract_id(name)
        held = self.positions.get((account, contract), FakePosition()).net_pos
        if abs(held + qty * (1 if action == "Buy" else -1)) > self.max_position:
            raise Failure("MaxPosLimitReached",
                          f"the position limit of {self.max_position} would be exceeded")
        cl_ord_id = body.get("clOrdId")
        return self._record(account, contract, str(action), qty, str(kind), price, stop,
                            body.get("timeInForce"),
                            cl_ord_id if isinstance(cl_ord_id, str) else None)

    def _record(self, account: int, contract: int, action: str, qty: int, kind: str,
                price: Decimal | None, stop: Decimal | None, tif: str | None,
                cl_ord_id: str | None) -> FakeOrder:
        order = FakeOrder(next(self._ids), account, contract, action, qty, kind, price, stop,
                          tif, cl_ord_id, _iso(self.clock.time()))
        self.orders[order.id] = order
        self._command(order, "New", cl_ord_id)
        return order

    def _command(self, order: FakeOrder, kind: str, cl_ord_id: str | None) -> int:
        command_id = next(self._ids)
        self.commands.append({"id": command_id, "orderId": order.id, "clOrdId": cl_ord_id,
                              "commandType": kind, "commandStatus": "RiskPassed",
                              "timestamp": _iso(self.clock.time()), "isAutomated": True})
        return command_id

    def _work(self, order: FakeOrder) -> None:
        name = self.contract_name(order.contract_id)
        market = self.price(name)
        fill_at: Decimal | None = None
        if order.order_type == "Market":
            fill_at = market
        elif order.order_type == "Limit":
            assert order.price is not None
            if (order.sign > 0 and market <= order.price) or \
                    (order.sign < 0 and market >= order.price):
                fill_at = market
        elif order.stop_price is not None and (
                (order.sign > 0 and market >= order.stop_price)
                or (order.sign < 0 and market <= order.stop_price)):
            fill_at = market
        if fill_at is not None:
            self._fill(order, fill_at)
        elif order.time_in_force in ("IOC", "FOK"):
            order.status = "Expired"

    def _fill(self, order: FakeOrder, price: Decimal) -> None:
        order.status = "Filled"
        self.fills.append({"id": next(self._ids), "orderId": order.id,
                           "contractId": order.contract_id, "timestamp": _iso(self.clock.time()),
                           "action": order.action, "qty": order.qty, "price": price,
                           "active": True, "finallyPaired": 0})
        position = self.positions.setdefault((order.account_id, order.contract_id),
                                             FakePosition())
        self._apply(order, position, price)
        if order.oco_id is not None:  # one bracket filled: its sibling is cancelled
            for sibling in self.orders.values():
                if sibling.oco_id == order.oco_id and sibling.status == "Working":
                    sibling.status = "Canceled"
        self._place_brackets(order)

    def _apply(self, order: FakeOrder, position: FakePosition, price: Decimal) -> None:
        signed = order.qty * order.sign
        held = position.net_pos
        if order.sign > 0:
            position.bought += order.qty
        else:
            position.sold += order.qty
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding
            cost = (position.net_price or Decimal(0)) * abs(held) + price * order.qty
            position.net_pos = held + signed
            position.net_price = cost / abs(position.net_pos)
            return
        closed = min(abs(held), order.qty)
        name = self.contract_name(order.contract_id)
        point = SPECS[_NAME.match(name).group(1)].point_value  # type: ignore[union-attr]
        assert position.net_price is not None
        direction = 1 if held > 0 else -1
        self.cash[order.account_id] += (price - position.net_price) * closed * direction * point
        position.net_pos = held + signed
        if position.net_pos == 0:
            position.net_price = None
        elif (position.net_pos > 0) != (held > 0):  # flipped: the rest opened at price
            position.net_price = price

    def _place_brackets(self, entry: FakeOrder) -> None:
        if not entry.brackets:
            return
        oco = next(self._ids) if len(entry.brackets) == 2 else None
        name = self.contract_name(entry.contract_id)
        tick = SPECS[_NAME.match(name).group(1)].tick_size  # type: ignore[union-attr]
        children = []
        for bracket in entry.brackets:
            kind = str(bracket.get("orderType"))
            child = self._record(
                entry.account_id, entry.contract_id, str(bracket.get("action")), entry.qty,
                kind, _price(bracket.get("price"), tick, required=kind == "Limit"),
                _price(bracket.get("stopPrice"), tick, required=kind == "Stop"),
                bracket.get("timeInForce"), bracket.get("clOrdId"))
            child.oco_id = oco
            children.append(child)
        entry.brackets = []
        for child in children:
            if child.status == "Working":
                self._work(child)


def _price(value: object, tick: Decimal, *, required: bool) -> Decimal | None:
    if value is None:
        if required:
            raise Failure("InvalidPrice", "the order type needs a price")
        return None
    try:
        price = Decimal(str(value))
    except ArithmeticError:
        raise Failure("InvalidPrice", f"price {value!r} is not a number") from None
    if price <= 0 or price % tick != 0:
        raise Failure("InvalidPrice", f"price {price} is not on the tick {tick}")
    return price


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


Route = Callable[[FakeTradovate, str, Any], Any]
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/auth/accesstokenrequest"): lambda fake, token, body: None,
    ("GET", "/v1/auth/renewaccesstoken"): FakeTradovate.renew,
    ("GET", "/v1/account/list"): FakeTradovate.account_list,
    ("GET", "/v1/contract/find"): FakeTradovate.contract_find,
    ("GET", "/v1/contract/item"): FakeTradovate.contract_item,
    ("GET", "/v1/position/list"): FakeTradovate.position_list,
    ("GET", "/v1/order/item"): FakeTradovate.order_item,
    ("GET", "/v1/order/list"): FakeTradovate.order_list,
    ("GET", "/v1/orderVersion/deps"): FakeTradovate.order_versions,
    ("GET", "/v1/fill/deps"): FakeTradovate.order_fills,
    ("GET", "/v1/command/list"): FakeTradovate.command_list,
    ("POST", "/v1/cashBalance/getcashbalancesnapshot"): FakeTradovate.cash_snapshot,
    ("POST", "/v1/order/placeorder"): FakeTradovate.place_order,
    ("POST", "/v1/order/placeoso"): FakeTradovate.place_oso,
    ("POST", "/v1/order/cancelorder"): FakeTradovate.cancel_order,
    ("POST", "/v1/order/liquidateposition"): FakeTradovate.liquidate,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m router_propfirms.fake.tradovate --port N``: serve the fake on 127.0.0.1."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m router_propfirms.fake.tradovate",
        description="A loopback fake of Tradovate's REST API (127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--accounts", type=int, default=1)
    args = parser.parse_args(argv)
    import uvicorn

    print(f"fake Tradovate on http://127.0.0.1:{args.port}/v1 (user {FAKE_USERNAME}, "
          f"app {FAKE_APP_ID}, cid {FAKE_CID})", file=sys.stderr)
    uvicorn.run(FakeTradovate(accounts=args.accounts), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
