"""A loopback fake of TradeLocker's REST API (``/backend-api``), as a raw ASGI app.

It follows the documented request and answer shapes (``{"s": "ok", "d": ...}``; lists as rows
of values named by ``/trade/config``) and refuses what TradeLocker refuses: a login with a
wrong email, password or server, a missing, unknown or expired bearer token (HTTP 401), a
refresh token that is unknown or used, a ``/trade`` call without the ``accNum`` header or for
another account, an order missing a mandatory field, an order sent on the INFO route instead
of the TRADE route, a validity other than IOC for market and GTC for limit and stop orders, a
quantity under the minimum or off the lot step, a price off the tick, a strategy tag longer
than 31 characters, an order the free margin cannot carry ("Not enough money"), and a cancel
of an order that is no longer open. Refusals are HTTP 400 with ``{"s": "error", "errmsg"}``.

Market orders and marketable limit orders fill at the ask (buys) or the bid (sells) of the
instrument's price (``set_price``); stops trigger when the price reaches them; other orders
stay open until ``set_price`` crosses them. Like TradeLocker, positions are not netted: every
fill opens a position of its own, carrying the order's stop loss and take profit (as orders
of their own, cancelled with the position). ``DELETE /trade/positions/{id}`` closes one,
wholly or in part, and moves the balance by its profit or loss.

Tokens are unsigned JWTs whose ``exp`` claim follows the fake's clock (a test passes its
``FakeClock``): access tokens live ``access_seconds``, refresh tokens ``refresh_seconds``.

Run in-process with ``httpx.ASGITransport(app=fake)`` or as a server with
``python -m router_propfirms.fake.tradelocker --port N`` (127.0.0.1 only).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..wire import loads
from .asgi import Clock, Receive, Scope, Send, SystemClock, read_request, send_json

FAKE_EMAIL = "trader@fake-tradelocker.invalid"
FAKE_PASSWORD = "fake-tradelocker-password-loopback"  # noqa: S105 - a loopback fake's
FAKE_SERVER = "FAKE-FIRM-DEMO"
PREFIX = "/backend-api"
START_BALANCE = Decimal(100_000)

ORDER_COLUMNS = ["id", "tradableInstrumentId", "routeId", "qty", "side", "type", "status",
                 "filledQty", "avgPrice", "price", "stopPrice", "validity", "expireDate",
                 "createdDate", "lastModified", "isOpen", "positionId", "stopLoss",
                 "stopLossType", "takeProfit", "takeProfitType", "strategyId"]
POSITION_COLUMNS = ["id", "tradableInstrumentId", "routeId", "side", "qty", "avgPrice",
                    "stopLossId", "takeProfitId", "openDate", "unrealizedPl", "strategyId"]
ACCOUNT_COLUMNS = ["balance", "projectedBalance", "availableFunds", "blockedBalance",
                   "initialMarginReq", "openGrossPnL", "positionsCount", "ordersCount"]

class Refused(Exception):
    """A refusal: HTTP ``status`` with ``{"s": "error", "errmsg": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class FakeInstrument:
    tradable_id: int
    name: str
    info_route: int
    trade_route: int
    lot_size: Decimal  # units per lot
    lot_step: Decimal
    tick: Decimal
    price: Decimal
    leverage: Decimal
    kind: str = "FOREX"

    @property
    def ask(self) -> Decimal:
        return self.price + self.tick

    @property
    def bid(self) -> Decimal:
        return self.price - self.tick


def _instruments() -> list[FakeInstrument]:
    rows = [
        (278, "EURUSD", "100000", "0.01", "0.00001", "1.08000", "100", "FOREX"),
        (301, "GBPJPY", "100000", "0.01", "0.001", "190.500", "100", "FOREX"),
        (312, "XAUUSD", "100", "0.01", "0.01", "2650.00", "20", "CFD"),
        (4021, "NAS100", "1", "0.1", "0.01", "21000.00", "20", "EQUITY_CFD"),
        (4022, "US30", "1", "0.1", "0.01", "44000.00", "20", "EQUITY_CFD"),
        (5000, "BTCUSD", "1", "0.01", "0.01", "97000.00", "2", "CRYPTO"),
    ]
    return [FakeInstrument(tid, name, tid * 10 + 1, tid * 10 + 2, Decimal(size), Decimal(step),
                           Decimal(tick), Decimal(price), Decimal(leverage), kind)
            for tid, name, size, step, tick, price, leverage, kind in rows]


@dataclass
class FakeOrder:
    id: int
    instrument: FakeInstrument
    side: str
    qty: Decimal
    type: str
    validity: str
    price: Decimal | None
    stop_price: Decimal | None
    strategy_id: str | None
    created: int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    status: str = "New"
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    position_id: int | None = None
    closes: int | None = None  # the position a stop loss / take profit order closes

    @property
    def is_open(self) -> bool:
        return self.status == "New"

    def row(self) -> list[Any]:
        values = {
            "id": str(self.id), "tradableInstrumentId": str(self.instrument.tradable_id),
            "routeId": str(self.instrument.trade_route), "qty": str(self.qty),
            "side": self.side, "type": self.type, "status": self.status,
            "filledQty": str(self.filled_qty), "avgPrice": _text(self.avg_price),
            "price": _text(self.price), "stopPrice": _text(self.stop_price),
            "validity": self.validity, "expireDate": None, "createdDate": str(self.created),
            "lastModified": str(self.created), "isOpen": str(self.is_open).lower(),
            "positionId": _text(self.position_id), "stopLoss": _text(self.stop_loss),
            "stopLossType": "absolute" if self.stop_loss is not None else None,
            "takeProfit": _text(self.take_profit),
            "takeProfitType": "absolute" if self.take_profit is not None else None,
            "strategyId": self.strategy_id,
        }
        return [values[c] for c in ORDER_COLUMNS]


@dataclass
class FakePosition:
    id: int
    instrument: FakeInstrument
    side: str
    qty: Decimal
    avg_price: Decimal
    opened: int
    strategy_id: str | None
    children: list[int] = field(default_factory=list)  # stop loss / take profit orders

    def pnl(self, price: Decimal) -> Decimal:
        direction = 1 if self.side == "buy" else -1
        return (price - self.avg_price) * self.qty * self.instrument.lot_size * direction


class FakeTradeLocker:
    """The fake venue; an ASGI application. State is plain attributes, for tests."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.access_seconds = 3600.0
        self.refresh_seconds = 7 * 24 * 3600.0
        self.users = {FAKE_EMAIL: (FAKE_PASSWORD, FAKE_SERVER)}
        self.accounts = [{"id": "812345", "name": "FIRM-EVAL-100K", "currency": "USD",
                          "accNum": "1", "accountBalance": str(START_BALANCE),
                          "status": "ACTIVE"}]
        self.balance = START_BALANCE
        self.instruments = {i.name: i for i in _instruments()}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (kind, expiry)
        self.logins = 0
        self.refreshes = 0
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, body)
        self.orders: dict[int, FakeOrder] = {}
        self.positions: dict[int, FakePosition] = {}
        self._ids = itertools.count(700_000)

    # -- test controls ------------------------------------------------------------------------

    def set_price(self, name: str, price: Decimal | str) -> None:
        """Move ``name``'s price; work the open orders and the stops it crosses."""
        instrument = self.instruments[name]
        instrument.price = Decimal(price)
        for order in [o for o in self.orders.values()
                      if o.instrument is instrument and o.is_open]:
            self._work(order)

    def expire_tokens(self) -> None:
        """Every access token expires now; refresh tokens still work."""
        self.tokens = {t: (k, 0.0 if k == "access" else e) for t, (k, e) in self.tokens.items()}

    def net_position(self, name: str) -> Decimal:
        return sum((p.qty if p.side == "buy" else -p.qty for p in self.positions.values()
                    if p.instrument.name == name), Decimal(0))

    @property
    def placed(self) -> list[dict[str, Any]]:
        """The bodies of every authenticated order placement, in arrival order."""
        return [b for m, p, b in self.requests if m == "POST" and p.endswith("/orders")]

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        status, answer = self.handle(request.method, request.path, request.headers,
                                     request.query, request.body)
        await send_json(send, status, answer)

    def handle(self, method: str, path: str, headers: dict[str, str], query: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        """One request: ``(HTTP status, answer)``."""
        if not path.startswith(PREFIX):
            return 404, None
        path = path[len(PREFIX):]
        try:
            body = loads(raw) if raw else {}
        except ValueError:
            return 400, {"s": "error", "errmsg": "the body is not JSON"}
        try:
            if (method, path) == ("POST", "/auth/jwt/token"):
                return 201, self._login(body)
            if (method, path) == ("POST", "/auth/jwt/refresh"):
                return 201, self._refresh(body)
            if not self._authorized(headers.get("authorization", "")):
                return 401, {"s": "error", "errmsg": "Unauthorized"}
            self.requests.append((method, path, body))
            if (method, path) == ("GET", "/auth/jwt/all-accounts"):
                return 200, {"accounts": self.accounts}
            return 200, {"s": "ok", "d": self._trade(method, path, headers, query, body)}
        except Refused as refused:
            return refused.status, {"s": "error", "errmsg": refused.message}

    # -- auth -----------------------------------------------------------------------------------

    def _login(self, body: dict[str, Any]) -> dict[str, Any]:
        expected = self.users.get(str(body.get("email")))
        if expected is None or (body.get("password"), body.get("server")) != expected:
            raise Refused("Invalid credentials or server", 401)
        self.logins += 1
        return self._pair()

    def _refresh(self, body: dict[str, Any]) -> dict[str, Any]:
        token = str(body.get("refreshToken"))
        kind, expiry = self.tokens.get(token, ("", 0.0))
        if kind != "refresh" or expiry <= self.clock.time():
            raise Refused("Invalid refresh token", 401)
        del self.tokens[token]  # a refresh token is used once
        self.refreshes += 1
        return self._pair()

    def _pair(self) -> dict[str, Any]:
        now = self.clock.time()
        access = self._jwt("access", now + self.access_seconds)
        refresh = self._jwt("refresh", now + self.refresh_seconds)
        return {"accessToken": access, "refreshToken": refresh,
                "expireDate": _iso(now + self.access_seconds)}

    def _jwt(self, kind: str, expiry: float) -> str:
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"exp": int(expiry), "sub": "fake", "kind": kind}).encode())
        token = f"{header}.{claims}.{secrets.token_urlsafe(12)}"
        self.tokens[token] = (kind, float(int(expiry)))
        return token

    def _authorized(self, authorization: str) -> bool:
        kind, expiry = self.tokens.get(authorization.removeprefix("Bearer "), ("", 0.0))
        return kind == "access" and expiry > self.clock.time()

    # -- /trade ---------------------------------------------------------------------------------

    def _trade(self, method: str, path: str, headers: dict[str, str], query: dict[str, str],
               body: dict[str, Any]) -> Any:
        acc_num = headers.get("accnum")
        if not acc_num:
            raise Refused("accNum header is required")
        account = next((a for a in self.accounts if a["accNum"] == acc_num), None)
        if account is None:
            raise Refused(f"accNum {acc_num} is not yours", 403)
        match = re.fullmatch(r"/trade/accounts/(\d+)/(\w+)", path)
        if match:
            if match.group(1) != account["id"]:
                raise Refused(f"account {match.group(1)} does not match accNum {acc_num}", 403)
            return self._account_call(method, match.group(2), query, body)
        if (method, path) == ("GET", "/trade/config"):
            return self._config()
        if (method, path) == ("GET", "/trade/quotes"):
            instrument = self._by_id(query.get("tradableInstrumentId"))
            self._route(instrument, query.get("routeId"), "INFO")
            return {"ap": instrument.ask, "bp": instrument.bid, "as": 10, "bs": 10}
        match = re.fullmatch(r"/trade/instruments/(\d+)", path)
        if match and method == "GET":
            instrument = self._by_id(match.group(1))
            self._route(instrument, query.get("routeId"), "INFO")
            return self._details(instrument)
        match = re.fullmatch(r"/trade/orders/(\d+)", path)
        if match and method == "DELETE":
            return self._cancel(int(match.group(1)))
        match = re.fullmatch(r"/trade/positions/(\d+)", path)
        if match and method == "DELETE":
            return self._close(int(match.group(1)), body.get("qty"))
        raise Refused(f"no route {method} {path}", 404)

    def _account_call(self, method: str, what: str, query: dict[str, str],
                      body: dict[str, Any]) -> Any:
        if (method, what) == ("GET", "instruments"):
            return {"instruments": [self._instrument_row(i) for i in self.instruments.values()]}
        if (method, what) == ("GET", "orders"):
            return {"orders": [o.row() for o in self.orders.values() if o.is_open]}
        if (method, what) == ("GET", "ordersHistory"):
            return {"ordersHistory": [o.row() for o in self.orders.values()]}
        if (method, what) == ("GET", "positions"):
            return {"positions": [self._position_row(p) for p in self.positions.values()]}
        if (method, what) == ("GET", "state"):
            return {"accountDetailsData": self._state()}
        if (method, what) == ("POST", "orders"):
            return {"orderId": str(self._place(body).id)}
        if (method, what) == ("DELETE", "positions"):
            wanted = query.get("tradableInstrumentId")
            for position in list(self.positions.values()):
                if wanted is None or str(position.instrument.tradable_id) == wanted:
                    self._close(position.id, None)
            return {}
        raise Refused(f"no route {method} {what}", 404)

    def _config(self) -> dict[str, Any]:
        def columns(names: list[str]) -> dict[str, Any]:
            return {"columns": [{"id": n, "description": n} for n in names]}

        return {"ordersConfig": columns(ORDER_COLUMNS),
                "ordersHistoryConfig": columns(ORDER_COLUMNS),
                "positionsConfig": columns(POSITION_COLUMNS),
                "accountDetailsConfig": columns(ACCOUNT_COLUMNS),
                "rateLimits": [{"rateLimitType": "PLACE_ORDER", "measure": "SECONDS",
                                "intervalNum": 1, "limit": 10}]}

    @staticmethod
    def _instrument_row(instrument: FakeInstrument) -> dict[str, Any]:
        return {"tradableInstrumentId": instrument.tradable_id,
                "id": instrument.tradable_id - 1, "name": instrument.name,
                "description": instrument.name, "type": instrument.kind,
                "tradingExchange": "FAKE",
                "routes": [{"id": instrument.info_route, "type": "INFO"},
                           {"id": instrument.trade_route, "type": "TRADE"}]}

    @staticmethod
    def _details(instrument: FakeInstrument) -> dict[str, Any]:
        return {"name": instrument.name, "tradableInstrumentId": instrument.tradable_id,
                "lotSize": instrument.lot_size, "lotStep": instrument.lot_step,
                "minLot": instrument.lot_step, "maxLot": 100,
                "tickSize": [{"leftRangePrice": 0, "tickSize": instrument.tick}],
                "quotingCurrency": "USD", "leverage": instrument.leverage}

    def _position_row(self, position: FakePosition) -> list[Any]:
        price = position.instrument.bid if position.side == "buy" else position.instrument.ask
        children = {self.orders[c].type: c for c in position.children}
        values = {"id": str(position.id),
                  "tradableInstrumentId": str(position.instrument.tradable_id),
                  "routeId": str(position.instrument.trade_route), "side": position.side,
                  "qty": str(position.qty), "avgPrice": str(position.avg_price),
                  "stopLossId": _text(children.get("stop")),
                  "takeProfitId": _text(children.get("limit")),
                  "openDate": str(position.opened), "unrealizedPl": str(position.pnl(price)),
                  "strategyId": position.strategy_id}
        return [values[c] for c in POSITION_COLUMNS]

    def _state(self) -> list[Any]:
        open_pnl = sum((p.pnl(p.instrument.bid if p.side == "buy" else p.instrument.ask)
                        for p in self.positions.values()), Decimal(0))
        margin = self._margin_used()
        equity = self.balance + open_pnl
        values = {"balance": self.balance, "projectedBalance": equity,
                  "availableFunds": equity - margin, "blockedBalance": Decimal(0),
                  "initialMarginReq": margin, "openGrossPnL": open_pnl,
                  "positionsCount": len(self.positions),
                  "ordersCount": sum(1 for o in self.orders.values() if o.is_open)}
        return [str(values[c]) for c in ACCOUNT_COLUMNS]

    def _margin_used(self) -> Decimal:
        return sum((p.qty * p.instrument.lot_size * p.instrument.price / p.instrument.leverage
                    for p in self.positions.values()), Decimal(0))

    # -- the engine -----------------------------------------------------------------------------

    def _by_id(self, value: object) -> FakeInstrument:
        for instrument in self.instruments.values():
            if str(instrument.tradable_id) == str(value):
                return instrument
        raise Refused(f"unknown tradableInstrumentId {value}")

    @staticmethod
    def _route(instrument: FakeInstrument, route: object, kind: str) -> None:
        expected = instrument.info_route if kind == "INFO" else instrument.trade_route
        if str(route) != str(expected):
            raise Refused(f"routeId {route} is not the {kind} route of {instrument.name}")

    def _place(self, body: dict[str, Any]) -> FakeOrder:
        for name in ("qty", "routeId", "side", "validity", "type", "tradableInstrumentId"):
            if body.get(name) in (None, ""):
                raise Refused(f"{name} is required")
        instrument = self._by_id(body["tradableInstrumentId"])
        self._route(instrument, body["routeId"], "TRADE")
        side, kind, validity = body["side"], body["type"], body["validity"]
        if side not in ("buy", "sell") or kind not in ("market", "limit", "stop"):
            raise Refused(f"side {side!r} / type {kind!r} is not valid")
        if validity != ("IOC" if kind == "market" else "GTC"):
            raise Refused(f"validity {validity} is not allowed for {kind} orders")
        qty = _number(body["qty"], "qty")
        if qty < instrument.lot_step or qty % instrument.lot_step:
            raise Refused(f"qty {qty} is not a multiple of the lot step {instrument.lot_step}")
        price = _on_tick(body.get("price"), instrument, "price", required=kind == "limit")
        stop = _on_tick(body.get("stopPrice"), instrument, "stopPrice", required=kind == "stop")
        strategy = body.get("strategyId")
        if strategy is not None and (not isinstance(strategy, str) or len(strategy) > 31):
            raise Refused("strategyId must be a text of at most 31 characters")
        stop_loss = _bracket(body, "stopLoss", instrument)
        take_profit = _bracket(body, "takeProfit", instrument)
        required = qty * instrument.lot_size * instrument.price / instrument.leverage
        equity = self.balance + sum((p.pnl(p.instrument.price) for p in self.positions.values()),
                                    Decimal(0))
        if required > equity - self._margin_used():
            raise Refused("Not enough money")
        order = FakeOrder(next(self._ids), instrument, side, qty, kind, validity,
                          price if kind == "limit" else None, stop, strategy,
                          int(self.clock.time() * 1000), stop_loss, take_profit)
        self.orders[order.id] = order
        self._work(order)
        return order

    def _work(self, order: FakeOrder) -> None:
        instrument = order.instrument
        market = instrument.ask if order.side == "buy" else instrument.bid
        buy = order.side == "buy"
        if order.type == "market":
            fill = True
        elif order.type == "limit":
            assert order.price is not None
            fill = market <= order.price if buy else market >= order.price
        else:
            assert order.stop_price is not None
            fill = market >= order.stop_price if buy else market <= order.stop_price
        if not fill:
            return
        order.status, order.filled_qty, order.avg_price = "Filled", order.qty, market
        if order.closes is not None:
            self._close(order.closes, None, at=market, by=order)
            return
        position = FakePosition(next(self._ids), instrument, order.side, order.qty, market,
                                int(self.clock.time() * 1000), order.strategy_id)
        self.positions[position.id] = position
        order.position_id = position.id
        exit_side = "sell" if buy else "buy"
        for kind, level in (("stop", order.stop_loss), ("limit", order.take_profit)):
            if level is None:
                continue
            child = FakeOrder(next(self._ids), instrument, exit_side, order.qty, kind, "GTC",
                              level if kind == "limit" else None,
                              level if kind == "stop" else None, None, order.created,
                              position_id=position.id, closes=position.id)
            self.orders[child.id] = child
            position.children.append(child.id)

    def _cancel(self, order_id: int) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise Refused(f"order {order_id} not found", 404)
        if not order.is_open:
            raise Refused(f"order {order_id} is not active ({order.status})")
        order.status = "Cancelled"
        return {}

    def _close(self, position_id: int, qty: object, *, at: Decimal | None = None,
               by: FakeOrder | None = None) -> dict[str, Any]:
        position = self.positions.get(position_id)
        if position is None:
            raise Refused(f"position {position_id} not found", 404)
        amount = position.qty if qty in (None, "", 0, "0") else _number(qty, "qty")
        if amount > position.qty or amount % position.instrument.lot_step:
            raise Refused(f"qty {amount} cannot close position {position_id} of {position.qty}")
        instrument = position.instrument
        price = at if at is not None else (instrument.bid if position.side == "buy"
                                           else instrument.ask)
        direction = 1 if position.side == "buy" else -1
        self.balance += (price - position.avg_price) * amount * instrument.lot_size * direction
        if by is None:  # a close asked for through the API: an order of its own, untagged
            closing = FakeOrder(next(self._ids), instrument,
                                "sell" if position.side == "buy" else "buy", amount, "market",
                                "IOC", None, None, None, int(self.clock.time() * 1000),
                                status="Filled", filled_qty=amount, avg_price=price,
                                position_id=position_id)
            self.orders[closing.id] = closing
        position.qty -= amount
        if position.qty == 0:
            del self.positions[position_id]
            for child in position.children:
                if self.orders[child].is_open:
                    self.orders[child].status = "Cancelled"
        return {}


