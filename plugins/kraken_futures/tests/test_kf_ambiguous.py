"""Lost answers: never re-sent, found again by cliOrdId; connect errors are not ambiguous."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from router_core import (
    AmbiguousOutcome,
    OrderStatus,
    Side,
    VenueUnavailable,
)
from router_core import normalize_ticker as normalize

D = Decimal


class Failing(httpx.AsyncBaseTransport):
    """Forwards to the fake, but fails requests to ``endpoint``: before sending, or after the
    fake has carried the request out (``after=True``)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, endpoint: str,
                 error: type[Exception], *, after: bool) -> None:
        self.inner, self.endpoint, self.error, self.after = inner, endpoint, error, after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/" + self.endpoint):
            if self.after:
                await self.inner.handle_async_request(request)
            raise self.error("simulated", request=request)  # type: ignore[call-arg]
        return await self.inner.handle_async_request(request)


async def test_execute_then_drop_gives_one_order_and_find_order_finds_it(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any]
) -> None:
    broker = await make_broker(timeout_seconds=0.2)
    inst = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(inst, "0.01", Side.BUY)
    fake.script("sendorder", drop=True)
    with pytest.raises(AmbiguousOutcome) as info:
        await broker.submit_order(order)
    assert info.value.retry.value == "ambiguous"
    assert len(fake.orders) == 1 and len(fake.sendorders) == 1
    found = await broker.find_order(order.client_order_id, inst)
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.client_order_id == order.client_order_id
    assert found.filled_quantity == D("0.01")
    assert found.venue_order_id == fake.orders[0].order_id
    assert len(fake.sendorders) == 1  # looking it up sent nothing new
    assert fake.requests[-1].endpoint == "orders/status"


async def test_delay_inside_the_timeout_is_just_slow(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any]
) -> None:
    broker = await make_broker(timeout_seconds=2)
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", delay=0.05)
    assert (await broker.submit_order(new_order(inst, "0.01"))).status is OrderStatus.FILLED


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteTimeout,
              httpx.DecodingError],  # DecodingError: an answer that does not decompress
)
async def test_transport_failure_after_the_write_is_ambiguous(
    broker: Any, broker_over: Callable[..., Any], fake: Any, new_order: Callable[..., Any],
    error: type[Exception],
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    lossy = await broker_over(Failing(httpx.ASGITransport(app=fake), "sendorder", error,
                                      after=True))
    order = new_order(inst, "0.01")
    with pytest.raises(AmbiguousOutcome):
        await lossy.submit_order(order)
    assert len(fake.orders) == 1
    found = await lossy.find_order(order.client_order_id, inst)
    assert found is not None and found.status is OrderStatus.FILLED


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_connect_errors_are_venue_unavailable(
    broker: Any, broker_over: Callable[..., Any], fake: Any, new_order: Callable[..., Any],
    error: type[Exception],
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    down = await broker_over(Failing(httpx.ASGITransport(app=fake), "sendorder", error,
                                     after=False))
    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await down.submit_order(new_order(inst, "0.01"))
    assert fake.sendorders == []


async def test_connection_refused_on_a_real_socket(
    broker_over: Callable[..., Any], broker: Any, new_order: Callable[..., Any]
) -> None:
    """127.0.0.1 port 9 (discard) is closed here: the connect phase fails, nothing is sent."""
    inst = await broker.resolve(normalize("XBTUSD.P"))
    offline = await broker_over(httpx.AsyncHTTPTransport(retries=0), timeout_seconds=2)
    with pytest.raises(VenueUnavailable, match="nothing was sent"):
        await offline.submit_order(new_order(inst, "0.01"))


async def test_read_failure_on_a_read_is_venue_unavailable(
    broker: Any, broker_over: Callable[..., Any], fake: Any
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    lossy = await broker_over(Failing(httpx.ASGITransport(app=fake), "openpositions",
                                      httpx.ReadTimeout, after=True))
    with pytest.raises(VenueUnavailable):
        await lossy.position(inst)


async def test_find_order_of_an_unknown_id_is_none(broker: Any) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    assert await broker.find_order("5b0c2f7e-0000-4000-8000-000000000000", inst) is None


async def test_find_order_of_a_resting_order(
    broker: Any, new_order: Callable[..., Any]
) -> None:
    from router_core import OrderType

    inst = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(inst, "0.01", order_type=OrderType.LIMIT, limit_price=D(40000))
    await broker.submit_order(order)
    found = await broker.find_order(order.client_order_id, inst)
    assert found is not None and found.status is OrderStatus.ACCEPTED
    assert found.quantity == D("0.01") and found.price == D(40000)


async def test_find_order_after_the_status_window_uses_fills(
    make_broker: Callable[..., Any], fake: Any, clock: Any, new_order: Callable[..., Any]
) -> None:
    """orders/status shows a closed order for 5 s only; recent fills still show it."""
    broker = await make_broker(timeout_seconds=0.2)
    inst = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(inst, "0.02")
    fake.script("sendorder", drop=True)
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)
    clock.advance(30)
    status = await broker._http().private(
        "POST", "orders/status", {"cliOrdIds": order.client_order_id}, side_effect=False
    )
    assert status["orders"] == []  # out of the window
    found = await broker.find_order(order.client_order_id, inst)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == D("0.02") and found.average_price == D(50000)
    assert len(fake.orders) == 1


async def test_find_order_never_reads_a_degraded_answer_as_absent(
    broker: Any, fake: Any
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("orders/status", http_status=200, body='{"result":"success"}',
                content_type="application/json")
    with pytest.raises(VenueUnavailable):
        await broker.find_order("any", inst)


async def test_resend_of_an_existing_client_id_reports_the_existing_order(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(inst, "0.01")
    await broker.submit_order(order)
    again = await broker.submit_order(order)
    assert again.status is OrderStatus.FILLED
    assert "already at Kraken" in (again.reason or "")
    assert len(fake.orders) == 1
