"""Rejections, ambiguous outcomes, look-ups, cancels, lockouts: what the core relies on."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from router_kraken_spot.errors import RULES, rule_for, venue_error
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_broker, make_context, make_order

from router_core import (
    AmbiguousOutcome,
    Bracket,
    OrderNotFound,
    OrderStatus,
    OrderType,
    RateLimited,
    RetryClass,
    VenueUnavailable,
)
from router_core import normalize_ticker as normalize

D = Decimal
DEFINITIVE = sorted(code for code, rule in RULES.items() if not rule.ambiguous_for_orders)
AMBIGUOUS_CODES = sorted(code for code, rule in RULES.items() if rule.ambiguous_for_orders)


@pytest.mark.parametrize("code", DEFINITIVE)
async def test_definitive_error_means_one_add_order_and_a_typed_rejection(
        broker, btc, fake: FakeKraken, code: str) -> None:
    rule = RULES[code]
    fake.fail_next("AddOrder", code)
    with pytest.raises(rule.error) as info:
        await broker.submit_order(make_order(btc))
    assert info.value.from_venue is True
    assert info.value.venue_code == code
    assert info.value.retry is rule.retry
    assert code in str(info.value)
    assert fake.add_order_calls == 1
    assert fake.placed() == []


def test_required_codes_are_in_the_table() -> None:
    for code in ("EService:Unavailable", "EService:Busy", "EGeneral:Internal error",
                 "EService:Deadline elapsed"):
        assert RULES[code].ambiguous_for_orders
    for code in ("EOrder:Insufficient funds", "EOrder:Order minimum not met",
                 "EOrder:Cost minimum not met", "EOrder:Tick size check failed",
                 "EGeneral:Invalid arguments", "EGeneral:Permission denied",
                 "EAPI:Invalid key", "EAPI:Invalid signature"):
        assert RULES[code].retry is RetryClass.FATAL
    assert RULES["EGeneral:Temporary lockout"].retry is RetryClass.WAIT
    assert RULES["EAPI:Rate limit exceeded"].retry is RetryClass.WAIT


def test_error_strings_with_extra_text_match_their_documented_prefix() -> None:
    assert rule_for("EGeneral:Invalid arguments:volume").code == "EGeneral:Invalid arguments"
    assert rule_for("EGeneral:Invalid arguments:Index unavailable").code == \
        "EGeneral:Invalid arguments:Index unavailable"
    assert rule_for("EService:Throttled: 1700000000").code == "EService:Throttled"
    assert rule_for("EGeneral:Internal error:42").code == "EGeneral:Internal error"
    assert rule_for("EOrder:Reduce only:No position exists").code == "EOrder:Reduce only"
    assert rule_for("ENothing:Like this") is None


def test_ambiguous_codes_are_plain_errors_for_reads() -> None:
    error = venue_error("EService:Unavailable", "BalanceEx")
    assert isinstance(error, VenueUnavailable) and error.retry is RetryClass.RETRY_READ
    assert isinstance(venue_error("EService:Unavailable", "AddOrder"), AmbiguousOutcome)
    assert isinstance(venue_error("EWeird:Undocumented", "AddOrder"), AmbiguousOutcome)


@pytest.mark.parametrize("code", AMBIGUOUS_CODES)
@pytest.mark.parametrize("executed", [False, True], ids=["not-placed", "placed"])
async def test_ambiguous_error_is_never_resent_and_is_found(
        broker, btc, fake: FakeKraken, code: str, executed: bool) -> None:
    fake.fail_next("AddOrder", code, execute=executed)
    order = make_order(btc)
    with pytest.raises(AmbiguousOutcome) as info:
        await broker.submit_order(order)
    assert info.value.retry is RetryClass.AMBIGUOUS
    assert fake.add_order_calls == 1
    found = await broker.find_order(order.client_order_id, btc)
    assert fake.add_order_calls == 1
    if executed:
        assert found is not None and found.venue_order_id == next(iter(fake.orders))
    else:
        assert found is None


@pytest.mark.parametrize("mode", ["timeout", "http502", "html", "reset"])
async def test_execute_then_drop_gives_one_order_found_by_cl_ord_id(
        broker, btc, fake: FakeKraken, mode: str) -> None:
    fake.drop_next("AddOrder", mode=mode)
    order = make_order(btc)
    with pytest.raises(AmbiguousOutcome) as info:
        await broker.submit_order(order)
    assert info.value.from_venue is True  # it left the process: never a "denied"
    assert fake.add_order_calls == 1
    assert len(fake.placed()) == 1
    txid = next(iter(fake.orders))
    found = await broker.find_order(order.client_order_id, btc)
    assert found is not None
    assert found.venue_order_id == txid
    assert found.status is OrderStatus.FILLED
    assert found.filled_quantity == D("0.01")
    calls = len(fake.calls)
    again = await broker.find_order(order.client_order_id, btc)  # core polls repeatedly
    assert again == found and len(fake.calls) == calls  # a finished order is not re-queried
    assert fake.add_order_calls == 1


async def test_order_invisible_for_a_while_is_found_later(broker, btc, fake, clock) -> None:
    fake.hide_next_order(20)
    fake.drop_next("AddOrder", mode="timeout")
    order = make_order(btc)
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)
    assert await broker.find_order(order.client_order_id, btc) is None
    clock.advance(21)
    found = await broker.find_order(order.client_order_id, btc)
    assert found is not None and found.venue_order_id == next(iter(fake.orders))
    assert fake.add_order_calls == 1


class _RefuseConnect(httpx.AsyncBaseTransport):
    """Connects to the fake for everything except AddOrder, which fails to connect."""

    def __init__(self, fake: FakeKraken) -> None:
        self.inner = fake.transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/AddOrder"):
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_connect_error_is_safe_venue_unavailable(tmp_path, fake, clock) -> None:
    context = make_context(tmp_path, fake, clock=clock)
    context.transport = _RefuseConnect(fake)
    broker = make_broker(context)
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    with pytest.raises(VenueUnavailable) as info:
        await broker.submit_order(make_order(btc))
    await broker.close()
    assert not isinstance(info.value, AmbiguousOutcome)
    assert info.value.from_venue is False
    assert "nothing was sent" in str(info.value)
    assert fake.add_order_calls == 0


async def test_lockout_pauses_the_key_and_refuses_locally(broker, btc, fake, clock) -> None:
    fake.fail_next("AddOrder", "EGeneral:Temporary lockout")
    with pytest.raises(RateLimited) as first:
        await broker.submit_order(make_order(btc))
    assert first.value.from_venue is True
    with pytest.raises(RateLimited) as second:
        await broker.submit_order(make_order(btc))
    assert second.value.from_venue is False
    message = str(second.value)
    assert "Temporary lockout" in message and "resume at 2023-11-14T22:28:" in message
    with pytest.raises(RateLimited):
        await broker.find_order("6d1b345e-2821-40e2-ad83-4ecb18a06876", btc)
    assert fake.add_order_calls == 1
    clock.advance(14 * 60)
    with pytest.raises(RateLimited):
        await broker.submit_order(make_order(btc))
    clock.advance(61)
    result = await broker.submit_order(make_order(btc))
    assert result.status is OrderStatus.ACCEPTED
    assert fake.add_order_calls == 2


async def test_rest_rate_limit_answer_backs_off_before_the_next_call(broker, fake,
                                                                    clock) -> None:
    fake.fail_next("BalanceEx", "EAPI:Rate limit exceeded")
    with pytest.raises(RateLimited) as info:
        await broker.balance("USD")
    assert info.value.from_venue is True
    clock.sleeps.clear()
    await broker.balance("USD")
    assert sum(clock.sleeps) >= 14.9  # waited out the back-off instead of calling at once


async def test_find_order_statuses(broker, btc, fake) -> None:
    assert await broker.find_order("00000000-0000-4000-8000-000000000000", btc) is None
    resting = make_order(btc, order_type=OrderType.LIMIT, limit_price=D("40000"))
    placed = await broker.submit_order(resting)
    found = await broker.find_order(resting.client_order_id, btc)
    assert found.status is OrderStatus.ACCEPTED and found.venue_order_id == placed.venue_order_id
    fake.orders[placed.venue_order_id]["vol_exec"] = "0.004"
    partial = await broker.find_order(resting.client_order_id, btc)
    assert partial.status is OrderStatus.PARTIALLY_FILLED
    assert partial.filled_quantity == D("0.004")


async def test_cancel_by_cl_ord_id(broker, btc, fake) -> None:
    order = make_order(btc, order_type=OrderType.LIMIT, limit_price=D("40000"))
    await broker.submit_order(order)
    cancelled = await broker.cancel_order(order.client_order_id, btc)
    assert cancelled.status is OrderStatus.CANCELED
    assert fake.calls[-1].fields["cl_ord_id"] == order.client_order_id
    found = await broker.find_order(order.client_order_id, btc)
    assert found.status is OrderStatus.CANCELED
    with pytest.raises(OrderNotFound) as info:
        await broker.cancel_order(order.client_order_id, btc)
    assert info.value.from_venue is True


async def test_order_with_conditional_close_is_found_by_userref_after_restart(
        tmp_path, fake, clock) -> None:
    context = make_context(tmp_path, fake, clock=clock)
    broker = make_broker(context)
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    order = make_order(btc, order_type=OrderType.LIMIT, limit_price=D("40000"),
                       stop_loss=Bracket(OrderType.STOP, trigger_price=D("35000")))
    fake.drop_next("AddOrder", mode="timeout")
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)
    await broker.close()
    sent = fake.calls[-1].fields
    assert "cl_ord_id" not in sent and sent["userref"].isdigit()

    restarted = make_broker(make_context(tmp_path, fake, clock=clock))
    found = await restarted.find_order(order.client_order_id, btc)
    assert found is not None and found.venue_order_id == next(iter(fake.orders))
    assert fake.calls[-1].fields.get("userref") == sent["userref"]
    cancelled = await restarted.cancel_order(order.client_order_id, btc)
    assert cancelled.status is OrderStatus.CANCELED
    assert fake.calls[-1].fields["txid"] == found.venue_order_id  # never cancel a userref group
    await restarted.close()
    assert fake.add_order_calls == 1


async def test_three_invalid_nonces_halt_the_key(broker, btc, fake, clock) -> None:
    fake.fail_next("BalanceEx", "EAPI:Invalid nonce", times=3)
    for _ in range(3):
        with pytest.raises(Exception, match="Invalid nonce"):
            await broker.balance("USD")
    with pytest.raises(RateLimited) as info:
        await broker.submit_order(make_order(btc))
    assert info.value.from_venue is False
    assert "another program" in str(info.value)
    assert fake.add_order_calls == 0


async def test_a_lookup_never_claims_an_order_without_our_id(broker, btc) -> None:
    from router_kraken_spot.broker import _pick

    foreign = {"OAAAAA-AAAAA-AAAAAA": {"status": "open", "vol": "1", "vol_exec": "0"},
               "OBBBBB-BBBBB-BBBBBB": {"status": "open", "vol": "1", "vol_exec": "0"}}
    cid = "6d1b345e-2821-40e2-ad83-4ecb18a06876"
    assert _pick(foreign, "cl_ord_id", cid, cid, btc) is None  # an ignored filter
    other = {"OCCCCC-CCCCC-CCCCCC": {"cl_ord_id": "someone-else", "status": "open"}}
    assert _pick(other, "cl_ord_id", cid, cid, btc) is None


async def test_throttled_answer_pauses_until_the_named_time(broker, fake, clock) -> None:
    until = int(clock.time()) + 30
    fake.fail_next("OpenOrders", f"EService:Throttled: {until}")
    with pytest.raises(RateLimited):
        await broker.client.private("OpenOrders")
    clock.sleeps.clear()
    await broker.client.private("OpenOrders")
    assert 28 <= sum(clock.sleeps) <= 31
