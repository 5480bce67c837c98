"""An in-memory mybroker venue behind ``httpx.MockTransport``, for tests; never reaches a network.

It checks what the real venue would: the signature, strictly increasing nonces, the lot step,
the minimum quantity, the balance and reduce-only. ``drop_reply_after("POST", "/orders")``
executes the next such request and then loses the answer, as a timeout after the request was
written does.

TEMPLATE: make this speak your venue's documented API, so the plugin's tests exercise the same
requests and answers the real venue sees.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx


@dataclass
class _Market:
    symbol: str
    base: str
    quote: str
    price: Decimal
    tick_size: Decimal = Decimal("0.5")
    lot_size: Decimal = Decimal("0.001")
    min_quantity: Decimal = Decimal("0.001")


@dataclass
class FakeVenue:
    api_key: str
    api_secret: str
    cash: Decimal = Decimal(100_000)
    markets: dict[str, _Market] = field(default_factory=lambda: {
        "BTC-USD": _Market("BTC-USD", "BTC", "USD", Decimal(50_000)),
        "ETH-USD": _Market("ETH-USD", "ETH", "USD", Decimal(2_500), Decimal("0.05"),
                           Decimal("0.01"), Decimal("0.01")),
    })
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    _last_nonce: int = 0
    _drop: set[str] = field(default_factory=set)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def drop_reply_after(self, method: str, path: str) -> None:
        self._drop.add(f"{method} {path}")

    def handle(self, request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        self.requests.append(route)
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        response = self._route(request)
        if route in self._drop:
            self._drop.discard(route)
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def _authenticate(self, request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("X-MB-Key") != self.api_key:
            return _error(401, "bad_signature", "unknown API key")
        nonce_text = request.headers.get("X-MB-Nonce", "")
        message = f"{nonce_text}{request.method}{request.url.path}".encode() + request.content
        expected = hmac.new(self.api_secret.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-MB-Signature", "")):
            return _error(401, "bad_signature", "invalid signature")
        if not nonce_text.isdigit() or int(nonce_text) <= self._last_nonce:
            return _error(401, "bad_nonce", "nonce is not above the last one")
        self._last_nonce = int(nonce_text)
        return None

    def _route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        method = request.method
        if method == "GET" and parts == ["instruments"]:
            return _ok({"instruments": [_market_row(m) for m in self.markets.values()]})
        if method == "GET" and parts == ["balance"]:
            text = str(self.cash)
            return _ok({"currency": "USD", "equity": text, "available": text})
        if method == "GET" and len(parts) == 2 and parts[0] in ("positions", "ticker"):
            market = self.markets.get(parts[1])
            if market is None:
                return _error(400, "unknown_symbol", f"no market {parts[1]}")
            if parts[0] == "ticker":
                return _ok({"price": str(market.price)})
            return _ok({"quantity": str(self.positions.get(market.symbol, Decimal(0)))})
        if method == "POST" and parts == ["orders"]:
            return self._place(json.loads(request.content))
        if len(parts) == 2 and parts[0] == "orders":
            order = self.orders.get(parts[1])
            if order is None:
                return _error(404, "not_found", "no such order")
            if method == "GET":
                return _ok({"order": order})
            if method == "DELETE":
                if order["status"] != "open":
                    return _error(400, "invalid_order", f"order is {order['status']}")
                order["status"] = "canceled"
                return _ok({"order": order})
        return _error(404, "not_found", f"no route {method} {request.url.path}")

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        market = self.markets.get(body["symbol"])
        if market is None:
            return _error(400, "unknown_symbol", f"no market {body['symbol']}")
        quantity = Decimal(body["quantity"])
        if quantity % market.lot_size or quantity < market.min_quantity:
            return _error(400, "invalid_order", f"quantity {quantity} breaks the lot rules")
        signed = quantity if body["side"] == "buy" else -quantity
        held = self.positions.get(market.symbol, Decimal(0))
        if body.get("reduce_only") and (held == 0 or (held > 0) == (signed > 0)
                                        or abs(signed) > abs(held)):
            return _error(400, "reduce_only_violation", "the order would not reduce")
        price = Decimal(body["price"]) if body["type"] == "limit" else market.price
        if price % market.tick_size:
            return _error(400, "invalid_order", f"price {price} is off the tick")
        if quantity * price > self.cash:
            return _error(400, "insufficient_funds", "not enough margin")
        crosses = body["type"] == "market" or (
            price >= market.price if signed > 0 else price <= market.price
        )
        if crosses:
            self.positions[market.symbol] = held + signed
        order = {
            "id": uuid.uuid4().hex[:12], "client_id": body["client_id"],
            "symbol": market.symbol, "side": body["side"], "type": body["type"],
            "quantity": str(quantity), "price": body.get("price"),
            "status": "filled" if crosses else "open",
            "filled_quantity": str(quantity if crosses else 0),
            "average_price": str(market.price if body["type"] == "market" else price)
            if crosses else None,
        }
        self.orders[body["client_id"]] = order
        return _ok({"order": order})


def _market_row(market: _Market) -> dict[str, str]:
    return {
        "symbol": market.symbol, "base": market.base, "quote": market.quote,
        "tick_size": str(market.tick_size), "lot_size": str(market.lot_size),
        "min_quantity": str(market.min_quantity),
    }


def _ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=data)


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})
