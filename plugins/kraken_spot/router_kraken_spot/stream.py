"""Kraken spot's private WebSocket v2 ``executions`` channel: the account's fills as they happen
(docs: kraken-spot.md section 7), and TradesHistory for catching up after a reconnect.

One connection per call of ``executions``: a fresh token from GetWebSocketsToken right before
connecting (Kraken: use it within 15 minutes; it stays good while the subscription is up, so a
token is never reused across connections and never met expired), then ``subscribe`` with
``snap_orders``, the snapshot, and updates. Every message carries the connection's sequence
number: a gap means a message was lost, so the connection is given up (``VenueUnavailable``)
and the core reconnects and catches up through REST. Kraken sends a heartbeat every second
while subscribed; nothing at all for ``read_timeout`` seconds means a dead connection.

Numbers are read as Decimal straight from the JSON text (``parse_float``), never as floats.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp

from router_core import AuthError, Fill, Side, VenueUnavailable

SUBSCRIBE_REQ_ID = 1
# Our own pings keep middleboxes from closing a quiet connection (aiohttp answers the
# venue's pings itself).
PING_SECONDS = 30.0
_TOKEN_ERRORS = ("token", "EAPI:Invalid key", "EGeneral:Permission denied")

# client order id of an order placed with a userref instead of cl_ord_id (a conditional close)
UserrefLookup = Callable[[int], str | None]
# Kraken's spelling of a pair (wsname, altname or key) -> Instrument.symbol
SymbolLookup = Callable[[str], str]


async def executions(
    url: str, token: str, *, symbol: SymbolLookup, userref: UserrefLookup,
    read_timeout: float,
) -> AsyncIterator[Fill | None]:
    """The fills of one connection; ``None`` once the subscription and its snapshot are in."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, heartbeat=PING_SECONDS, autoping=True)
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueUnavailable(f"Kraken WebSocket: cannot connect ({type(exc).__name__})",
                                   from_venue=False) from None
        async with ws:
            await ws.send_str(json.dumps({
                "method": "subscribe", "req_id": SUBSCRIBE_REQ_ID,
                "params": {"channel": "executions", "token": token, "snap_orders": True,
                           "snap_trades": False, "order_status": True, "ratecounter": False},
            }))
            sequence: int | None = None
            # heartbeats alone do not make a subscription: its snapshot must come in time too
            loop = asyncio.get_running_loop()
            snapshot_by = loop.time() + read_timeout
            while True:
                message = await _receive(ws, read_timeout)
                if sequence is None and loop.time() > snapshot_by:
                    raise VenueUnavailable(
                        f"Kraken executions: no snapshot within {read_timeout:g} s of "
                        "subscribing; reconnecting", from_venue=True)
                if message.get("method") == "subscribe":
                    _check_subscribed(message)
                    continue
                if message.get("channel") != "executions":
                    continue  # heartbeat, status, pong
                number = message.get("sequence")
                if sequence is not None and number != sequence + 1:
                    raise VenueUnavailable(
                        f"Kraken executions: sequence gap (expected {sequence + 1}, got "
                        f"{number}); reconnecting to catch up", from_venue=True)
                sequence = number if isinstance(number, int) else sequence
                if message.get("type") == "snapshot":
                    yield None  # the open orders are known; fills from here on come as updates
                    continue
                for entry in message.get("data") or ():
                    if entry.get("exec_type") == "trade":
                        yield _fill(entry, symbol, userref)


async def _receive(ws: aiohttp.ClientWebSocketResponse, read_timeout: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(read_timeout):
            message = await ws.receive()
    except TimeoutError:
        raise VenueUnavailable(
            f"Kraken WebSocket: nothing received for {read_timeout:g} s (heartbeats stopped); "
            "reconnecting", from_venue=False) from None
    if message.type is aiohttp.WSMsgType.TEXT:
        data = json.loads(message.data, parse_float=Decimal)
        return data if isinstance(data, dict) else {}
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
        code = ws.close_code
        raise VenueUnavailable(f"Kraken WebSocket closed (code {code})", from_venue=True)
    return {}


def _check_subscribed(message: Mapping[str, Any]) -> None:
    if message.get("success"):
        return
    error = str(message.get("error") or "no reason given")
    if any(mark in error for mark in _TOKEN_ERRORS):
        raise AuthError(f"Kraken refused the executions subscription: {error}",
                        venue_code=error, from_venue=True)
    raise VenueUnavailable(f"Kraken refused the executions subscription: {error}",
                           venue_code=error, from_venue=True)


def _fill(entry: Mapping[str, Any], symbol: SymbolLookup, userref: UserrefLookup) -> Fill:
    client_order_id = str(entry.get("cl_ord_id") or "")
    if not client_order_id and entry.get("order_userref"):
        client_order_id = userref(int(entry["order_userref"])) or ""
    fees = entry.get("fees") or []
    fee = sum((Decimal(str(item.get("qty", 0))) for item in fees), Decimal(0))
    return Fill(
        # exec_id of a trade is the trade's txid, the key TradesHistory lists it under
        trade_id=str(entry["exec_id"]),
        venue_order_id=str(entry["order_id"]),
        client_order_id=client_order_id,
        symbol=symbol(str(entry.get("symbol", ""))),
        side=Side(entry["side"]),
        quantity=Decimal(str(entry["last_qty"])),
        price=Decimal(str(entry["last_price"])),
        fee=fee,
        fee_currency=str(fees[0]["asset"]) if fees else None,
        time=_seconds(entry.get("timestamp")),
        order_done=True if entry.get("order_status") == "filled" else None,
    )


def trades_history_fills(trades: Mapping[str, Any], *, symbol: SymbolLookup,
                         client_ids: Mapping[str, str]) -> list[Fill]:
    """TradesHistory's ``trades`` as fills, oldest first (``client_ids``: venue order id ->
    client order id, where the caller knows it)."""
    fills = []
    for txid, trade in trades.items():
        order_id = str(trade.get("ordertxid", ""))
        fills.append(Fill(
            trade_id=str(txid), venue_order_id=order_id,
            client_order_id=client_ids.get(order_id, ""),
            symbol=symbol(str(trade.get("pair", ""))), side=Side(trade["type"]),
            quantity=Decimal(str(trade["vol"])), price=Decimal(str(trade["price"])),
            fee=Decimal(str(trade.get("fee") or 0)), time=float(trade.get("time") or 0),
        ))
    return sorted(fills, key=lambda fill: fill.time)


def _seconds(timestamp: Any) -> float:
    if not isinstance(timestamp, str):
        return 0.0
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
