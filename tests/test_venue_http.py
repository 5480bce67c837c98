"""router_core.VenueHttp: the venue request path without httpx.AsyncClient.

On the core's AiohttpTransport it sends through ``AiohttpTransport.fetch`` (raw loopback
servers here): the request goes out as httpx.AsyncClient sent it, and each failure is the httpx
error http_transport's table names, a connect error only when nothing was written. On any other
transport it hands an httpx.Request to the transport (httpx.MockTransport here).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from alert_router_tests_loopback import Server, answer  # tests/loopback.py, via conftest

from router_core import (
    NOT_SENT_ERRORS,
    AiohttpTransport,
    VenueHttp,
    VenueResponse,
    venue_http_client,
)

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")


@pytest_asyncio.fixture
async def venue() -> AsyncIterator[Callable[..., VenueHttp]]:
    """``venue(base_url, **options)``: a VenueHttp on its own AiohttpTransport (transport=None,
    as in production), closed after the test."""
    made: list[VenueHttp] = []

    def build(base_url: str, **options: object) -> VenueHttp:
        options.setdefault("timeout", 5)
        made.append(VenueHttp(base_url=base_url, transport=None, **options))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for each in made:
        await each.aclose()


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         server: Server) -> None:
    while (seen := await server.read(reader)) is not None:
        echo = json.dumps({"line": seen.request_line.decode(), "body": seen.body.decode(),
                           "price": 40000.5})
        writer.write(answer(201, echo.encode(), ("X-Reply: one", "Set-Cookie: session=abc",
                                                 "Content-Type: application/json")))
        await writer.drain()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the direct path on AiohttpTransport -------------------------------------------------------

async def test_status_headers_body_and_json_on_one_kept_alive_connection(serve, venue) -> None:
    server = await serve(keep_answering)
    http = venue(server.url)
    assert type(http.transport) is AiohttpTransport
    got = await http.get("/0/public/Ticker", params={"pair": "XBTUSD", "t": "a b:c"})
    assert isinstance(got, VenueResponse) and got.status == 201
    assert got.headers["content-type"] == "application/json"
    assert got.headers["X-REPLY"] == got.headers.get("x-reply") == "one"
    assert got.json()["line"] == "GET /0/public/Ticker?pair=XBTUSD&t=a+b%3Ac HTTP/1.1"
    assert got.json(parse_float=Decimal)["price"] == Decimal("40000.5")

    body = b"nonce=1700000000000&ordertype=market&pair=XBTUSD&volume=0.01"
    sent = await http.post("/0/private/AddOrder", content=body, headers={"API-Key": "key"})
    assert sent.status == 201 and sent.json()["body"] == body.decode()
    assert server.requests[1].header("cookie") == []  # the Set-Cookie before is not replayed
    assert server.connections == 1


async def test_a_signed_query_goes_out_byte_for_byte(serve, venue) -> None:
    server = await serve(keep_answering)
    http = venue(server.url + "/")
    await http.request("PUT", "/derivatives/api/v3/sendorder?cliOrdId=a%3Ab&size=1%2E0&x=%20")
    assert server.requests[0].request_line == (
        b"PUT /derivatives/api/v3/sendorder?cliOrdId=a%3Ab&size=1%2E0&x=%20 HTTP/1.1")
    assert server.requests[0].header("content-length") == [b"0"]


@pytest.mark.parametrize("call", ["get", "post", "post-empty"])
async def test_the_venue_sees_the_request_httpx_async_client_sent(serve, venue, call) -> None:
    """Same request line, headers and body as venue_http_client (httpx.AsyncClient on the same
    transport) sent before: a venue cannot tell the two apart."""
    server = await serve(keep_answering)
    options: dict[str, Any] = {"user_agent": "alert-router-test/1",
                               "headers": {"Accept": "application/json"}}
    old = venue_http_client(base_url=server.url, transport=None, timeout=5, **options)
    new = venue(server.url, **options)
    signed = {"API-Key": "key", "Content-Type": "application/x-www-form-urlencoded"}
    try:
        for http in (old, new):
            if call == "get":
                await http.get("/0/public/Time", params={"a": "1"})
            elif call == "post":
                await http.post("/0/private/AddOrder", content=b"nonce=1", headers=signed)
            else:
                await http.post("/derivatives/api/v3/editorder?x=1", headers={"Nonce": "2"})
    finally:
        await old.aclose()
    before, after = server.requests
    assert after.request_line == before.request_line
    # httpx adds br/zstd to Accept-Encoding when brotli/zstandard happen to be installed;
    # VenueHttp asks for what both of its paths always decode
    assert after.header("accept-encoding") == [b"gzip, deflate"]
    assert ([pair for pair in after.headers() if pair[0] != b"accept-encoding"]
            == [pair for pair in before.headers() if pair[0] != b"accept-encoding"])
    assert after.body == before.body


async def test_a_gzip_answer_is_decoded(serve, venue) -> None:
    payload = json.dumps({"error": [], "result": {"unixtime": 1}}).encode()

    async def gzipped(reader, writer, server) -> None:
        while await server.read(reader) is not None:
            writer.write(answer(body=gzip.compress(payload), headers=("Content-Encoding: gzip",)))

    server = await serve(gzipped)
    got = await venue(server.url).get("/")
    assert got.body == payload and got.headers["content-encoding"] == "gzip"


async def test_a_redirect_is_returned_not_followed(serve, venue) -> None:
    async def redirect(reader, writer, server) -> None:
        while await server.read(reader) is not None:
            writer.write(answer(301, b"", ("Location: https://elsewhere.invalid/",)))

    server = await serve(redirect)
    got = await venue(server.url).post("/0/private/AddOrder", content=b"order")
    assert got.status == 301 and got.headers["location"] == "https://elsewhere.invalid/"
    assert len(server.requests) == 1


# -- failures: "not sent" only with proof --------------------------------------------------------

async def test_a_refused_connection_is_not_sent(venue) -> None:
    with pytest.raises(httpx.ConnectError) as info:
        await venue(f"http://127.0.0.1:{_closed_port()}").post("/", content=b"order")
    assert isinstance(info.value, NOT_SENT_ERRORS)
    assert info.value.request.method == "POST"  # names the request, as httpx's errors do


async def test_a_full_pool_is_a_connect_timeout_and_sends_nothing(serve, venue) -> None:
    async def hold(reader, writer, server) -> None:
        await server.read(reader)
        await asyncio.sleep(30)  # never answers

    server = await serve(hold)
    http = venue(server.url, timeout=httpx.Timeout(10, connect=0.1, pool=0.1))
    http.transport = AiohttpTransport(max_connections=1)
    first = asyncio.create_task(http.post("/", content=b"first"))
    while not server.requests:
        await asyncio.sleep(0.01)
    with pytest.raises(NOT_SENT_ERRORS) as info:
        await http.post("/", content=b"second")
    assert isinstance(info.value, httpx.ConnectTimeout)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert server.bodies(b"first") == 1 and server.bodies(b"second") == 0


async def test_the_server_closing_after_the_request_is_ambiguous(serve, venue) -> None:
    async def read_then_close(reader, writer, server) -> None:
        await server.read(reader)

    server = await serve(read_then_close)
    with pytest.raises(httpx.TransportError) as info:
        await venue(server.url).post("/0/private/AddOrder", content=b"order")
    assert isinstance(info.value, httpx.RemoteProtocolError)
    assert not isinstance(info.value, NOT_SENT_ERRORS)
    assert server.bodies(b"order") == 1


async def test_a_reset_after_the_request_is_ambiguous(serve, venue) -> None:
    async def read_then_reset(reader, writer, server) -> None:
        await server.read(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST instead of FIN

    server = await serve(read_then_reset)
    with pytest.raises(httpx.TransportError) as info:
        await venue(server.url).post("/0/private/AddOrder", content=b"order")
    assert isinstance(info.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert not isinstance(info.value, NOT_SENT_ERRORS)
    assert server.bodies(b"order") == 1


async def test_the_server_closing_mid_answer_is_ambiguous(serve, venue) -> None:
    async def half(reader, writer, server) -> None:
        await server.read(reader)
        writer.write(answer(body=b'{"result": {"txid": ["O1"]}}')[:-10])
        await writer.drain()

    server = await serve(half)
    with pytest.raises(httpx.RemoteProtocolError):
        await venue(server.url).post("/", content=b"order")


async def test_no_answer_within_the_read_timeout_is_a_read_timeout(serve, venue) -> None:
    async def silent(reader, writer, server) -> None:
        await server.read(reader)
        await asyncio.sleep(30)

    server = await serve(silent)
    with pytest.raises(httpx.ReadTimeout):
        await venue(server.url, timeout=httpx.Timeout(5, read=0.2)).post("/", content=b"order")
    assert server.bodies(b"order") == 1


# -- any other transport: one httpx.Request handed to it -----------------------------------------

async def test_an_injected_mock_transport_sees_every_request_and_answers_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(418, content=b"no")
        return httpx.Response(200, headers={"X-Venue": "mock", "Content-Encoding": "gzip"},
                              content=gzip.compress(b'{"result": "success"}'))

    http = VenueHttp(base_url="https://api.venue.invalid/v1", transport=httpx.MockTransport(
        handler), timeout=httpx.Timeout(10, connect=3), user_agent="alert-router-test/1")
    got = await http.get("/time", params=[("a", "1"), ("a", "2")])
    assert got.status == 200 and got.headers["x-venue"] == "mock"
    assert got.json() == {"result": "success"}
    refused = await http.post("orders?x=%3A", content=b"nonce=1", headers={"API-Sign": "s"})
    assert (refused.status, refused.body) == (418, b"no")
    await http.aclose()

    get, post = seen
    assert str(get.url) == "https://api.venue.invalid/v1/time?a=1&a=2"
    assert get.headers["user-agent"] == "alert-router-test/1"
    assert get.extensions["timeout"] == httpx.Timeout(10, connect=3).as_dict()
    assert post.url.raw_path == b"/v1/orders?x=%3A"
    assert post.content == b"nonce=1" and post.headers["api-sign"] == "s"
    assert post.headers["content-length"] == "7"


async def test_an_injected_transports_errors_pass_through_unchanged() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    http = VenueHttp(base_url="https://api.venue.invalid", transport=httpx.MockTransport(refuse),
                     timeout=5)
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/order", content=b"x")


async def test_a_subclass_of_the_core_transport_gets_httpx_requests(serve) -> None:
    """A test that wraps AiohttpTransport to watch or break requests keeps seeing them."""
    server = await serve(keep_answering)
    watched: list[str] = []

    class Watching(AiohttpTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            watched.append(str(request.url))
            return await super().handle_async_request(request)

    http = VenueHttp(base_url=server.url, transport=Watching(), timeout=5)
    try:
        assert (await http.get("/0/public/Time")).status == 201
    finally:
        await http.aclose()
    assert watched == [f"{server.url}/0/public/Time"]


# -- headers and life cycle --------------------------------------------------------------------

def test_the_clients_headers_replace_the_defaults_under_any_spelling() -> None:
    http = VenueHttp(base_url="https://api.venue.invalid", transport=httpx.MockTransport(
        lambda request: httpx.Response(200)), timeout=5,
        headers={"accept": "application/json", "User-Agent": "from-headers"})
    assert http._headers == {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive",
                             "accept": "application/json", "User-Agent": "from-headers"}
    named = VenueHttp(base_url="https://api.venue.invalid", transport=None, timeout=5,
                      headers={"user-agent": "from-headers"}, user_agent="named")
    assert [value for name, value in named._headers.items()
            if name.lower() == "user-agent"] == ["named"]


async def test_closing_the_client_closes_its_transport(serve, venue) -> None:
    server = await serve(keep_answering)
    http = venue(server.url)
    await http.get("/")
    await http.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.get("/")


def test_importing_the_client_does_not_import_aiohttp() -> None:
    probe = "import sys, router_core.venue_http; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"
