"""A loopback fake of the Kraken Futures REST API as a raw ASGI app.

It checks what Kraken checks: the ``Authent`` signature over ``postData + nonce + path`` with
the ``/derivatives`` prefix removed (a signature over the full path is refused), strictly
increasing nonces per key, size steps (``contractValueTradePrecision``) and tick sizes, the
500-per-10-s cost budget, reduce-only and margin. Tests can script the next answer of an
endpoint: any order status, any error, an HTTP status with a raw body, a delay, or executing an
order and then never answering. All state is plain attributes, for tests to inspect.

Run in-process with ``httpx.ASGITransport(app=fake)`` or as a server with
``python -m router_kraken_futures.fake --port N`` (127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl

from .engine import SUCCESS, Exchange, Refusal, iso

PREFIX = "/derivatives/api/v3/"
FAKE_API_KEY = "fake-kraken-futures-public-key"
FAKE_API_SECRET = base64.b64encode(b"fake kraken futures secret, loopback tests only").decode()
BUDGET_CAPACITY = 500.0
BUDGET_PER_SECOND = 50.0
COSTS = {
    "sendorder": 10, "editorder": 10, "cancelorder": 10, "accounts": 2, "openpositions": 2,
    "openorders": 2, "fills": 2, "cancelallorders": 25, "cancelallordersafter": 25,
    "orders/status": 1, "leveragepreferences": 2,
}
PUBLIC = frozenset({"instruments", "tickers"})
ALLOWED = {
    "accounts": "GET", "openpositions": "GET", "openorders": "GET", "fills": "GET",
    "sendorder": "POST", "cancelorder": "POST", "orders/status": "POST",
}

# Kraken's reference sends orders/status as a POST, ccxt's krakenfutures as a GET with the same
# query (docs/kraken-futures.md, orders/status); the fake answers both, so the ccxt plugin's
# tests can point ccxt at it.
ALSO_ALLOWED = frozenset({("orders/status", "GET")})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Clock(Protocol):
    def time(self) -> float: ...
    def monotonic(self) -> float: ...


class _SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class Script:
    """How the fake answers the next request to one endpoint.

    ``status``: answer this sendStatus (a success status is also carried out; a rejection
    places nothing). ``error``: answer ``{"result": "error", "error": error}``. ``http_status``
    with ``body``: answer that raw. ``delay``: seconds to wait before answering. ``drop``: never
    answer. ``execute``: carry the order out before an error, raw or dropped answer.
    """

    status: str | None = None
    error: str | None = None
    errors: list[dict[str, Any]] | None = None
    http_status: int | None = None
    body: str | None = None
    content_type: str = "text/html"
    delay: float = 0.0
    drop: bool = False
    execute: bool = False


@dataclass
class Recorded:
    method: str
    endpoint: str
    query: str
    body: str
    nonce: int | None
    api_key: str | None
    outcome: str = ""
    params: dict[str, str] = field(default_factory=dict)


class FakeKrakenFutures:
    """The fake venue; an ASGI application."""

    def __init__(self, *, keys: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        self.keys = dict(keys) if keys is not None else {FAKE_API_KEY: FAKE_API_SECRET}
        self.clock: Clock = clock or _SystemClock()
        self.exchange = Exchange.default()
        self.mode = "api"  # "redirect" or "html": answer like the retired demo host
        # orders/status shows open orders, and closed ones only this long (Kraken: 5 s)
        self.status_window_seconds = 5.0
        self.requests: list[Recorded] = []
        self.auth_failures: list[str] = []
        self.nonce_errors = 0
        self.rate_limited = 0
        self.last_nonce: dict[str, int] = {}
        self._budget: dict[str, tuple[float, float]] = {}
        self._scripts: dict[str, deque[Script]] = defaultdict(deque)

    # -- test controls ----------------------------------------------------------------------

    def move_mark(self, symbol: str, price: str | Decimal) -> list[str]:
        """Set the mark price and execute the resting limit orders it reaches, at their limit
        (tests: "the market came to the order"). Returns their order ids."""
        exchange, now = self.exchange, self.clock.time()
        exchange.marks[symbol] = mark = Decimal(str(price))
        reached = [o for o in exchange.orders.values()
                   if o.symbol == symbol and o.state == "ENTERED_BOOK"
                   and o.limit_price is not None and o.order_type in ("lmt", "post")
                   and (mark <= o.limit_price if o.side == "buy" else mark >= o.limit_price)]
        for order in reached:
            order.state, order.closed_at = "FULLY_EXECUTED", now
            exchange._execute(order, order.quantity - order.filled, order.limit_price or mark, now)
        return [order.order_id for order in reached]

    def script(self, endpoint: str, **how: Any) -> None:
        """Queue a ``Script`` for the next request to ``endpoint`` (e.g. ``"sendorder"``)."""
        self._scripts[endpoint].append(Script(**how))

    @property
    def orders(self) -> list[Any]:
        return list(self.exchange.orders.values())

    @property
    def sendorders(self) -> list[dict[str, str]]:
        """The parameters of every authenticated sendorder, in arrival order."""
        return [r.params for r in self.requests if r.endpoint == "sendorder" and r.params]

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, payload, hang = await self._handle(scope, body)
        if hang:
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _handle(
        self, scope: Scope, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        path: str = scope["path"]
        if self.mode == "redirect":
            return 302, [(b"location", b"https://www.kraken.com/features/futures"),
                         (b"content-type", b"text/html")], b"<html>Moved</html>", False
        if self.mode == "html":
            return 200, [(b"content-type", b"text/html; charset=utf-8")], (
                b"<!doctype html><html><body>Kraken Futures - trade crypto futures</body></html>"
            ), False
        if not path.startswith(PREFIX):
            return 404, [(b"content-type", b"text/html")], b"<html>Not Found</html>", False
        endpoint = path[len(PREFIX):]
        method: str = scope["method"]
        query = scope.get("query_string", b"").decode()
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        record = Recorded(method, endpoint, query, body.decode(), None, headers.get("apikey"))
        self.requests.append(record)
        if endpoint in PUBLIC:
            return self._json(self._public(endpoint))
        refusal = self._authenticate(path, query, body.decode(), headers, record)
        if refusal:
            record.outcome = refusal
            return self._json(self._error(refusal))
        if not self._spend(record.api_key or "", COSTS.get(endpoint, 10)):
            self.rate_limited += 1
            record.outcome = "apiLimitExceeded"
            return self._json(self._error("apiLimitExceeded"))
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
        record.params = params
        script = self._scripts[endpoint].popleft() if self._scripts[endpoint] else Script()
        return await self._private(method, endpoint, params, query, script, record)

    # -- checks -----------------------------------------------------------------------------

    def _authenticate(
        self, path: str, query: str, body: str, headers: dict[str, str], record: Recorded
    ) -> str | None:
        key, signature = headers.get("apikey"), headers.get("authent")
        secret = self.keys.get(key or "")
        if secret is None or not signature:
            self.auth_failures.append("unknown key or no Authent header")
            return "authenticationError"
        nonce = headers.get("nonce", "")
        post_data = query + body
        expected = _authent(secret, path.removeprefix("/derivatives"), post_data, nonce)
        if not hmac.compare_digest(expected, signature):
            if hmac.compare_digest(_authent(secret, path, post_data, nonce), signature):
                self.auth_failures.append("signed over the /derivatives path")
            else:
                self.auth_failures.append("signature mismatch")
            return "authenticationError"
        if nonce:
            value = int(nonce)
            record.nonce = value
            last = self.last_nonce.get(key or "", 0)
            if value <= last:
                self.nonce_errors += 1
                return "nonceDuplicate" if value == last else "nonceBelowThreshold"
            self.last_nonce[key or ""] = value
        return None

    def _spend(self, key: str, cost: float) -> bool:
        now = self.clock.monotonic()
        level, stamp = self._budget.get(key, (0.0, now))
        level = max(0.0, level - (now - stamp) * BUDGET_PER_SECOND)
        if level + cost > BUDGET_CAPACITY + 1e-6:  # float noise is not an overrun
            self._budget[key] = (level, now)
            return False
        self._budget[key] = (level + cost, now)
        return True

    # -- endpoints --------------------------------------------------------------------------

    def _public(self, endpoint: str) -> dict[str, Any]:
        if endpoint == "instruments":
            return self._ok(instruments=list(self.exchange.instruments.values()))
        return self._ok(tickers=[
            {"symbol": symbol, "markPrice": mark, "last": mark, "tag": "perpetual"}
            for symbol, mark in self.exchange.marks.items()
        ])

    async def _private(
        self, method: str, endpoint: str, params: dict[str, str], query: str, script: Script,
        record: Recorded,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        exchange = self.exchange
        if endpoint == "leveragepreferences":
            answer = self._leverage(method, params)
        elif ALLOWED.get(endpoint) != method and (endpoint, method) not in ALSO_ALLOWED:
            return 405, [(b"content-type", b"text/html")], b"<html>405 Not Allowed</html>", False
        elif endpoint == "sendorder":
            answer = self._sendorder(params, script)
        elif endpoint == "accounts":
            answer = self._ok(accounts=exchange.accounts())
        elif endpoint == "openpositions":
            answer = self._ok(openPositions=exchange.open_positions())
        elif endpoint == "fills":
            answer = self._ok(fills=list(exchange.fills))
        elif endpoint == "openorders":
            answer = self._ok(openOrders=[
                {"order_id": o.order_id, "cliOrdId": o.cli_ord_id, "symbol": o.symbol,
                 "side": o.side, "orderType": o.order_type, "limitPrice": o.limit_price,
                 "unfilledSize": o.quantity - o.filled, "filledSize": o.filled,
                 "status": "untouched", "reduceOnly": o.reduce_only}
                for o in exchange.orders.values() if o.state in ("ENTERED_BOOK", "TRIGGER_PLACED")
            ])
        elif endpoint == "cancelorder":
            status, order_id = exchange.cancel(
                self.clock.time(), cli_ord_id=params.get("cliOrdId"),
                order_id=params.get("order_id"),
            )
            answer = self._ok(cancelStatus={
                "status": status, "order_id": order_id, "cliOrdId": params.get("cliOrdId"),
                "receivedTime": iso(self.clock.time()), "orderEvents": [],
            })
        else:  # orders/status
            wanted_cli = {v for k, v in parse_qsl(query) if k == "cliOrdIds"}
            wanted_ids = {v for k, v in parse_qsl(query) if k == "orderIds"}
            horizon = self.clock.time() - self.status_window_seconds
            answer = self._ok(orders=[
                {"order": o.as_json(), "status": o.state, "updateReason": None, "error": None}
                for o in exchange.orders.values()
                if (o.cli_ord_id in wanted_cli or o.order_id in wanted_ids)
                and (o.closed_at is None or o.closed_at >= horizon)
            ])
        record.outcome = _outcome(answer)
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.drop:
            return 0, [], b"", True
        if script.http_status is not None:
            content = (script.body or "").encode()
            return script.http_status, [(b"content-type", script.content_type.encode())], \
                content, False
        if script.error is not None or script.errors is not None:
            answer = self._error(script.error) if script.error else {
                "result": "error", "serverTime": iso(self.clock.time()), "errors": script.errors
            }
        return self._json(answer)

    def _sendorder(self, params: dict[str, str], script: Script) -> dict[str, Any]:
        now = self.clock.time()
        forced = script.status
        intercepted = script.error or script.errors or script.http_status
        if intercepted and not script.execute:
            return {}
        cli = params.get("cliOrdId")
        try:
            if forced is not None and forced not in SUCCESS:
                raise Refusal(forced, forced.upper())
            status, order_id, events = self.exchange.place(params, now, force=forced)
        except Refusal as refusal:
            self.exchange.rejected.append((refusal.status, params))
            order_id = "rejected-" + str(len(self.exchange.rejected))
            status = refusal.status
            events = [{"type": "REJECT", "uid": order_id, "reason": refusal.reason,
                       "order": {"orderId": order_id, "cliOrdId": cli, "symbol":
                                 params.get("symbol"), "side": params.get("side"),
                                 "quantity": params.get("size"), "filled": 0}}]
        return self._ok(sendStatus={
            "order_id": order_id, "cliOrdId": cli, "status": status,
            "receivedTime": iso(now), "orderEvents": events,
        })

    def _leverage(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        if method == "GET":
            return self._ok(leveragePreferences=[
                {"symbol": s, "maxLeverage": v} for s, v in self.exchange.leverage.items()
            ])
        symbol = params.get("symbol", "").upper()
        if symbol not in self.exchange.instruments:
            return self._errors(87, "Contract does not exist")
        if not symbol.startswith(("PF_", "FF_")):
            return self._errors(88, "Contract is not a multi-collateral contract")
        if "maxLeverage" in params:
            self.exchange.leverage[symbol] = Decimal(params["maxLeverage"])
        else:
            self.exchange.leverage.pop(symbol, None)
        return self._ok()

    # -- answers ----------------------------------------------------------------------------

    def _ok(self, **fields: Any) -> dict[str, Any]:
        return {"result": "success", "serverTime": iso(self.clock.time()), **fields}

    def _error(self, code: str) -> dict[str, Any]:
        return {"result": "error", "serverTime": iso(self.clock.time()), "error": code}

    def _errors(self, code: int, message: str) -> dict[str, Any]:
        return {"result": "error", "serverTime": iso(self.clock.time()),
                "errors": [{"code": code, "message": message}]}

    @staticmethod
    def _json(answer: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        content = json.dumps(answer, default=_number).encode()
        return 200, [(b"content-type", b"application/json")], content, False


def _authent(secret_b64: str, path: str, post_data: str, nonce: str) -> str:
    digest = hashlib.sha256((post_data + nonce + path).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), digest, hashlib.sha512).digest()
    return base64.b64encode(mac).decode()


def _number(value: object) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _outcome(answer: dict[str, Any]) -> str:
    if answer.get("result") == "error":
        return str(answer.get("error") or answer.get("errors"))
    status = answer.get("sendStatus") or answer.get("cancelStatus")
    return str(status.get("status")) if isinstance(status, dict) else "success"
