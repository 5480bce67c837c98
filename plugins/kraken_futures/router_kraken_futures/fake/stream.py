"""A loopback fake of Kraken Futures' WebSocket v1 (``/ws/v1``), for tests and benchmarks.
Never a real exchange.

It speaks the challenge flow as documented: ``{"event":"challenge","api_key":K}`` is answered
with a fresh challenge; a subscription to a private feed must carry that key, that challenge
and its signature by the key's secret (``signing.sign_challenge``), else the venue answers
``{"event":"alert","message":"Failed to subscribe to authenticated feed"}``. Feeds: ``fills``
and ``open_orders_verbose`` (a snapshot, then one message per execution of the fake's orders),
and the public ``heartbeat`` (every ``heartbeat_seconds``).

Tests steer it: ``drop()`` closes every connection, ``stall(seconds)`` sends nothing for a
while. ``refused`` lists the alerts sent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from ..signing import decode_secret, sign_challenge
from .app import FakeKrakenFutures
from .engine import FakeOrder

AUTH_FAILED = "Failed to subscribe to authenticated feed"
PRIVATE_FEEDS = ("fills", "open_orders_verbose")


class FakeFuturesStream:
    def __init__(self, venue: FakeKrakenFutures, *, heartbeat_seconds: float = 1.0) -> None:
        self.venue = venue
        self.heartbeat_seconds = heartbeat_seconds
        self.refused: list[str] = []
        self.connections = 0
        self._clients: set[_Client] = set()
        self._sending: set[asyncio.Task[None]] = set()  # messages on their way
        self._stalled_until = 0.0
        self._runner: web.AppRunner | None = None
        self.url = ""
        venue.exchange.fill_listeners.append(self._on_fill)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/ws/v1", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://{host}:{bound}/ws/v1"
        return self.url

    async def stop(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def drop(self) -> None:
        for client in list(self._clients):
            await client.ws.close()

    def stall(self, seconds: float) -> None:
        self._stalled_until = asyncio.get_running_loop().time() + seconds

    @property
    def subscribed(self) -> int:
        return sum(1 for client in self._clients if "fills" in client.feeds)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client = _Client(ws)
        self._clients.add(client)
        self.connections += 1
        beat = asyncio.create_task(self._heartbeats(client))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                await self._on_message(client, json.loads(message.data))
        finally:
            beat.cancel()
            self._clients.discard(client)
        return ws

    async def _on_message(self, client: _Client, message: dict[str, Any]) -> None:
        event, feed = message.get("event"), message.get("feed")
        if event == "challenge":
            key = str(message.get("api_key") or "")
            if key not in self.venue.keys:
                await self._alert(client, "Invalid API key")
                return
            client.challenges[key] = challenge = str(uuid.uuid4())
            await self._send(client, {"event": "challenge", "message": challenge})
            return
        if event != "subscribe":
            return
        if feed == "heartbeat":
            client.feeds.add("heartbeat")
            await self._send(client, {"event": "subscribed", "feed": "heartbeat"})
            return
        if feed not in PRIVATE_FEEDS or not self._signed(client, message):
            await self._alert(client, AUTH_FAILED)
            return
        client.feeds.add(str(feed))
        await self._send(client, {"event": "subscribed", "feed": feed,
                                  "api_key": message["api_key"]})
        if feed == "fills":
            await self._send(client, {"feed": "fills_snapshot", "account": "fake",
                                      "fills": []})
        else:
            orders = [_order(o) for o in self.venue.exchange.orders.values()
                      if o.state == "ENTERED_BOOK"]
            await self._send(client, {"feed": "open_orders_verbose_snapshot",
                                      "account": "fake", "orders": orders})

    def _signed(self, client: _Client, message: dict[str, Any]) -> bool:
        key = str(message.get("api_key") or "")
        challenge = client.challenges.get(key)
        secret = self.venue.keys.get(key)
        if challenge is None or secret is None or message.get("original_challenge") != challenge:
            return False
        return message.get("signed_challenge") == sign_challenge(decode_secret(secret), challenge)

    async def _alert(self, client: _Client, text: str) -> None:
        self.refused.append(text)
        await self._send(client, {"event": "alert", "message": text})

    async def _heartbeats(self, client: _Client) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            if "heartbeat" in client.feeds:
                await self._send(client, {"feed": "heartbeat",
                                          "time": int(self.venue.clock.time() * 1000)})

    def _on_fill(self, order: FakeOrder, fill: dict[str, Any]) -> None:
        done = order.filled >= order.quantity
        entry = {
            "instrument": order.symbol, "time": int(self.venue.clock.time() * 1000),
            "price": float(fill["price"]), "seq": len(self.venue.exchange.fills),
            "buy": order.side == "buy", "qty": float(fill["size"]),
            "remaining_order_qty": float(order.quantity - order.filled),
            "order_id": order.order_id, "fill_id": fill["fill_id"],
            "fill_type": fill["fillType"], "fee_paid": 0.0, "fee_currency": "USD",
            "taker_order_type": order.order_type, "order_type": order.order_type,
        }
        if order.cli_ord_id:
            entry["cli_ord_id"] = order.cli_ord_id
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # filled outside the event loop: no connection to tell
            return
        for client in list(self._clients):
            if "fills" in client.feeds:
                self._spawn(loop, self._send(client, {"feed": "fills", "username": "fake",
                                                     "fills": [entry]}))
            if "open_orders_verbose" in client.feeds and done:
                self._spawn(loop, self._send(client, {
                    "feed": "open_orders_verbose", "order_id": order.order_id,
                    "is_cancel": True, "reason": "full_fill"}))

    def _spawn(self, loop: asyncio.AbstractEventLoop, sending: Any) -> None:
        task = loop.create_task(sending)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, client: _Client, message: dict[str, Any]) -> None:
        if self._stalled_until > asyncio.get_running_loop().time():
            return
        async with client.sending:  # in the order the messages were made (sequence numbers)
            if not client.ws.closed:
                await client.ws.send_str(json.dumps(message))


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.sending = asyncio.Lock()
        self.challenges: dict[str, str] = {}  # api key -> the challenge sent for it
        self.feeds: set[str] = set()


def _order(order: FakeOrder) -> dict[str, Any]:
    return {"instrument": order.symbol, "time": 0, "last_update_time": 0,
            "qty": float(order.quantity), "filled": float(order.filled),
            "limit_price": float(order.limit_price or 0), "stop_price": 0.0,
            "type": "limit", "order_id": order.order_id, "cli_ord_id": order.cli_ord_id,
            "direction": 0 if order.side == "buy" else 1, "reduce_only": order.reduce_only}
