"""A loopback fake of Kraken spot REST, for tests and benchmarks. Never a real exchange.

An ASGI app: run it in-process with ``httpx.ASGITransport(app=fake)`` or as a real server::

    python -m router_kraken_spot.fake --port 8765 [--secret BASE64] [--api-key KEY]

It checks what Kraken checks: API-Key, API-Sign over the exact body, strictly increasing nonces
(``EAPI:Invalid nonce``), the REST call counter per key and the matching-engine counter per pair
(``EAPI:Rate limit exceeded`` / ``EOrder:Rate limit exceeded``), tick, lot decimals, ordermin and
costmin from its AssetPairs, the deadline window, funds. It keeps balances, orders and margin
positions, and answers cl_ord_id/userref lookups in OpenOrders/ClosedOrders.

Tests steer it with Python methods (``fail_next``, ``drop_next``, ``delay_next``,
``hide_next_order``, ``set_price``...) or, for the real server, the control API under
``/_fake/`` (JSON POSTs with the same names). State is inspectable: ``orders``,
``add_order_calls``, ``calls``, ``errors_sent``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
from collections import Counter as Tally
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import httpx

from router_core import Clock, SystemClock

from .endpoints import ENDPOINTS, REST_LIMITS, TRADING_LIMITS, Counter, cancel_cost
from .fake_data import (
    DEFAULT_BALANCES,
    DEFAULT_PRICES,
    FAKE_API_KEY,
    FAKE_API_SECRET,
    default_pairs,
    extra_key,
)
from .signing import decode_secret, verify

ORDER_TYPES = {
    "market", "limit", "iceberg", "stop-loss", "take-profit", "stop-loss-limit",
    "take-profit-limit", "trailing-stop", "trailing-stop-limit", "settle-position",
}
_LIMIT = {"limit", "iceberg"}
_PRICE2 = {"stop-loss-limit", "take-profit-limit", "trailing-stop-limit"}
_OFLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
DEADLINE_MIN_SECONDS = 0.5
DEADLINE_MAX_SECONDS = 60.0


class KrakenAnswer(Exception):
    """An error the fake answers with, as Kraken would."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Fault:
    kind: str  # "error" | "drop" | "delay"
    error: str = ""
    execute: bool = False  # run the call, then answer the error / drop the reply
    mode: str = "timeout"  # drop: "timeout" | "http502" | "html" | "reset"
    seconds: float = 0.0


@dataclass
class Call:
    method: str
    body: str
    fields: dict[str, str]
    answered: str = ""  # the error code answered, "" for success


@dataclass
class _Meter:
    """Kraken's decaying counter, seen from the venue side."""

    capacity: float
    decay: float
    level: float = 0.0
    stamp: float | None = None

    def charge(self, cost: float, now: float) -> bool:
        if self.stamp is not None:
            self.level = max(0.0, self.level - (now - self.stamp) * self.decay)
        self.stamp = now
        if self.level + cost > self.capacity + 1e-9:
            return False
        self.level += cost
        return True


