"""The Kraken spot fake with a venue's latency: every answer waits a fixed time first.

    python bench/latent_fake.py --port 8765 --latency-ms 150 --extra-keys 50

The realistic mode of the benchmark (bench/README.md, "Realistic latency"): against the real
Kraken an order's round trip is about 150 ms, so the router's own CPU per order hides behind
the network for one order, and shows again when one alert fans out to many accounts. The
fake itself is unchanged (``router_kraken_spot.fake``, rate counters off); this wrapper only
holds each answer back, without blocking the others (an ``asyncio.sleep`` per request, so 50
requests in flight wait their 150 ms together, as 50 separate connections to Kraken would).
The control API (``/_fake/...``) answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Latency:
    """ASGI middleware: the response of every HTTP request but the control API starts
    ``seconds`` after the app answered it."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_fake/"):
            await self.app(scope, receive, send)
            return

        async def late_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(self.seconds)
            await send(message)

        await self.app(scope, receive, late_send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--extra-keys", type=int, default=0)
    args = parser.parse_args()

    import uvicorn
    from router_kraken_spot.fake.app import FakeKraken
    from router_kraken_spot.fake_data import extra_key

    fake = FakeKraken(rate_limits=False,
                      extra_keys=dict(extra_key(n) for n in range(1, args.extra_keys + 1)))
    uvicorn.run(Latency(fake, args.latency_ms / 1000), host="127.0.0.1", port=args.port,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
