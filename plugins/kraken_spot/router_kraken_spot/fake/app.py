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
import json
from collections import Counter as Tally
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx

from router_core import Clock

from ..endpoints import ENDPOINTS, REST_LIMITS, TRADING_LIMITS, Counter, Endpoint, cancel_cost
from ..fake_data import FAKE_API_KEY, FAKE_API_SECRET, extra_key
from ..signing import decode_secret, verify
from .venue import FakeVenue, KrakenAnswer

# Public endpoints the plugin's own client never calls (so they stay out of its allowlist) but
# other clients of the fake do: ccxt's kraken loads Assets next to AssetPairs (the ccxt plugin's
# tests point ccxt at this fake).
PUBLIC_FOR_OTHER_CLIENTS = {"/0/public/Assets": Endpoint("Assets", False, Counter.PUBLIC)}


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



class FakeKraken(FakeVenue):
    """The fake venue on the wire; the instance is the ASGI app."""

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
        super().__init__(clock=clock, pairs=pairs, prices=prices, balances=balances)
        self.api_key = api_key
        self._secret = decode_secret(secret)
        # More API keys on the same account (several router accounts, benchmarks): key -> the
        # base64 secret. Nonces and the REST counter are per key, as at Kraken.
        self._extra_secrets = {key: decode_secret(value)
                               for key, value in (extra_keys or {}).items()}
        self.otp = otp
        self.tier = tier
        self.rate_limits = rate_limits
        self.last_nonce: dict[str, int] = {}
        self._rest: dict[str, _Meter] = {}
        self._trading: dict[str, _Meter] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self.calls: list[Call] = []
        self.errors_sent: Tally[str] = Tally()

    # -- inspection ---------------------------------------------------------------------------

    @property
    def add_order_calls(self) -> int:
        """Every AddOrder request that reached the fake, whatever it was answered."""
        return sum(1 for call in self.calls if call.method == "AddOrder")

    def bodies(self, method: str = "AddOrder") -> list[str]:
        return [call.body for call in self.calls if call.method == method]


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

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: MutableMapping[str, Any],
                       receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
                       send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
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
        endpoint = ENDPOINTS.get(path) or PUBLIC_FOR_OTHER_CLIENTS.get(path)
        method = path.rsplit("/", 1)[-1]
        text = body.decode("utf-8", "replace")
        fields = dict(parse_qsl(text, keep_blank_values=True))
        if headers.get("content-type", "").startswith("application/json"):
            # Kraken takes JSON bodies as well as forms (docs/kraken-spot.md, "Form vs JSON
            # body"); ccxt sends one for a percentage trailing stop
            fields = _json_fields(text)
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


def _json_fields(text: str) -> dict[str, str]:
    """A JSON object body as the string fields a form body gives (an unreadable body: none)."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}


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
