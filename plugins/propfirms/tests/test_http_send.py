"""The prop-firm clients' one request path (``http_send`` on ``router_core.VenueHttp``): which
transport failures mean "nothing was sent", the query and headers a venue sees."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from router_propfirms.fake.projectx_kit import ENV
from router_propfirms.http_send import query, request_headers, send
from router_propfirms.projectx import ProjectXBroker, ProjectXConfig
from router_propfirms.projectx_client import ProjectXClient

from router_core import (
    AmbiguousOutcome,
    BrokerContext,
    NonceRegistry,
    RateLimiterRegistry,
    SystemClock,
    VenueHttp,
    VenueUnavailable,
)
from router_core import normalize_ticker as normalize
from router_core.testing import FakeClock, serve_fake

BASE = "https://venue.invalid/v1"


def _failing(exc: Callable[[httpx.Request], Exception]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.MockTransport(handler)


def _http(transport: httpx.AsyncBaseTransport) -> VenueHttp:
    return VenueHttp(base_url=BASE, transport=transport, timeout=5)


@pytest.mark.parametrize("places_order", [True, False])
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError])
async def test_a_request_never_written_is_unavailable_even_for_an_order(
    error: type[httpx.TransportError], places_order: bool
) -> None:
    http = _http(_failing(lambda request: error("refused", request=request)))
    with pytest.raises(VenueUnavailable, match="nothing was sent") as caught:
        await send(http, "POST", "/order/placeorder", venue="Tradovate",
                   places_order=places_order, timeout=5, content=b"{}")
    assert not isinstance(caught.value, AmbiguousOutcome)


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError])
async def test_a_request_that_may_have_been_read_is_ambiguous_for_an_order(
    error: type[httpx.TransportError],
) -> None:
    http = _http(_failing(lambda request: error("lost", request=request)))
    with pytest.raises(AmbiguousOutcome, match="the order may exist"):
        await send(http, "POST", "/order/placeorder", venue="Tradovate", places_order=True,
                   timeout=5, content=b"{}")
    with pytest.raises(VenueUnavailable, match=r"Tradovate /position/list: no answer") as read:
        await send(http, "GET", "/position/list", venue="Tradovate", places_order=False,
                   timeout=5)
    assert not isinstance(read.value, AmbiguousOutcome)


async def test_the_whole_exchange_is_bounded_and_an_order_cut_short_is_ambiguous() -> None:
    class Silent(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.Event().wait()  # the venue never answers
            raise AssertionError("unreachable")

    with pytest.raises(AmbiguousOutcome, match="TimeoutError"):
        await send(_http(Silent()), "POST", "/order/placeorder", venue="Tradovate",
                   places_order=True, timeout=0.01, content=b"{}")


async def test_the_answer_comes_back_whatever_its_status() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, content=b"busy")

    answer = await send(_http(httpx.MockTransport(handler)), "GET", "/contract/find",
                        venue="Tradovate", places_order=False, timeout=5,
                        params={"name": "ES H6", "id": 7}, headers={"X-Test": "1"})
    assert (answer.status, answer.body) == (503, b"busy")
    (request,) = seen
    assert str(request.url) == f"{BASE}/contract/find?name=ES+H6&id=7"
    assert request.headers["x-test"] == "1"


def test_query_values_are_written_as_httpx_writes_them() -> None:
    params = {"name": "ES H6/é", "flag": True, "off": False, "none": None, "id": 7}
    expected = httpx.Request("GET", BASE, params=params).url.query.decode()
    answer = httpx.Request("GET", BASE, params=query(params)).url.query.decode()
    assert answer == expected == "name=ES+H6%2F%C3%A9&flag=true&off=false&none=&id=7"
    assert query({}) is None and query(None) is None


def test_request_headers_carry_the_bearer_then_extra_then_the_json_type() -> None:
    token = SecretStr("tok-123")
    assert request_headers(None) == {}
    assert list(request_headers(token, json_body=True, extra={"accNum": "3"}).items()) == [
        ("Authorization", "Bearer tok-123"), ("accNum", "3"),
        ("Content-Type", "application/json")]


async def test_projectx_refused_connection_is_unavailable_not_ambiguous() -> None:
    client = ProjectXClient(
        base_url="https://gateway.invalid", username=SecretStr("u"), api_key=SecretStr("k"),
        clock=FakeClock(0), transport=_failing(
            lambda request: httpx.ConnectError("refused", request=request)), timeout=5)
    with pytest.raises(VenueUnavailable, match="cannot reach ProjectX") as caught:
        await client.call("/api/Order/place", {"accountId": 1}, places_order=True)
    assert not isinstance(caught.value, AmbiguousOutcome)


async def test_projectx_on_loopback_over_real_http(tmp_path: Path) -> None:
    """What ``python -m router_propfirms.fake.projectx`` serves, through the core's transport
    (``VenueHttp``'s own path, not an injected one)."""
    clock = SystemClock()
    context = BrokerContext(account="served", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                            limiters=RateLimiterRegistry(clock), clock=clock, environ=dict(ENV))
    with serve_fake("router_propfirms.fake.projectx") as url:
        # the config takes https only; the loopback fake speaks plain http
        config = ProjectXConfig(gateway="custom", base_url="https://gateway.invalid")
        broker = ProjectXBroker(config.model_copy(update={"base_url": url}), context)
        await broker.start()
        try:
            instrument = await broker.resolve(normalize("MNQ1!"))
            assert (await broker.position(instrument)).quantity == 0
            assert (await broker.balance()).currency == "USD"
        finally:
            await broker.close()
