"""Workers for the clients the router is compared with: the hand-signed floor and ccxt (and
the floor's signing code on the router's HTTP paths).

Each runs in its own process (``run.py --worker NAME``) so imports, memory and garbage of one
never weigh on another; it prints one JSON object.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
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


def ccxt_factory(base_url: str) -> Callable[[int], Any]:
    """A maker of ccxt Kraken clients on ``base_url``, one per fake key number."""
    import ccxt.async_support as ccxt_async

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
    return make


def ccxt_sender(exchange: Any) -> measure.Send:
    async def send() -> None:
        order = await exchange.create_order(
            "BTC/USD", "limit", "buy", 0.0001, 40000.0, {"clientOrderId": str(uuid.uuid4())})
        if not order.get("id"):
            raise RuntimeError("ccxt returned an order without an id")
    return send


async def ccxt_worker(base_url: str, p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import ccxt.async_support  # noqa: F401 - timed: what ccxt pays to start

    import_s = time.perf_counter() - started
    make = ccxt_factory(base_url)
    first = make(0)
    await first.load_markets()
    ready_s = time.perf_counter() - started

    out: dict[str, Any] = {"import_ms": round(import_s * 1000, 1),
                           "ready_ms": round(ready_s * 1000, 1)}
    out["sequential"] = await measure.sequential(ccxt_sender(first), p["sequential"],
                                                 p["warmup"])
    others = [make(n) for n in range(1, p["keys"] + 1)]
    for exchange in others:
        exchange.set_markets(first.markets, first.currencies)
    many = [ccxt_sender(e) for e in others]
    out["in_flight"] = await measure.in_flight(many, p["in_flight_orders"])
    out["fan_out"] = {str(k): await measure.fan_out(many[:k], p["fan_out_rounds"])
                      for k in p["fan_out"]}
    out["rss_mb"] = measure.rss_mb()
    await asyncio.gather(first.close(), *(e.close() for e in others))
    return out


async def realistic_reference_worker(base_url: str, p: dict[str, Any]) -> dict[str, Any]:
    """The floor and ccxt against the fake that answers after ``latency_ms``, measured as the
    router's realistic worker is: one order, then the widest fan-out, in alternating rounds.
    Their ratio shows what the fake itself adds to a fan-out (one process answering 50
    requests that arrive together), which the router's ratio contains too."""
    widest, rounds = max(p["fan_out"]), p["realistic_rounds"]
    session = floor.aiohttp_session(widest + 1)
    floors = [floor.AiohttpFloor(base_url, floor.Signer(*fakes.key(n)), session).send
              for n in range(widest + 1)]
    out = {"floor": await measure.alternating(floors[0], measure.gathered(floors[1:]), widest,
                                              rounds)}
    await session.close()
    make = ccxt_factory(base_url)
    exchanges = [make(n) for n in range(widest + 1)]
    await exchanges[0].load_markets()
    for exchange in exchanges[1:]:
        exchange.set_markets(exchanges[0].markets, exchanges[0].currencies)
    senders = [ccxt_sender(e) for e in exchanges]
    out["ccxt"] = await measure.alternating(senders[0], measure.gathered(senders[1:]), widest,
                                            rounds)
    await asyncio.gather(*(e.close() for e in exchanges))
    return out
