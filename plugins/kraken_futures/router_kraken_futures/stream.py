"""Kraken Futures' private WebSocket v1 feeds ``fills`` and ``open_orders_verbose``: the
account's fills as they happen (docs: kraken-futures.md section 8), and the REST ``fills``
endpoint for catching up after a reconnect.

One connection per call of ``fill_feed``: ask for a challenge with the API key, sign it
(``signing.sign_challenge``: HMAC-SHA512 with the secret over SHA-256 of the challenge), and
subscribe to ``fills`` and ``open_orders_verbose`` with the key, the challenge and its
signature, and to the public ``heartbeat`` feed, so a quiet account still hears from the venue:
nothing for ``read_timeout`` seconds means a dead connection. Kraken wants a ping at least
every 60 s; aiohttp sends one every ``PING_SECONDS``. A refused challenge (the venue's
``alert``) is an ``AuthError`` that says so, never a silent retry loop.

``open_orders_verbose`` is read for what ``fills`` cannot tell: it is logged (an order the
venue cancelled, a post-only order it refused); fill data is taken from ``fills`` only (orders
removed because they filled also arrive there as cancels).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp

from router_core import AuthError, Fill, Side, VenueUnavailable

log = logging.getLogger("router_kraken_futures.stream")

PING_SECONDS = 30.0
PRIVATE_FEEDS = ("fills", "open_orders_verbose")


async def fill_feed(url: str, api_key: str, sign: Callable[[str], str], *,
                    read_timeout: float) -> AsyncIterator[Fill | None]:
    """The fills of one connection; ``None`` once both private feeds sent their snapshot."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, heartbeat=PING_SECONDS, autoping=True)
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueUnavailable(
                f"Kraken Futures WebSocket: cannot connect ({type(exc).__name__})",
                from_venue=False) from None
        async with ws:
            await ws.send_str(json.dumps({"event": "challenge", "api_key": api_key}))
            challenge = ""
            while not challenge:
                message = await _receive(ws, read_timeout)
                _refused(message, "the challenge request")
                if message.get("event") == "challenge":
                    challenge = str(message.get("message") or "")
            signed = sign(challenge)
            await ws.send_str(json.dumps({"event": "subscribe", "feed": "heartbeat"}))
            for feed in PRIVATE_FEEDS:
                await ws.send_str(json.dumps({
                    "event": "subscribe", "feed": feed, "api_key": api_key,
                    "original_challenge": challenge, "signed_challenge": signed,
                }))
            snapshots: set[str] = set()
            # heartbeats alone do not make a subscription: its snapshots must come in time too
            loop = asyncio.get_running_loop()
            snapshots_by = loop.time() + read_timeout
            while True:
                message = await _receive(ws, read_timeout)
                if len(snapshots) < len(PRIVATE_FEEDS) and loop.time() > snapshots_by:
                    raise VenueUnavailable(
                        f"Kraken Futures: no snapshot of {', '.join(PRIVATE_FEEDS)} within "
                        f"{read_timeout:g} s of subscribing; reconnecting", from_venue=True)
                _refused(message, "the subscription (is the challenge signed with this key's "
                                  "secret?)")
                feed = str(message.get("feed") or "")
                if feed.endswith("_snapshot"):
                    snapshots.add(feed.removesuffix("_snapshot"))
                    if snapshots == set(PRIVATE_FEEDS):
                        yield None  # subscribed: the core catches up through REST now
                elif feed == "fills":
                    for item in message.get("fills") or ():
                        yield _fill(item)
                elif feed == "open_orders_verbose" and message.get("is_cancel"):
                    log.debug("order %s ended at the venue: %s", message.get("order_id"),
                              message.get("reason"))


async def _receive(ws: aiohttp.ClientWebSocketResponse, read_timeout: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(read_timeout):
            message = await ws.receive()
    except TimeoutError:
        raise VenueUnavailable(
            f"Kraken Futures WebSocket: nothing received for {read_timeout:g} s (heartbeats "
            "stopped); reconnecting", from_venue=False) from None
    if message.type is aiohttp.WSMsgType.TEXT:
        data = json.loads(message.data, parse_float=Decimal)
        return data if isinstance(data, dict) else {}
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
        raise VenueUnavailable(f"Kraken Futures WebSocket closed (code {ws.close_code})",
                               from_venue=True)
    return {}


def _refused(message: Mapping[str, Any], what: str) -> None:
    if message.get("event") in ("alert", "error"):
        reason = str(message.get("message") or "no reason given")
        raise AuthError(f"Kraken Futures refused {what}: {reason}", venue_code=reason,
                        from_venue=True)


def _fill(item: Mapping[str, Any]) -> Fill:
    remaining = item.get("remaining_order_qty")
    return Fill(
        trade_id=str(item["fill_id"]),
        venue_order_id=str(item["order_id"]),
        client_order_id=str(item.get("cli_ord_id") or ""),
        symbol=str(item["instrument"]).upper(),
        side=Side.BUY if item.get("buy") else Side.SELL,
        quantity=Decimal(str(item["qty"])),
        price=Decimal(str(item["price"])),
        fee=Decimal(str(item.get("fee_paid") or 0)),
        fee_currency=str(item["fee_currency"]) if item.get("fee_currency") else None,
        time=float(item.get("time") or 0) / 1000,  # milliseconds on the feed
        order_done=(Decimal(str(remaining)) == 0) if remaining is not None else None,
    )


def rest_fills(fills: Iterable[Mapping[str, Any]], since: float) -> list[Fill]:
    """The REST ``fills`` answer as fills at or after ``since``, oldest first."""
    out = []
    for item in fills:
        at = _seconds(item.get("fillTime"))
        if at < since:
            continue
        out.append(Fill(
            trade_id=str(item["fill_id"]), venue_order_id=str(item.get("order_id") or ""),
            client_order_id=str(item.get("cliOrdId") or ""),
            symbol=str(item.get("symbol", "")).upper(),
            side=Side(str(item.get("side"))), quantity=Decimal(str(item["size"])),
            price=Decimal(str(item["price"])), time=at,
        ))
    return sorted(out, key=lambda fill: fill.time)


def _seconds(text: Any) -> float:
    if not isinstance(text, str):
        return 0.0
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
