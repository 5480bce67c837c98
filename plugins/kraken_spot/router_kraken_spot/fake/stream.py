"""A loopback fake of Kraken's private WebSocket v2 (``executions``), for tests and benchmarks.
Never a real exchange.

It serves ``/v2`` on 127.0.0.1 beside a ``FakeVenue`` (the REST fake): a subscribe must carry a
token the venue issued through GetWebSocketsToken and has not let expire; then it sends the
snapshot of open orders and one update per execution as the venue's orders fill (``trade``,
then ``filled`` when the order is done), each message with the connection's next sequence
number, and a heartbeat every ``heartbeat_seconds``.

Tests steer it: ``drop()`` closes every connection, ``skip_sequence()`` leaves a number out of
the next message, ``stall(seconds)`` sends nothing (heartbeats included) for a while.
``tokens_used`` lists the token of each accepted subscription.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from .venue import FakeVenue


class FakeKrakenStream:
    def __init__(self, venue: FakeVenue, *, heartbeat_seconds: float = 1.0) -> None:
        self.venue = venue
        self.heartbeat_seconds = heartbeat_seconds
        self.tokens_used: list[str] = []
        self.refused: list[str] = []  # the errors answered to subscriptions
        self.connections = 0
        self._clients: set[_Client] = set()
        self._sending: set[asyncio.Task[None]] = set()  # messages on their way
        self._skip = 0
        self._stalled_until = 0.0
        self._runner: web.AppRunner | None = None
        self.url = ""
        venue.fill_listeners.append(self._on_fill)

    # -- serving ----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host`` (a free port unless given); returns the ``ws://`` URL."""
        app = web.Application()
        app.router.add_get("/v2", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://{host}:{bound}/v2"
        return self.url

    async def stop(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- steering ---------------------------------------------------------------------------------

    async def drop(self) -> None:
        """Close every connection now (the venue going away)."""
        for client in list(self._clients):
            await client.ws.close()

    def skip_sequence(self, count: int = 1) -> None:
        """Leave ``count`` sequence numbers out before the next message."""
        self._skip += count

    def stall(self, seconds: float) -> None:
        """Send nothing at all, heartbeats included, for ``seconds`` (real time)."""
        self._stalled_until = asyncio.get_running_loop().time() + seconds

    @property
    def subscribed(self) -> int:
        """Connections with a live ``executions`` subscription."""
        return sum(1 for client in self._clients if client.subscribed)

    # -- one connection ---------------------------------------------------------------------------

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
        method, params = message.get("method"), message.get("params") or {}
        reply: dict[str, Any] = {"method": method, "req_id": message.get("req_id")}
        if method == "ping":
            await self._send(client, {"method": "pong", "req_id": message.get("req_id")})
            return
        if method != "subscribe" or params.get("channel") != "executions":
            await self._send(client, {**reply, "success": False,
                                      "error": "EGeneral:Invalid arguments"})
            return
        token = str(params.get("token") or "")
        if not self.venue.token_valid(token):
            self.refused.append("EGeneral:Invalid arguments:token")
            await self._send(client, {**reply, "success": False,
                                      "error": "EGeneral:Invalid arguments:token"})
            await client.ws.close()
            return
        self.tokens_used.append(token)
        await self._send(client, {**reply, "success": True,
                                  "result": {"channel": "executions", "snapshot": True}})
        snapshot = [_order_entry(order, self.venue) for order in self.venue.orders.values()
                    if order["status"] == "open"] if params.get("snap_orders", True) else []
        await self._send(client, self._numbered(
            client, {"channel": "executions", "type": "snapshot", "data": snapshot}))
        client.subscribed = True

    async def _heartbeats(self, client: _Client) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await self._send(client, {"channel": "heartbeat"})

    def _on_fill(self, order: dict[str, Any], trade: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # filled outside the event loop: no connection to tell
            return
        data = _trade_entries(order, trade, self.venue)
        for client in list(self._clients):
            if client.subscribed:
                message = self._numbered(client, {"channel": "executions", "type": "update",
                                                  "data": data})
                self._spawn(loop, self._send(client, message))

    def _numbered(self, client: _Client, message: dict[str, Any]) -> dict[str, Any]:
        client.sequence += 1 + self._skip
        self._skip = 0
        return {**message, "sequence": client.sequence}

    def _spawn(self, loop: asyncio.AbstractEventLoop, sending: Any) -> None:
        task = loop.create_task(sending)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, client: _Client, message: dict[str, Any]) -> None:
        now = asyncio.get_running_loop().time()
        if self._stalled_until > now:
            return
        async with client.sending:  # in the order the messages were made (sequence numbers)
            if not client.ws.closed:
                await client.ws.send_str(json.dumps(message))


class _Client:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.sending = asyncio.Lock()
        self.sequence = 0
        self.subscribed = False


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _order_entry(order: dict[str, Any], venue: FakeVenue) -> dict[str, Any]:
    pair = venue.pairs[order["_pair"]]
    entry = {"order_id": order["_txid"], "symbol": pair["wsname"],
             "side": order["descr"]["type"], "order_type": order["descr"]["ordertype"],
             "order_qty": float(order["vol"]), "cum_qty": float(order["vol_exec"]),
             "order_status": "new", "order_userref": order.get("userref") or 0,
             "timestamp": _rfc3339(order["opentm"])}
    if order.get("cl_ord_id"):
        entry["cl_ord_id"] = order["cl_ord_id"]
    return entry


def _trade_entries(order: dict[str, Any], trade: dict[str, Any],
                   venue: FakeVenue) -> list[dict[str, Any]]:
    """One execution as Kraken v2 reports it: the ``trade``, then ``filled`` when done."""
    base = _order_entry(order, venue)
    done = Decimal(order["vol_exec"]) >= Decimal(order["vol"]) or order["status"] == "closed"
    status = "filled" if done else "partially_filled"
    quote = venue.pairs[order["_pair"]]["quote"]
    cum_qty = Decimal(order["vol_exec"])
    executed = {**base, "exec_type": "trade", "exec_id": trade["_txid"],
                "trade_id": trade["trade_id"], "last_qty": float(trade["vol"]),
                "last_price": float(trade["price"]), "cost": float(trade["cost"]),
                "cum_qty": float(cum_qty), "cum_cost": float(order["cost"]),
                "avg_price": float(order["price"]),
                "fees": [{"asset": quote, "qty": float(trade["fee"])}],
                "liquidity_ind": "t", "order_status": status,
                "timestamp": _rfc3339(trade["time"])}
    entries = [executed]
    if done:
        entries.append({**base, "exec_type": "filled", "exec_id": trade["_txid"] + "-F",
                        "order_status": "filled", "cum_qty": float(cum_qty),
                        "avg_price": float(order["price"]),
                        "timestamp": _rfc3339(trade["time"])})
    return entries
