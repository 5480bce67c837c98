"""Nonce order under concurrency, rate budgets, deadlines against Kraken's clock."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import httpx
import pytest
import router_kraken_spot.broker as broker_module
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_broker, make_context, make_order

from router_core import AmbiguousOutcome, OrderStatus
from router_core import normalize_ticker as normalize
from router_core.testing import FakeClock


class _Jitter(httpx.AsyncBaseTransport):
    """Delays each request a random moment before it reaches the fake, so concurrent requests
    overtake each other unless the client keeps them in nonce order."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.random = random.Random(7)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.random.random() / 2000)
        return await self.inner.handle_async_request(request)


def _nonces(fake: FakeKraken) -> list[int]:
    return [int(call.fields["nonce"]) for call in fake.calls if "nonce" in call.fields]


async def test_200_concurrent_orders_on_one_key_no_nonce_errors(tmp_path) -> None:
    clock = FakeClock()
    fake = FakeKraken(clock=clock)
    context = make_context(tmp_path, fake, clock=clock)
    context.transport = _Jitter(fake.transport())
    broker = make_broker(context)
    await broker.start()
    # four pairs, 50 orders each: under the per-pair counter, so nothing waits and the
    # requests really race each other through the jittery transport
    sizes = {"XBTUSD": "0.001", "XDGUSD": "50", "XBTUSDT": "0.001", "ADAUSD": "5"}
    instruments = [await broker.resolve(normalize(name)) for name in sizes]
    orders = [make_order(inst, quantity=sizes[inst.venue["altname"]])
              for inst in instruments for _ in range(50)]
    random.Random(3).shuffle(orders)
    results = await asyncio.gather(*(broker.submit_order(order) for order in orders))
    await broker.close()
    assert all(result.status is OrderStatus.ACCEPTED for result in results)
    assert fake.errors_sent == {}  # in particular no EAPI:Invalid nonce
    assert fake.add_order_calls == 200 and len(fake.placed()) == 200
    nonces = _nonces(fake)
    assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)


async def test_order_burst_larger_than_the_pair_counter_waits_instead_of_failing(
        tmp_path) -> None:
    clock = FakeClock()
    fake = FakeKraken(clock=clock)  # starter: 60 points per pair, -1/s
    broker = make_broker(make_context(tmp_path, fake, clock=clock), deadline_seconds=30)
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    orders = [make_order(btc, quantity="0.001") for _ in range(150)]
    results = await asyncio.gather(*(broker.submit_order(order) for order in orders))
    await broker.close()
    assert all(result.status is OrderStatus.ACCEPTED for result in results)
    assert fake.errors_sent == {}  # no EOrder:Rate limit exceeded
    assert fake.add_order_calls == 150
    assert sum(clock.sleeps) >= 89  # 90 orders over the counter waited for its decay


async def test_burst_of_reads_larger_than_the_rest_counter(tmp_path) -> None:
    clock = FakeClock()
    fake = FakeKraken(clock=clock)  # starter: 15 points, -0.33/s
    broker = make_broker(make_context(tmp_path, fake, clock=clock))
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    reads = [broker.balance("USD") for _ in range(40)]
    reads += [broker.find_order(f"00000000-0000-4000-8000-{i:012d}", btc) for i in range(10)]
    await asyncio.gather(*reads)
    await broker.close()
    assert fake.errors_sent == {}
    assert len(fake.calls) == 2 + 40 + 20  # Time, AssetPairs, 40 BalanceEx, 10x Open+Closed
    assert sum(clock.sleeps) > 60  # 70 points over a 15-point counter at 0.33/s


@pytest.mark.parametrize("skew", [-90.0, 90.0])
async def test_deadline_follows_krakens_clock_despite_host_skew(tmp_path, skew) -> None:
    venue_clock = FakeClock(start=1_700_000_000.0)
    host_clock = FakeClock(start=1_700_000_000.0 + skew)
    fake = FakeKraken(clock=venue_clock)
    broker = make_broker(make_context(tmp_path, fake, clock=host_clock), deadline_seconds=10)
    await broker.start()
    assert broker.client.clock_offset == pytest.approx(-skew, abs=1.0)
    btc = await broker.resolve(normalize("XBTUSD"))
    result = await broker.submit_order(make_order(btc))
    await broker.close()
    assert result.status is OrderStatus.ACCEPTED
    (margin,) = fake.deadline_margins
    assert 9.0 <= margin <= 11.0  # inside Kraken's 0.5-60 s window, by the fake's clock


async def test_without_the_offset_the_skewed_deadline_would_be_refused(tmp_path) -> None:
    # the control for the test above: a host 90 s ahead with no offset lands outside the window
    venue_clock = FakeClock(start=1_700_000_000.0)
    fake = FakeKraken(clock=venue_clock)
    broker = make_broker(make_context(tmp_path, fake, clock=FakeClock(1_700_000_090.0)))
    await broker.start()
    broker.client.clock_offset = 0.0
    btc = await broker.resolve(normalize("XBTUSD"))
    with pytest.raises(Exception, match="deadline"):
        await broker.submit_order(make_order(btc))
    await broker.close()


async def test_deadline_elapsed_at_the_venue_is_ambiguous(broker, btc, fake) -> None:
    fake.delay_next("AddOrder", 15)  # held in a queue longer than the 10 s deadline
    with pytest.raises(AmbiguousOutcome) as info:
        await broker.submit_order(make_order(btc))
    assert info.value.venue_code == "EService:Deadline elapsed"
    assert fake.add_order_calls == 1


async def test_cancel_of_a_young_order_charges_the_trading_counter(broker, btc, fake,
                                                                   clock) -> None:
    order = make_order(btc, order_type=__import__("router_core").OrderType.LIMIT,
                       limit_price=Decimal("40000"))
    await broker.submit_order(order)
    counter = broker.client.trading_counter("XXBTZUSD")
    before = counter.level
    await broker.cancel_order(order.client_order_id, btc)
    assert counter.level == pytest.approx(before + 8)  # cancelled within 5 s: 8 points


async def test_send_times_and_outcomes_are_bounded_and_the_newest_are_kept(
        broker, btc, fake, clock, monkeypatch) -> None:
    monkeypatch.setattr(broker_module, "REMEMBERED_ORDERS", 3)
    orders = [make_order(btc, order_type=__import__("router_core").OrderType.LIMIT,
                         limit_price=Decimal("40000")) for _ in range(5)]
    for order in orders:
        await broker.submit_order(order)
    assert list(broker._sent_at) == [order.client_order_id for order in orders[2:]]
    clock.advance(100)  # a known order this old costs 1 point to cancel, an unknown one 8
    counter = broker.client.trading_counter("XXBTZUSD")
    before = counter.level
    await broker.cancel_order(orders[-1].client_order_id, btc)
    assert counter.level == pytest.approx(before + 1)
    before = counter.level
    await broker.cancel_order(orders[0].client_order_id, btc)  # forgotten: charged the most
    assert counter.level == pytest.approx(before + 8)
    for order in orders[1:4]:
        await broker.cancel_order(order.client_order_id, btc)
    for order in orders:
        await broker.find_order(order.client_order_id, btc)  # canceled: final, remembered
    assert list(broker._final) == [order.client_order_id for order in orders[2:]]
