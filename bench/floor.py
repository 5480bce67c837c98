"""The floor: a minimal hand-signed AddOrder, exactly as Kraken documents it, and nothing else.

``API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))``. No
journal, no sizing, no retries: what any client must at least spend per order. The same
signing code also runs under httpx, on the transport the router ships
(``router_core.AiohttpTransport``) and on httpx's default httpcore pool (the router's transport
before), so the transport's own cost shows beside the floor's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

ADD_ORDER = "/0/private/AddOrder"
ORDER = (("ordertype", "limit"), ("type", "buy"), ("volume", "0.0001"), ("pair", "XBTUSD"),
         ("price", "40000.0"))  # rests below the fake's last price: placed, not filled


class Signer:
    def __init__(self, api_key: str, secret_b64: str) -> None:
        self.api_key = api_key
        self._secret = base64.b64decode(secret_b64)
        self._last = 0

    def nonce(self) -> str:
        # strictly increasing even when two orders share a millisecond
        self._last = max(self._last + 1, time.time_ns() // 1_000_000)
        return str(self._last)

    def add_order(self) -> tuple[bytes, dict[str, str]]:
        nonce = self.nonce()
        body = urlencode((("nonce", nonce), *ORDER, ("cl_ord_id", str(uuid.uuid4()))))
        digest = hashlib.sha256((nonce + body).encode()).digest()
        mac = hmac.new(self._secret, ADD_ORDER.encode() + digest, hashlib.sha512)
        return body.encode(), {
            "API-Key": self.api_key,
            "API-Sign": base64.b64encode(mac.digest()).decode(),
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        }


def check(payload: bytes) -> None:
    data = json.loads(payload)
    if data.get("error") or not data.get("result", {}).get("txid"):
        raise RuntimeError(f"the fake refused an order: {data.get('error')}")


Sender = Callable[[], Awaitable[None]]


class AiohttpFloor:
    name = "floor"

    def __init__(self, base_url: str, signer: Signer, session: Any) -> None:
        self.url = base_url + ADD_ORDER
        self.signer = signer
        self.session = session

    async def send(self) -> None:
        body, headers = self.signer.add_order()
        async with self.session.post(self.url, data=body, headers=headers) as response:
            check(await response.read())


class HttpxFloor:
    def __init__(self, base_url: str, signer: Signer, client: Any) -> None:
        self.url = base_url + ADD_ORDER
        self.signer = signer
        self.client = client

    async def send(self) -> None:
        body, headers = self.signer.add_order()
        response = await self.client.post(self.url, content=body, headers=headers)
        check(response.content)


def aiohttp_session(connections: int) -> Any:
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))


def httpx_client(transport: str, connections: int) -> Any:
    """httpx as the Kraken clients configure it (no cookie jar, see ``router_core.NoCookies``)
    on ``router-transport`` (``router_core.AiohttpTransport``, what the router ships) or
    ``httpcore`` (httpx's default pool, the router's transport before)."""
    import httpx

    from router_core import AiohttpTransport, NoCookies

    if transport == "router-transport":
        # ssl=None: the transport's shared verifying context, as the router builds it; unused
        # on the fake's plain-HTTP loopback URL.
        chosen: httpx.AsyncBaseTransport = AiohttpTransport(ssl=None, max_connections=connections)
    elif transport == "httpcore":
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        chosen = httpx.AsyncHTTPTransport(limits=limits)
    else:
        raise ValueError(f"unknown httpx transport {transport!r}")
    return httpx.AsyncClient(transport=chosen, timeout=30, cookies=NoCookies())
