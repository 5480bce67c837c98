"""AiohttpTransport sends exactly the headers it is given, whether or not it asks aiohttp to
skip its own: a request naming Accept, Accept-Encoding, User-Agent and Content-Type needs no
skip list, any other still gets one."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from alert_router_tests_loopback import Server, answer  # tests/loopback.py, via conftest

from router_core import AiohttpTransport, VenueHttp
from router_core.http_transport import _headers_to_skip

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

ALL_FOUR = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": "venue-test/1",
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         server: Server) -> None:
    while await server.read(reader) is not None:
        writer.write(answer(200, b"{}"))
        await writer.drain()


def test_nothing_is_skipped_only_when_all_four_are_named() -> None:
    assert _headers_to_skip(ALL_FOUR) is None
    assert _headers_to_skip(httpx.Headers({name.lower(): v for name, v in ALL_FOUR.items()})) \
        is None
    for missing in ALL_FOUR:
        rest = {name: value for name, value in ALL_FOUR.items() if name != missing}
        assert _headers_to_skip(rest) == ("Accept", "Accept-Encoding", "User-Agent",
                                          "Content-Type")


async def test_fetch_sends_exactly_the_given_headers_with_or_without_a_skip_list(serve) -> None:
    server = await serve(keep_answering)
    transport = AiohttpTransport()
    http = VenueHttp(base_url=server.url, transport=transport, timeout=5)
    try:
        url = http._parsed(server.url + "/0/private/AddOrder")
        timeout = http._client_timeout()
        signed = {**ALL_FOUR, "API-Key": "key"}
        await transport.fetch("POST", url, signed, b"nonce=1", timeout)
        await transport.fetch("POST", url, {"API-Key": "key"}, b"nonce=2", timeout)
        await transport.fetch("POST", url, {"API-Key": "key"}, None, timeout)
        await transport.fetch("GET", url, {"accept": "*/*"}, None, timeout)
    finally:
        await http.aclose()
    host = server.url.removeprefix("http://").encode()
    first, bare, empty, get = server.requests
    assert first.headers() == sorted(
        [(name.lower().encode(), value.encode()) for name, value in signed.items()]
        + [(b"host", host), (b"content-length", b"7")])
    assert bare.headers() == [(b"api-key", b"key"), (b"content-length", b"7"), (b"host", host)]
    assert empty.headers() == [(b"api-key", b"key"), (b"content-length", b"0"), (b"host", host)]
    assert get.headers() == [(b"accept", b"*/*"), (b"host", host)]