def _number(value: object, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise Refused(f"{name} {value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise Refused(f"{name} must be positive")
    return number


def _on_tick(value: object, instrument: FakeInstrument, name: str, *,
             required: bool) -> Decimal | None:
    if value in (None, 0, "0") or (isinstance(value, Decimal) and value == 0):
        if required:
            raise Refused(f"{name} is required for this order type")
        return None
    price = _number(value, name)
    if price % instrument.tick:
        raise Refused(f"{name} {price} is not on the tick {instrument.tick}")
    return price


def _bracket(body: dict[str, Any], name: str, instrument: FakeInstrument) -> Decimal | None:
    if body.get(name) is None:
        return None
    if body.get(f"{name}Type") != "absolute":
        raise Refused(f"{name}Type {body.get(f'{name}Type')!r} is not supported by the fake")
    return _on_tick(body[name], instrument, name, required=True)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def main(argv: list[str] | None = None) -> int:
    """``python -m router_propfirms.fake.tradelocker --port N``: serve the fake on 127.0.0.1."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m router_propfirms.fake.tradelocker",
        description="A loopback fake of TradeLocker's REST API (127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args(argv)
    import uvicorn

    print(f"fake TradeLocker on http://127.0.0.1:{args.port}{PREFIX} (email {FAKE_EMAIL}, "
          f"server {FAKE_SERVER})", file=sys.stderr)
    uvicorn.run(FakeTradeLocker(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