@dataclass
class _Account:
    balances: dict[str, Decimal]
    held: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeKraken:
    """The fake venue; the instance is the ASGI app."""

    def __init__(
        self,
        *,
        api_key: str = FAKE_API_KEY,
        secret: str = FAKE_API_SECRET,
        otp: str | None = None,
        tier: str = "starter",
        clock: Clock | None = None,
        pairs: Mapping[str, Mapping[str, Any]] | None = None,
        prices: Mapping[str, str] | None = None,
        balances: Mapping[str, str] | None = None,
        rate_limits: bool = True,
        extra_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.api_key = api_key
        self._secret = decode_secret(secret)
        # More API keys on the same account (several router accounts, benchmarks): key -> the
        # base64 secret. Nonces and the REST counter are per key, as at Kraken.
        self._extra_secrets = {key: decode_secret(value)
                               for key, value in (extra_keys or {}).items()}
        self.otp = otp
        self.tier = tier
        self.clock: Clock = clock or SystemClock()
        self.pairs: dict[str, dict[str, Any]] = {k: dict(v) for k, v in
                                                 (pairs or default_pairs()).items()}
        self.prices = {k: Decimal(v) for k, v in (prices or DEFAULT_PRICES).items()}
        self.account = _Account({k: Decimal(v) for k, v in
                                 (balances or DEFAULT_BALANCES).items()})
        self.rate_limits = rate_limits
        self.last_nonce: dict[str, int] = {}
        self._rest: dict[str, _Meter] = {}
        self._trading: dict[str, _Meter] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._hide_next: float = 0.0
        self._hidden_until: dict[str, float] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # txid -> Kraken order object
        # cl_ord_id -> txid of the last order placed with it, so the duplicate check does not
        # scan every order ever placed (its status is read from ``orders`` at check time).
        self._by_cl_ord_id: dict[str, str] = {}
        self.calls: list[Call] = []
        self.errors_sent: Tally[str] = Tally()
        self.deadline_margins: list[float] = []  # deadline minus fake "now", per AddOrder

    # -- inspection ---------------------------------------------------------------------------

    @property
    def add_order_calls(self) -> int:
        """Every AddOrder request that reached the fake, whatever it was answered."""
        return sum(1 for call in self.calls if call.method == "AddOrder")

    def bodies(self, method: str = "AddOrder") -> list[str]:
        return [call.body for call in self.calls if call.method == method]

    def placed(self) -> list[dict[str, Any]]:
        """Orders that exist at the fake (placed, whatever their state now)."""
        return list(self.orders.values())

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self)

    def state(self) -> dict[str, Any]:
        return {
            "add_order_calls": self.add_order_calls,
            "orders": self.orders,
            "errors_sent": dict(self.errors_sent),
            "balances": {k: str(v) for k, v in self.account.balances.items()},
        }

    # -- steering -----------------------------------------------------------------------------

    def fail_next(self, method: str, error: str, *, times: int = 1, execute: bool = False) -> None:
        """Answer the next ``times`` calls of ``method`` with Kraken error ``error``."""
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(Fault("error", error, execute))

    def drop_next(self, method: str = "AddOrder", *, mode: str = "timeout",
                  execute: bool = True) -> None:
        """Execute the next ``method`` call, then lose the reply.

        ``timeout``: the reply never comes (in-process httpx.ReadTimeout reaches the client; a
        real server answers HTTP 500 instead); ``http502``: a Cloudflare-style 502 page;
        ``html``: HTTP 200 with a non-JSON body; ``reset``: the connection drops (in-process).
        """
        self._faults.setdefault(method, deque()).append(Fault("drop", execute=execute, mode=mode))

    def delay_next(self, method: str, seconds: float) -> None:
        """Hold the next ``method`` call ``seconds`` (on the fake's clock) before handling it."""
        self._faults.setdefault(method, deque()).append(Fault("delay", seconds=seconds))

    def hide_next_order(self, seconds: float) -> None:
        """The next placed order stays invisible to OpenOrders/ClosedOrders for ``seconds``."""
        self._hide_next = seconds

    def set_price(self, pair: str, price: str | Decimal) -> None:
        self.prices[self._pair_key(pair)] = Decimal(str(price))

    def set_balance(self, asset: str, amount: str | Decimal) -> None:
        self.account.balances[asset] = Decimal(str(amount))

    def set_pair_status(self, pair: str, status: str) -> None:
        self.pairs[self._pair_key(pair)]["status"] = status

    def set_position(self, pair: str, side: str, volume: str, price: str,
                     leverage: int = 2) -> str:
        key = self._pair_key(pair)
        ptxid = _txid("T")
        vol = Decimal(volume)
        self.account.positions[ptxid] = {
            "ordertxid": _txid("O"), "posstatus": "open", "pair": key,
            "time": self.clock.time(), "type": side, "ordertype": "market",
            "cost": str(vol * Decimal(price)), "fee": "0", "vol": str(vol),
            "vol_closed": "0", "margin": str(vol * Decimal(price) / leverage),
            "terms": "0.0100% per 4 hours", "rollovertm": "0", "misc": "", "oflags": "",
        }
        return ptxid

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
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
        path: str = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        if path.startswith("/_fake/"):
            status, payload = self._control(path, body)
            await _send(send, status, json.dumps(payload, default=str).encode())
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode()))
        status, content, content_type = await self._handle(path, scope["method"], headers,
                                                           body, query)
        await _send(send, status, content, content_type)

    async def _handle(self, path: str, http_method: str, headers: dict[str, str], body: bytes,
                      query: dict[str, str]) -> tuple[int, bytes, str]:
        endpoint = ENDPOINTS.get(path)
        method = path.rsplit("/", 1)[-1]
        text = body.decode("utf-8", "replace")
        fields = dict(parse_qsl(text, keep_blank_values=True))
        call = Call(method, text, fields)
        self.calls.append(call)
        fault = self._take_fault(method)
        if fault is not None and fault.kind == "delay":
            await self.clock.sleep(fault.seconds)
            fault = None
        try:
            if endpoint is None:
                raise KrakenAnswer("EGeneral:Unknown method")
            if endpoint.private:
                if http_method != "POST":
                    raise KrakenAnswer("EGeneral:Invalid arguments")
                key = self._authenticate(path, headers, text, fields)
                self._charge(endpoint.counter, endpoint.cost, method, fields, key)
            args = fields if endpoint.private else query
            if fault is not None and fault.kind == "error" and not fault.execute:
                raise KrakenAnswer(fault.error)
            result = self._dispatch(method, args)
            if fault is not None and fault.kind == "error":
                raise KrakenAnswer(fault.error)  # executed, then answered with an error
        except KrakenAnswer as answer:
            call.answered = answer.code
            self.errors_sent[answer.code] += 1
            return 200, json.dumps({"error": [answer.code]}).encode(), "application/json"
        if fault is not None and fault.kind == "drop":
            return self._drop(fault)
        payload = json.dumps({"error": [], "result": result}, default=str).encode()
        return 200, payload, "application/json"

    def _drop(self, fault: Fault) -> tuple[int, bytes, str]:
        if fault.mode == "http502":
            return 502, b"<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>", \
                "text/html"
        if fault.mode == "html":
            return 200, b"<html><body>Service temporarily unavailable</body></html>", \
                "text/html"
        if fault.mode == "reset":
            raise httpx.RemoteProtocolError("fake Kraken: connection reset after the request")
        raise httpx.ReadTimeout("fake Kraken: reply dropped after the order was executed")

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    # -- checks -------------------------------------------------------------------------------

    def _authenticate(self, path: str, headers: dict[str, str], body: str,
                      fields: dict[str, str]) -> str:
        key = headers.get("api-key", "")
        secret = self._secret if key == self.api_key else self._extra_secrets.get(key)
        if secret is None:
            raise KrakenAnswer("EAPI:Invalid key")
        nonce_text = fields.get("nonce", "")
        if not nonce_text.isdigit():
            raise KrakenAnswer("EAPI:Invalid nonce")
        if not verify(secret, path, nonce_text, body, headers.get("api-sign", "")):
            raise KrakenAnswer("EAPI:Invalid signature")
        nonce = int(nonce_text)
        if nonce <= self.last_nonce.get(key, 0):
            raise KrakenAnswer("EAPI:Invalid nonce")
        self.last_nonce[key] = nonce
        if self.otp is not None and fields.get("otp") != self.otp:
            raise KrakenAnswer("EAPI:Invalid key")
        return key

    def _charge(self, counter: Counter, cost: int, method: str, fields: dict[str, str],
                key: str) -> None:
        if not self.rate_limits:
            return
        now = self.clock.monotonic()
        if counter is Counter.REST:
            capacity, decay = REST_LIMITS[self.tier]
            meter = self._rest.setdefault(key, _Meter(capacity, decay))
            if not meter.charge(cost, now):
                raise KrakenAnswer("EAPI:Rate limit exceeded")
        elif counter is Counter.TRADING:
            pair = self._trading_pair(method, fields)
            if pair is None:
                return
            capacity, decay = TRADING_LIMITS[self.tier]
            meter = self._trading.setdefault(pair, _Meter(capacity, decay))
            points = 1 if method == "AddOrder" else self._cancel_points(fields)
            if points and not meter.charge(points, now):
                raise KrakenAnswer("EOrder:Rate limit exceeded")

    def _trading_pair(self, method: str, fields: dict[str, str]) -> str | None:
        if method == "AddOrder":
            try:
                return self._pair_key(fields.get("pair", ""))
            except KrakenAnswer:
                return None
        order = self._find_open(fields)
        return None if order is None else order[1]["_pair"]

    def _cancel_points(self, fields: dict[str, str]) -> int:
        found = self._find_open(fields)
        if found is None:
            return 0
        return cancel_cost(self.clock.time() - float(found[1]["opentm"]))

    # -- endpoints ----------------------------------------------------------------------------

    def _dispatch(self, method: str, args: dict[str, str]) -> Any:
        handler = getattr(self, f"_ep_{method}")
        return handler(args)

    def _ep_Time(self, args: dict[str, str]) -> Any:
        now = self.clock.time()
        return {"unixtime": int(now), "rfc1123": formatdate(now, usegmt=True)}

    def _ep_AssetPairs(self, args: dict[str, str]) -> Any:
        if not args.get("pair"):
            return self.pairs
        return {key: self.pairs[key] for key in map(self._pair_key, args["pair"].split(","))}

    def _ep_Ticker(self, args: dict[str, str]) -> Any:
        out = {}
        for key in map(self._pair_key, args.get("pair", "").split(",")):
            price = str(self.prices.get(key, "0"))
            out[key] = {"a": [price, "1", "1.000"], "b": [price, "1", "1.000"],
                        "c": [price, "0.01"], "v": ["0", "0"], "p": [price, price],
                        "t": [0, 0], "l": [price, price], "h": [price, price], "o": price}
        return out

    def _ep_BalanceEx(self, args: dict[str, str]) -> Any:
        return {asset: {"balance": str(amount), "credit": "0", "credit_used": "0",
                        "hold_trade": str(self.account.held.get(asset, Decimal(0)))}
                for asset, amount in self.account.balances.items()}

    def _ep_TradeBalance(self, args: dict[str, str]) -> Any:
        asset = args.get("asset", "ZUSD")
        balance = self.account.balances.get(asset, Decimal(0))
        net = Decimal(0)
        for position in self.account.positions.values():
            price = self.prices.get(position["pair"], Decimal(0))
            vol = Decimal(position["vol"]) - Decimal(position["vol_closed"])
            value = vol * price - Decimal(position["cost"])
            net += value if position["type"] == "buy" else -value
        margin = sum((Decimal(p["margin"]) for p in self.account.positions.values()), Decimal(0))
        return {"eb": str(balance), "tb": str(balance), "m": str(margin), "n": str(net),
                "c": "0", "v": "0", "e": str(balance + net), "mf": str(balance + net - margin),
                "uv": "0"}

    def _ep_OpenPositions(self, args: dict[str, str]) -> Any:
        return dict(self.account.positions)

    def _ep_OpenOrders(self, args: dict[str, str]) -> Any:
        return {"open": self._lookup(args, {"pending", "open"})}

    def _ep_ClosedOrders(self, args: dict[str, str]) -> Any:
        closed = self._lookup(args, {"closed", "canceled", "expired"})
        return {"closed": closed, "count": len(closed)}

    def _lookup(self, args: dict[str, str], statuses: set[str]) -> dict[str, Any]:
        now = self.clock.time()
        out = {}
        for txid, order in self.orders.items():
            if order["status"] not in statuses or self._hidden_until.get(txid, 0) > now:
                continue
            if "cl_ord_id" in args and order.get("cl_ord_id") != args["cl_ord_id"]:
                continue
            if "userref" in args and str(order.get("userref")) != args["userref"]:
                continue
            out[txid] = _public(order)
        return out

    def _ep_CancelOrder(self, args: dict[str, str]) -> Any:
        found = self._find_open(args)
        if found is None:
            raise KrakenAnswer("EOrder:Unknown order")
        order = found[1]
        self._release(order)
        order["status"] = "canceled"
        order["reason"] = "User requested"
        order["closetm"] = self.clock.time()
        return {"count": 1, "pending": False}

    def _find_open(self, args: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
        for txid, order in self.orders.items():
            if order["status"] not in ("open", "pending"):
                continue
            if args.get("txid") == txid or (
                "cl_ord_id" in args and order.get("cl_ord_id") == args["cl_ord_id"]
            ):
                return txid, order
        return None

    # -- AddOrder -----------------------------------------------------------------------------

    def _ep_AddOrder(self, args: dict[str, str]) -> Any:
        key = self._pair_key(args.get("pair", ""))
        pair = self.pairs[key]
        status = pair.get("status", "online")
        ordertype = args.get("ordertype", "")
        side = args.get("type", "")
        if side not in ("buy", "sell"):
            raise KrakenAnswer("EGeneral:Invalid arguments:type")
        if ordertype not in ORDER_TYPES:
            raise KrakenAnswer("EGeneral:Invalid arguments:ordertype")
        if status in ("cancel_only", "post_only", "limit_only"):
            raise KrakenAnswer(f"EService:Market in {status} mode")
        if status == "reduce_only" and args.get("reduce_only") != "true":
            raise KrakenAnswer("EOrder:Reduce only:Non-PC")
        self._check_ids(args)
        flags = set(filter(None, args.get("oflags", "").split(",")))
        if flags - _OFLAGS:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if "post" in flags and ordertype not in _LIMIT:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if {"fcib", "fciq"} <= flags:
            raise KrakenAnswer("EGeneral:Invalid arguments:oflags")
        if "viqc" in flags and (ordertype != "market" or side != "buy" or "leverage" in args):
            raise KrakenAnswer("EGeneral:Invalid arguments:viqc")
        volume = self._volume(args, pair, ordertype, flags)
        price = self._price(args.get("price"), pair, "price")
        price2 = self._price(args.get("price2"), pair, "price2")
        if ordertype != "market" and ordertype != "settle-position" and price is None:
            raise KrakenAnswer("EGeneral:Invalid arguments:price")
        if ordertype in _PRICE2 and price2 is None:
            raise KrakenAnswer("EGeneral:Invalid arguments:price2")
        if ordertype.startswith("trailing-stop") and not args["price"].startswith("+"):
            raise KrakenAnswer("EGeneral:Invalid arguments:price")
        if ordertype == "iceberg":
            display = _decimal(args.get("displayvol"), "displayvol")
            if display * 15 < volume:
                raise KrakenAnswer("EGeneral:Invalid arguments:displayvol")
        self._check_time_fields(args)
        if "close[ordertype]" in args:
            self._price(args.get("close[price]"), pair, "close[price]")
            self._price(args.get("close[price2]"), pair, "close[price2]")
        leverage = args.get("leverage")
        if leverage is not None:
            allowed = pair.get("leverage_buy" if side == "buy" else "leverage_sell") or []
            if not leverage.isdigit() or int(leverage) not in allowed:
                raise KrakenAnswer("EGeneral:Invalid arguments:leverage")
        last = self.prices.get(key, Decimal(0))
        fill_price = _absolute(args["price"], last) if ordertype in _LIMIT else last
        if "viqc" in flags:
            cost, volume = volume, (volume / last if last else Decimal(0))
        else:
            cost = volume * fill_price
        if ordertype != "settle-position" and cost < Decimal(pair.get("costmin") or 0):
            raise KrakenAnswer("EOrder:Cost minimum not met")
        descr = self._describe(args, pair, volume)
        if args.get("validate") in ("true", "1", "True"):
            return {"descr": descr}
        if leverage is None:
            self._check_funds(pair, side, volume, cost)
        return {"descr": descr, "txid": [self._place(key, pair, args, volume, cost, last)]}

    def _check_ids(self, args: dict[str, str]) -> None:
        cl_ord_id = args.get("cl_ord_id")
        if cl_ord_id is None:
            return
        if "userref" in args:
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id and userref")
        if "close[ordertype]" in args:
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id with conditional close")
        if not (len(cl_ord_id) in (32, 36) or len(cl_ord_id) <= 18):
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id")
        earlier = self.orders.get(self._by_cl_ord_id.get(cl_ord_id, ""))
        if earlier is not None and earlier["status"] in ("open", "pending"):
            raise KrakenAnswer("EGeneral:Invalid arguments:cl_ord_id")

    def _volume(self, args: dict[str, str], pair: dict[str, Any], ordertype: str,
                flags: set[str]) -> Decimal:
        volume = _decimal(args.get("volume"), "volume")
        if "viqc" in flags:
            if _places(volume) > int(pair.get("cost_decimals", 8)):
                raise KrakenAnswer("EGeneral:Invalid arguments:volume")
            return volume
        if volume == 0 and ordertype == "settle-position":
            return volume
        if volume <= 0 or _places(volume) > int(pair["lot_decimals"]):
            raise KrakenAnswer("EGeneral:Invalid arguments:volume")
        if volume < Decimal(pair.get("ordermin") or 0):
            raise KrakenAnswer("EOrder:Order minimum not met")
        return volume

    def _price(self, text: str | None, pair: dict[str, Any], field: str) -> Decimal | str | None:
        if text is None:
            return None
        if text[:1] in "+-#" or text.endswith("%"):
            number = text.lstrip("+-#").rstrip("%")
            _decimal(number, field)
            return text  # relative: resolved by the engine at trigger time
        price = _decimal(text, field)
        tick = Decimal(pair.get("tick_size") or "0")
        if price <= 0 or _places(price) > int(pair["pair_decimals"]) or (tick and price % tick):
            raise KrakenAnswer("EOrder:Tick size check failed")
        return price

    def _check_time_fields(self, args: dict[str, str]) -> None:
        tif = args.get("timeinforce", "GTC")
        if tif not in ("GTC", "IOC", "GTD"):
            raise KrakenAnswer("EGeneral:Invalid arguments:timeinforce")
        if tif == "GTD" and not args.get("expiretm"):
            raise KrakenAnswer("EGeneral:Invalid arguments:expiretm")
        if "deadline" in args:
            try:
                moment = datetime.fromisoformat(args["deadline"].replace("Z", "+00:00"))
            except ValueError:
                raise KrakenAnswer("EGeneral:Invalid arguments:deadline") from None
            margin = moment.timestamp() - self.clock.time()
            self.deadline_margins.append(margin)
            if margin < 0:
                raise KrakenAnswer("EService:Deadline elapsed")
            if margin < DEADLINE_MIN_SECONDS or margin > DEADLINE_MAX_SECONDS:
                raise KrakenAnswer("EGeneral:Invalid arguments:deadline")

    def _check_funds(self, pair: dict[str, Any], side: str, volume: Decimal,
                     cost: Decimal) -> None:
        asset, needed = (pair["quote"], cost) if side == "buy" else (pair["base"], volume)
        if self._available(asset) < needed:
            raise KrakenAnswer("EOrder:Insufficient funds")

    def _available(self, asset: str) -> Decimal:
        return self.account.balances.get(asset, Decimal(0)) - self.account.held.get(
            asset, Decimal(0))

    def _place(self, key: str, pair: dict[str, Any], args: dict[str, str], volume: Decimal,
               cost: Decimal, last: Decimal) -> str:
        txid = _txid("O")
        now = self.clock.time()
        side = args["type"]
        ordertype = args["ordertype"]
        order: dict[str, Any] = {
            "refid": None, "userref": int(args["userref"]) if "userref" in args else 0,
            "cl_ord_id": args.get("cl_ord_id"), "status": "open", "opentm": now,
            "starttm": 0, "expiretm": 0,
            "descr": {"pair": pair["altname"], "type": side, "ordertype": ordertype,
                      "price": args.get("price", "0"), "price2": args.get("price2", "0"),
                      "leverage": f"{args['leverage']}:1" if "leverage" in args else "none",
                      "order": self._describe(args, pair, volume)["order"],
                      "close": self._describe(args, pair, volume).get("close", "")},
            "vol": str(volume), "vol_exec": "0", "cost": "0", "fee": "0", "price": "0",
            "stopprice": "0", "limitprice": "0", "misc": "", "oflags": args.get("oflags", ""),
            "_pair": key, "_hold": None,
        }
        if self._hide_next:
            self._hidden_until[txid] = now + self._hide_next
            self._hide_next = 0.0
        self.orders[txid] = order
        if order["cl_ord_id"] is not None:
            self._by_cl_ord_id[order["cl_ord_id"]] = txid
        price = _absolute(args.get("price"), last)
        marketable = ordertype == "market" or (
            ordertype in _LIMIT and price is not None and (
                (side == "buy" and price >= last) or (side == "sell" and price <= last)))
        if marketable and "post" not in args.get("oflags", "") and last > 0:
            fill = price if ordertype in _LIMIT and price else last
            self._fill(order, pair, volume, fill, leveraged="leverage" in args)
        elif args.get("timeinforce") == "IOC":
            order["status"] = "canceled"
            order["reason"] = "Insufficient liquidity"
            order["closetm"] = now
        elif ordertype in _LIMIT and "leverage" not in args:
            asset, amount = (pair["quote"], volume * (price or last)) if side == "buy" \
                else (pair["base"], volume)
            self.account.held[asset] = self.account.held.get(asset, Decimal(0)) + amount
            order["_hold"] = (asset, str(amount))
        return txid

    def fill(self, txid: str, price: str | Decimal | None = None) -> None:
        """Execute a resting order (tests)."""
        order = self.orders[txid]
        self._release(order)
        pair = self.pairs[order["_pair"]]
        fill = Decimal(str(price)) if price is not None else self.prices[order["_pair"]]
        self._fill(order, pair, Decimal(order["vol"]), fill,
                   leveraged=order["descr"]["leverage"] != "none")

    def _fill(self, order: dict[str, Any], pair: dict[str, Any], volume: Decimal,
              price: Decimal, *, leveraged: bool) -> None:
        side = order["descr"]["type"]
        cost = volume * price
        if "viqc" in order["oflags"]:
            volume = cost / price if price else Decimal(0)
        if leveraged:
            self.set_position(order["_pair"], side, str(volume), str(price))
        else:
            sign = 1 if side == "buy" else -1
            base, quote = pair["base"], pair["quote"]
            self.account.balances[base] = self.account.balances.get(base, Decimal(0)) \
                + sign * volume
            self.account.balances[quote] = self.account.balances.get(quote, Decimal(0)) \
                - sign * cost
        order.update(status="closed", vol_exec=str(volume), cost=str(cost), price=str(price),
                     closetm=self.clock.time(), reason=None)

    def _release(self, order: dict[str, Any]) -> None:
        if order.get("_hold"):
            asset, amount = order["_hold"]
            self.account.held[asset] = self.account.held.get(asset, Decimal(0)) - Decimal(amount)
            order["_hold"] = None

    def _describe(self, args: dict[str, str], pair: dict[str, Any],
                  volume: Decimal) -> dict[str, str]:
        text = f"{args['type']} {volume} {pair['altname']} @ {args['ordertype']}"
        if "price" in args:
            text += f" {args['price']}"
        if "leverage" in args:
            text += f" with {args['leverage']}:1 leverage"
        descr = {"order": text}
        if "close[ordertype]" in args:
            descr["close"] = (f"close position @ {args['close[ordertype]']} "
                              f"{args.get('close[price]', '')}").strip()
        return descr

    def _pair_key(self, name: str) -> str:
        wanted = name.upper().replace("/", "")
        for key, pair in self.pairs.items():
            names = {key, pair.get("altname", ""), str(pair.get("wsname", "")).replace("/", "")}
            if wanted in names:
                return key
        raise KrakenAnswer("EQuery:Unknown asset pair")

    # -- control API (real server) ------------------------------------------------------------

    def _control(self, path: str, body: bytes) -> tuple[int, Any]:
        action = path.removeprefix("/_fake/")
        args = json.loads(body or b"{}")
        if action == "state":
            return 200, self.state()
        actions: dict[str, Callable[..., Any]] = {
            "fail_next": self.fail_next, "drop_next": self.drop_next,
            "delay_next": self.delay_next, "hide_next_order": self.hide_next_order,
            "set_price": self.set_price, "set_balance": self.set_balance,
            "set_pair_status": self.set_pair_status, "fill": self.fill,
        }
        if action not in actions:
            return 404, {"error": f"unknown control action {action!r}"}
        try:
            return 200, {"result": actions[action](**args)}
        except (TypeError, KeyError, ValueError, InvalidOperation) as exc:
            return 400, {"error": str(exc)}


def _absolute(text: str | None, last: Decimal) -> Decimal | None:
    """A limit price as a number: relative forms resolved against the last trade."""
    if text is None:
        return None
    sign = text[:1] if text[:1] in "+-#" else ""
    number = Decimal(text.lstrip("+-#").rstrip("%"))
    if not sign and not text.endswith("%"):
        return number
    amount = last * number / 100 if text.endswith("%") else number
    return last - amount if sign in ("-", "#") else last + amount


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _decimal(text: str | None, field: str) -> Decimal:
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        raise KrakenAnswer(f"EGeneral:Invalid arguments:{field}") from None
    if not value.is_finite():
        raise KrakenAnswer(f"EGeneral:Invalid arguments:{field}")
    return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _txid(prefix: str) -> str:
    # base32 letters and digits, like Kraken's ids; one urandom call (secrets.choice per
    # character was a third of the fake's time per order, and benchmarks measure clients)
    text = base64.b32encode(secrets.token_bytes(10)).decode()
    return f"{prefix}{text[:5]}-{text[5:10]}-{text[10:]}"


async def _send(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, content: bytes,
                content_type: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()),
                            (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m router_kraken_spot.fake",
        description="A loopback fake of Kraken spot REST for tests and benchmarks (never real).",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost", "::1"],
                        help="loopback only")
    parser.add_argument("--api-key", default=FAKE_API_KEY)
    parser.add_argument("--secret", default=FAKE_API_SECRET, help="base64 API secret")
    parser.add_argument("--tier", default="starter", choices=sorted(REST_LIMITS))
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="do not enforce Kraken's counters (benchmarks)")
    parser.add_argument("--extra-keys", type=int, default=0, metavar="N",
                        help="also accept N more keys on the same account: extra_key(1..N) in "
                        "router_kraken_spot.fake_data (several accounts, benchmarks)")
    args = parser.parse_args(argv)

    import uvicorn

    fake = FakeKraken(api_key=args.api_key, secret=args.secret, tier=args.tier,
                      rate_limits=not args.no_rate_limits,
                      extra_keys=dict(extra_key(n) for n in range(1, args.extra_keys + 1)))
    uvicorn.run(fake, host=args.host, port=args.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()

__all__ = ["FAKE_API_KEY", "FAKE_API_SECRET", "FakeKraken", "Fault", "KrakenAnswer", "main"]
