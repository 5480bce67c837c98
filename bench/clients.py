"""Workers for the clients the router is compared with: the hand-signed floor and ccxt (and
the floor's signing code on the router's HTTP paths).

Each runs in its own process (``run.py --worker NAME``) so imports, memory and garbage of one
never weigh on another; it prints one JSON object.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import fakes
import floor
import measure


async def floor_worker(base_url: str, transport: str, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    keys = p["keys"]
    if transport == "aiohttp":
        import aiohttp  # noqa: F401 - timed: what the floor pays to start

        session = floor.aiohttp_session(keys)

        def make(n: int) -> floor.AiohttpFloor:
            return floor.AiohttpFloor(base_url, floor.Signer(*fakes.key(n)), session)
        close = session.close
    elif transport == "venue-http":
        from router_core import AiohttpTransport, VenueHttp

        # ssl=None: the transport's shared verifying context, as the router builds it
        http = VenueHttp(base_url=base_url, timeout=30,
                         transport=AiohttpTransport(ssl=None, max_connections=keys))

        def make(n: int) -> VenueHttpFloor:  # type: ignore[misc]
            return VenueHttpFloor(floor.Signer(*fakes.key(n)), http)
        close = http.aclose
    else:
        session = floor.httpx_client(transport, keys)

        def make(n: int) -> floor.HttpxFloor:  # type: ignore[misc]
            return floor.HttpxFloor(base_url, floor.Signer(*fakes.key(n)), session)
        close = session.aclose
    first = make(0)
    await first.send()
    ready_s = time.perf_counter() - started
    out: dict[str, Any] = {"ready_ms": round(ready_s * 1000, 1)}
    out["sequential"] = await measure.sequential(first.send, p["sequential"], p["warmup"])
    many = [make(n).send for n in range(1, keys + 1)]
    out["in_flight"] = await measure.in_flight(many, p["in_flight_orders"])
    out["fan_out"] = {str(k): await measure.fan_out(many[:k], p["fan_out_rounds"])
                      for k in p["fan_out"]}
    await close()
    out["rss_mb"] = measure.rss_mb()
    return out


class VenueHttpFloor:
    """The floor's signing code on ``router_core.VenueHttp``, the request path the Kraken
    plugins use: what the router's HTTP costs beside the floor's bare aiohttp POST."""

    def __init__(self, signer: floor.Signer, http: Any) -> None:
        self.signer = signer
        self.http = http

    async def send(self) -> None:
        body, headers = self.signer.add_order()
        answer = await self.http.post(floor.ADD_ORDER, content=body, headers=headers)
        floor.check(answer.body)


async def ccxt_worker(base_url: str, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import ccxt.async_support as ccxt_async

    import_s = time.perf_counter() - started

    class FakeKraken(ccxt_async.kraken):  # type: ignore[misc, name-defined]
        async def fetch_currencies(self, params: Any = None) -> dict[str, Any]:
            return {}  # the fake has no /0/public/Assets; markets come from AssetPairs

    def make(n: int) -> Any:
        api_key, secret = fakes.key(n)
        exchange = FakeKraken({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
        exchange.urls["api"] = {"public": base_url, "private": base_url}
        last = [0]

        def nonce() -> int:  # ccxt's is the millisecond: two orders in one ms would collide
            last[0] = max(last[0] + 1, exchange.milliseconds())
            return last[0]

        exchange.nonce = nonce
        return exchange

    first = make(0)
    await first.load_markets()
    ready_s = time.perf_counter() - started

    def sender(exchange: Any) -> measure.Send:
        async def send() -> None:
            order = await exchange.create_order(
                "BTC/USD", "limit", "buy", 0.0001, 40000.0, {"clientOrderId": str(uuid.uuid4())})
            if not order.get("id"):
                raise RuntimeError("ccxt returned an order without an id")
        return send

    out: dict[str, Any] = {"import_ms": round(import_s * 1000, 1),
                           "ready_ms": round(ready_s * 1000, 1)}
    out["sequential"] = await measure.sequential(sender(first), p["sequential"], p["warmup"])
    others = [make(n) for n in range(1, p["keys"] + 1)]
    for exchange in others:
        exchange.set_markets(first.markets, first.currencies)
    many = [sender(e) for e in others]
    out["in_flight"] = await measure.in_flight(many, p["in_flight_orders"])
    out["fan_out"] = {str(k): await measure.fan_out(many[:k], p["fan_out_rounds"])
                      for k in p["fan_out"]}
    out["rss_mb"] = measure.rss_mb()
    await asyncio.gather(first.close(), *(e.close() for e in others))
    return out
