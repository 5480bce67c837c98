"""Every documented sendStatus status and top-level error maps to the right typed outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from router_kraken_futures.errors import NUMERIC, ORDER_STATUS, TOP_LEVEL
from router_kraken_futures.orders import send_result

from router_core import (
    AmbiguousOutcome,
    AuthError,
    InsufficientFunds,
    InvalidOrder,
    OrderStatus,
    RateLimited,
    RetryClass,
    Side,
    VenueUnavailable,
)
from router_core import normalize_ticker as normalize

D = Decimal
FIXTURES = Path("/work/shared/fixtures")
# Every status the SPEC lists for SendOrderJson plus the three only its description names.
DOCUMENTED_REJECTIONS = [
    "marketSuspended", "marketInactive", "invalidPrice", "invalidSize", "tooManySmallOrders",
    "insufficientAvailableFunds", "wouldCauseLiquidation", "clientOrderIdAlreadyExist",
    "clientOrderIdTooBig", "maxPositionViolation", "outsidePriceCollar",
    "wouldIncreasePriceDislocation", "notFound", "orderForEditNotAStop", "orderForEditNotFound",
    "postWouldExecute", "iocWouldNotExecute", "selfFill", "wouldNotReducePosition",
    "marketIsPostOnly", "tooManyOrders", "fixedLeverageTooHigh", "clientOrderIdInvalid",
    "cannotEditTriggerPriceOfTrailingStop", "cannotEditLimitPriceOfTrailingStop",
    "wouldProcessAfterSpecifiedTime", "invalidOrderType", "invalidSide", "clientOrderIdTooLong",
]


def test_the_table_covers_every_documented_status() -> None:
    assert set(DOCUMENTED_REJECTIONS) <= set(ORDER_STATUS)


@pytest.mark.parametrize("status", DOCUMENTED_REJECTIONS)
async def test_rejection_status_raises_the_mapped_error(
    broker: Any, fake: Any, new_order: Callable[..., Any], status: str
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", status=status)
    rule = ORDER_STATUS[status]
    with pytest.raises(rule.error) as info:
        await broker.submit_order(new_order(inst, "0.001"))
    error = info.value
    assert error.from_venue is True
    assert error.venue_code == status
    assert error.retry is RetryClass.FATAL
    assert rule.text in error.message and status.upper() in error.message
    assert fake.orders == []  # nothing was placed


@pytest.mark.parametrize(
    ("status", "expected", "filled"),
    [
        ("placed", OrderStatus.FILLED, "0.001"),  # a market order: placed + EXECUTION
        ("filled", OrderStatus.FILLED, "0.001"),
        ("partiallyFilled", OrderStatus.PARTIALLY_FILLED, "0.0005"),
        ("cancelled", OrderStatus.CANCELED, "0"),
        ("edited", OrderStatus.ACCEPTED, "0"),
    ],
)
async def test_success_statuses(
    broker: Any, fake: Any, new_order: Callable[..., Any], status: str,
    expected: OrderStatus, filled: str,
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    order = new_order(inst, "0.001")
    fake.script("sendorder", status=status)
    result = await broker.submit_order(order)
    assert result.status is expected
    assert result.filled_quantity == D(filled)
    assert result.client_order_id == order.client_order_id
    assert result.venue_order_id == fake.orders[0].order_id
    assert result.venue_code == status
    if D(filled):
        assert result.average_price == D(50000)


async def test_resting_limit_is_accepted(
    broker: Any, new_order: Callable[..., Any]
) -> None:
    from router_core import OrderType

    inst = await broker.resolve(normalize("XBTUSD.P"))
    result = await broker.submit_order(
        new_order(inst, "0.001", order_type=OrderType.LIMIT, limit_price=D(40000))
    )
    assert result.status is OrderStatus.ACCEPTED and result.filled_quantity == 0
    assert result.price == D(40000)


# -- Kraken's own examples ---------------------------------------------------------------------


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


async def test_spec_examples(broker: Any, new_order: Callable[..., Any]) -> None:
    inst = await broker.resolve(normalize("PI_XBTUSD"))
    placed = send_result(new_order(inst, "10000"),
                         _fixture("kraken_futures_sendorder_placed.json"))
    assert placed.status is OrderStatus.ACCEPTED
    assert placed.venue_order_id == "179f9af8-e45e-469d-b3e9-2fd4675cb7d0"
    executed = send_result(new_order(inst, "10"),
                           _fixture("kraken_futures_sendorder_executed.json"))
    assert executed.status is OrderStatus.FILLED
    assert (executed.filled_quantity, executed.average_price) == (D(10), D("7244.5"))
    with pytest.raises(InvalidOrder) as info:
        send_result(new_order(inst, "10000"), _fixture("kraken_futures_sendorder_rejected.json"))
    assert info.value.venue_code == "iocWouldNotExecute"
    assert "IOC_WOULD_NOT_EXECUTE" in info.value.message


# -- top-level errors ----------------------------------------------------------------------------

AMBIGUOUS_ON_ORDERS = {"marketUnavailable", "Unavailable", "unavailable", "Server Error",
                       "unknownError"}


@pytest.mark.parametrize("code", sorted(set(TOP_LEVEL) - {"nonceBelowThreshold",
                                                          "nonceDuplicate"}))
async def test_top_level_error_on_sendorder(
    broker: Any, fake: Any, new_order: Callable[..., Any], code: str
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", error=code)
    expected = AmbiguousOutcome if code in AMBIGUOUS_ON_ORDERS else TOP_LEVEL[code].error
    with pytest.raises(expected) as info:
        await broker.submit_order(new_order(inst, "0.001"))
    assert info.value.venue_code == code
    assert info.value.from_venue is True
    assert len(fake.sendorders) == 1  # never re-sent by the plugin


@pytest.mark.parametrize("code", ["nonceBelowThreshold", "nonceDuplicate"])
async def test_nonce_refusal_is_resent_once_with_a_fresh_nonce(
    broker: Any, fake: Any, new_order: Callable[..., Any], code: str
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", error=code)
    result = await broker.submit_order(new_order(inst, "0.001"))
    assert result.status is OrderStatus.FILLED
    sent = [r for r in fake.requests if r.endpoint == "sendorder"]
    assert len(sent) == 2 and sent[0].nonce < sent[1].nonce
    assert sent[0].params["cliOrdId"] == sent[1].params["cliOrdId"]
    assert len(fake.orders) == 1


async def test_repeated_nonce_refusal_gives_up(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", error="nonceBelowThreshold")
    fake.script("sendorder", error="nonceBelowThreshold")
    with pytest.raises(AuthError):
        await broker.submit_order(new_order(inst, "0.001"))
    assert len(fake.sendorders) == 2


async def test_unavailable_on_a_read_is_venue_unavailable(broker: Any, fake: Any) -> None:
    fake.script("accounts", error="Unavailable")
    with pytest.raises(VenueUnavailable) as info:
        await broker.balance()
    assert info.value.retry is RetryClass.RETRY_READ


async def test_rate_limit_on_a_read_waits_and_retries(
    broker: Any, fake: Any, clock: Any
) -> None:
    fake.script("accounts", error="apiLimitExceeded")
    balance = await broker.balance()
    assert balance.currency == "USD"
    assert sum(clock.sleeps) >= 9.9  # the key paused for Kraken's 10 s window


async def test_rate_limit_on_an_order_raises_and_pauses_the_key(
    broker: Any, fake: Any, clock: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", error="apiLimitExceeded")
    with pytest.raises(RateLimited) as info:
        await broker.submit_order(new_order(inst, "0.001"))
    assert info.value.retry is RetryClass.WAIT
    await broker.balance()  # the next private call waits out the pause
    assert sum(clock.sleeps) >= 9.9


@pytest.mark.parametrize(
    ("code", "expected"), [(92, InsufficientFunds), (41, InvalidOrder), (10, RateLimited)]
)
async def test_numeric_errors(
    broker: Any, fake: Any, new_order: Callable[..., Any], code: int, expected: type
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", errors=[{"code": code, "message": "X"}])
    with pytest.raises(expected):
        await broker.submit_order(new_order(inst, "0.001"))
    assert NUMERIC[code].error is expected


@pytest.mark.parametrize(
    ("http_status", "body", "expected"),
    [
        (502, "<html>502 Bad Gateway</html>", AmbiguousOutcome),
        (520, "<html>cloudflare</html>", AmbiguousOutcome),
        (500, "", AmbiguousOutcome),
        (405, "<html>405 Not Allowed</html>", AmbiguousOutcome),
        (200, "<html>not json</html>", AmbiguousOutcome),
        (429, "Too Many Requests", RateLimited),
        (400, "Bad Request", InvalidOrder),
        (401, "Unauthorized", AuthError),
        (302, "", VenueUnavailable),
    ],
)
async def test_http_answers_without_kraken_json(
    broker: Any, fake: Any, new_order: Callable[..., Any], http_status: int, body: str,
    expected: type,
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    fake.script("sendorder", http_status=http_status, body=body, execute=True)
    with pytest.raises(expected):
        await broker.submit_order(new_order(inst, "0.001", Side.BUY))
    assert len(fake.sendorders) == 1
