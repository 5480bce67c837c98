"""router_core.AiohttpTransport against raw loopback servers: what goes out is what httpx built,
and only a failure that proves nothing was written is reported as a connect error."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from alert_router_tests_loopback import Server, answer  # tests/loopback.py, via conftest

from router_core import AiohttpTransport
from router_core.http_transport import _client_timeout

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

NOTHING_WRITTEN = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []

    def build(base_url: str, max_connections: int = 100, **options: object) -> httpx.AsyncClient:
        made.append(httpx.AsyncClient(
            base_url=base_url, transport=AiohttpTransport(max_connections=max_connections),
            **options))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for each in made:
        await each.aclose()


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         server: Server) -> None:
    while (seen := await server.read(reader)) is not None:
        echo = json.dumps({"line": seen.request_line.decode(), "body": seen.body.decode()})
        writer.write(answer(201, echo.encode(), ("X-Reply: one", "X-Reply: two",
                                                 "Content-Type: application/json")))
        await writer.drain()


# -- a request goes out as httpx built it ------------------------------------------------------

async def test_get_and_post_round_trip_on_one_kept_alive_connection(serve, client) -> None:
    server = await serve(keep_answering)
    http = client(server.url)
    got = await http.get("/0/public/Ticker", params={"pair": "XBTUSD", "t": "a b:c"})
    assert got.status_code == 201 and got.reason_phrase == "Whatever"
    assert got.headers.get_list("x-reply") == ["one", "two"]
    assert got.json()["line"] == "GET /0/public/Ticker?pair=XBTUSD&t=a+b%3Ac HTTP/1.1"

    body = b"nonce=1700000000000&ordertype=market&pair=XBTUSD&volume=0.01"
    sent = await http.post("/0/private/AddOrder", content=body, headers={
        "API-Key": "key", "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert sent.status_code == 201 and sent.json()["body"] == body.decode()

    # A query that is signed as it is written must arrive byte for byte (no re-quoting).
    await http.post("/derivatives/api/v3/sendorder?cliOrdId=a%3Ab&size=1%2E0&x=%20")
    assert server.requests[2].request_line == (
        b"POST /derivatives/api/v3/sendorder?cliOrdId=a%3Ab&size=1%2E0&x=%20 HTTP/1.1")

    post = server.requests[1]
    assert post.body == body
    assert post.header("content-length") == [str(len(body)).encode()]
    assert post.header("api-key") == [b"key"]
    assert post.header("content-type") == [b"application/x-www-form-urlencoded; charset=utf-8"]
    assert post.header("host") == [server.url.removeprefix("http://").encode()]
    assert post.header("user-agent") == [f"python-httpx/{httpx.__version__}".encode()]
    assert server.requests[2].header("content-type") == []  # nothing added that httpx left out
    assert server.connections == 1


async def test_gzip_answer_is_decoded_once_by_httpx(serve, client) -> None:
    payload = json.dumps({"error": [], "result": {"unixtime": 1}}).encode()

    async def gzipped(reader, writer, server) -> None:
        while await server.read(reader) is not None:
            writer.write(answer(body=gzip.compress(payload),
                                headers=("Content-Encoding: gzip",)))

    server = await serve(gzipped)
    got = await client(server.url).get("/")
    assert got.content == payload
    assert got.headers["content-encoding"] == "gzip"
    assert server.requests[0].header("accept-encoding")  # httpx asked for it


async def test_timeouts_per_phase() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/", extensions={
        "timeout": httpx.Timeout(10, connect=3, pool=2).as_dict()})
    timeout = _client_timeout(request)
    assert (timeout.total, timeout.connect, timeout.sock_connect, timeout.sock_read) == (
        None, 5, 3, 10)
    unbounded_pool = httpx.Request("GET", "http://127.0.0.1/", extensions={
        "timeout": httpx.Timeout(10, connect=3, pool=None).as_dict()})
    assert _client_timeout(unbounded_pool).connect is None
    assert _client_timeout(unbounded_pool).sock_connect == 3


# -- nothing written: connect errors -----------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_a_connect_error(client) -> None:
    with pytest.raises(httpx.ConnectError):
        await client(f"http://127.0.0.1:{_closed_port()}").post("/", content=b"x")


async def test_untrusted_certificate_is_a_connect_error_before_any_byte(
    serve, client, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = await serve(keep_answering, ssl_context=server_context)
    with pytest.raises(httpx.ConnectError, match="Certificate"):
        await client(server.url).post("/0/private/AddOrder", content=b"order")
    assert server.requests == []


async def test_pool_wait_timeout_is_a_connect_timeout_and_sends_nothing(serve, client) -> None:
    async def hold(reader, writer, server) -> None:
        await server.read(reader)
        await asyncio.sleep(30)  # never answers

    server = await serve(hold)
    http = client(server.url, max_connections=1,
                  timeout=httpx.Timeout(10, connect=0.1, pool=0.1))
    first = asyncio.create_task(http.post("/", content=b"first"))
    while not server.requests:
        await asyncio.sleep(0.01)
    with pytest.raises((httpx.ConnectTimeout, httpx.PoolTimeout)):
        await http.post("/", content=b"second")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert server.bodies(b"first") == 1 and server.bodies(b"second") == 0
    assert server.connections == 1


# -- maybe written: ambiguous errors, never Connect* ------------------------------------------

async def test_close_after_reading_the_request_is_ambiguous(serve, client) -> None:
    async def read_then_close(reader, writer, server) -> None:
        await server.read(reader)

    server = await serve(read_then_close)
    with pytest.raises(httpx.TransportError) as info:
        await client(server.url).post("/0/private/AddOrder", content=b"order")
    assert isinstance(info.value, httpx.RemoteProtocolError)
    assert server.bodies(b"order") == 1


async def test_reset_after_reading_the_request_is_ambiguous(serve, client) -> None:
    async def read_then_reset(reader, writer, server) -> None:
        await server.read(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST instead of FIN

    server = await serve(read_then_reset)
    with pytest.raises(httpx.TransportError) as info:
        await client(server.url).post("/0/private/AddOrder", content=b"order")
    assert not isinstance(info.value, NOTHING_WRITTEN)
    assert isinstance(info.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert server.bodies(b"order") == 1


async def test_half_an_answer_is_ambiguous(serve, client) -> None:
    async def half(reader, writer, server) -> None:
        await server.read(reader)
        writer.write(answer(body=b'{"result": {"txid": ["O1"]}}')[:-10])
        await writer.drain()

    server = await serve(half)
    with pytest.raises(httpx.RemoteProtocolError):
        await client(server.url).post("/", content=b"order")


async def test_no_answer_is_a_read_timeout(serve, client) -> None:
    async def silent(reader, writer, server) -> None:
        await server.read(reader)
        await asyncio.sleep(30)

    server = await serve(silent)
    http = client(server.url, timeout=httpx.Timeout(5, read=0.2))
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/", content=b"order")
    assert server.bodies(b"order") == 1


@pytest.mark.parametrize(("linger", "pause"), [(0.0, 0.0), (0.001, 0.0), (0.0, 0.05)])
async def test_post_on_a_connection_the_server_closed_is_never_sent_twice(
    serve, client, linger: float, pause: float
) -> None:
    """The server answers with keep-alive, then closes (after ``linger``). The next POST either
    goes out once on a new connection or, racing the close, fails as ambiguous (seen here:
    ClientOSError, ServerDisconnectedError); aiohttp never re-sends it by itself."""

    async def answer_once_then_close(reader, writer, server) -> None:
        if await server.read(reader) is not None:
            writer.write(answer())
            await writer.drain()
            await asyncio.sleep(linger)

    server = await serve(answer_once_then_close)
    http = client(server.url)
    for n in range(20):
        body = f"order-{n}".encode()
        try:
            await http.post("/", content=body)
        except httpx.TransportError as exc:
            assert not isinstance(exc, NOTHING_WRITTEN), exc
        await asyncio.sleep(pause)
        assert server.bodies(body) <= 1


async def test_a_get_on_a_connection_the_server_closed_is_retried_by_aiohttp(
    serve, client
) -> None:
    """The other side of the previous test: only idempotent methods are re-sent."""

    async def answer_once_then_close(reader, writer, server) -> None:
        if await server.read(reader) is not None:
            writer.write(answer())
            await writer.drain()

    server = await serve(answer_once_then_close)
    http = client(server.url)
    for _ in range(10):
        assert (await http.get("/")).status_code == 200


# -- life cycle --------------------------------------------------------------------------------

async def test_closing_the_client_closes_the_session_without_warnings(serve) -> None:
    server = await serve(keep_answering)
    transport = AiohttpTransport()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with httpx.AsyncClient(base_url=server.url, transport=transport) as http:
            await http.get("/")
            session = transport._session
            assert session is not None and not session.closed
        assert session.closed
        del session
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    with pytest.raises(RuntimeError, match="closed"):
        await transport.handle_async_request(httpx.Request("GET", server.url))


def test_importing_the_transport_does_not_import_aiohttp() -> None:
    probe = "import sys, router_core.http_transport; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


# -- proxies from the environment, as httpx's own transport reads them -------------------------

async def test_the_environments_proxy_carries_the_request_unless_no_proxy_names_the_host(
        serve, monkeypatch) -> None:
    proxy, venue = await serve(keep_answering), await serve(keep_answering)
    for name in ("http_proxy", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        # the proxy gets the absolute URL; the venue's name is never resolved here
        assert (await http.get("http://venue.invalid/0/public/Time")).status_code == 201
        assert (await http.get(f"{venue.url}/0/public/Time")).status_code == 201  # NO_PROXY
    assert [seen.request_line for seen in proxy.requests] == [
        b"GET http://venue.invalid/0/public/Time HTTP/1.1"]
    assert [seen.request_line for seen in venue.requests] == [b"GET /0/public/Time HTTP/1.1"]


async def test_trust_env_false_ignores_the_environments_proxy(serve, monkeypatch) -> None:
    venue = await serve(keep_answering)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    async with httpx.AsyncClient(transport=AiohttpTransport(trust_env=False)) as http:
        got = await http.get(f"{venue.url}/0/public/Time")
    assert got.status_code == 201 and len(venue.requests) == 1
