"""``child_orders``: the conditional closes Kraken placed for the router's orders, found by
their ``refid`` in OpenOrders and ClosedOrders (neither filters by it), open or finished, with
as few ClosedOrders pages as the parents allow."""

from __future__ import annotations

from decimal import Decimal

from router_kraken_spot.broker import CHILD_PAGES
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_order

from router_core import Bracket, OrderStatus, OrderType, Side, normalize_ticker
from router_core.testing import FakeClock

D = Decimal
STOP = Bracket(OrderType.STOP, trigger_price=D("47000"))


def _closes(fake: FakeKraken) -> list[str]:
    return [txid for txid, order in fake.orders.items() if order["refid"]]


def _calls(fake: FakeKraken, method: str) -> list[dict[str, str]]:
    return [call.fields for call in fake.calls if call.method == method]


async def _entry_with_stop(broker, btc, fake: FakeKraken) -> tuple[str, str]:
    entry = (await broker.submit_order(make_order(btc, quantity="0.1", stop_loss=STOP)))
    assert entry.venue_order_id is not None
    (close,) = [txid for txid in _closes(fake) if fake.orders[txid]["refid"] ==
                entry.venue_order_id]
    return entry.venue_order_id, close


async def test_a_resting_close_is_found_in_open_orders_alone(broker, btc, fake) -> None:
    entry, close = await _entry_with_stop(broker, btc, fake)
    before = len(fake.calls)

    ((side, found),) = await broker.child_orders([entry], btc)

    assert side is Side.SELL
    assert (found.venue_order_id, found.parent_venue_order_id, found.client_order_id) == (
        close, entry, "")
    assert (found.status, found.quantity, found.filled_quantity) == (
        OrderStatus.ACCEPTED, D("0.1"), D(0))
    assert [call.method for call in fake.calls[before:]] == ["OpenOrders"]  # 1 REST point


async def test_an_executed_close_is_found_in_closed_orders_with_its_fill(
        broker, btc, fake, clock: FakeClock) -> None:
    entry, close = await _entry_with_stop(broker, btc, fake)
    clock.advance(60)
    fake.fill(close, "47000")

    ((side, found),) = await broker.child_orders([entry], btc)

    assert side is Side.SELL
    assert (found.venue_order_id, found.parent_venue_order_id) == (close, entry)
    assert (found.status, found.filled_quantity, found.average_price) == (
        OrderStatus.FILLED, D("0.1"), D("47000"))
    assert [f.get("ofs") for f in _calls(fake, "ClosedOrders")] == ["0"]


async def test_only_the_asked_parents_closes_on_the_pair(broker, btc, fake) -> None:
    entry, close = await _entry_with_stop(broker, btc, fake)
    other, _ = await _entry_with_stop(broker, btc, fake)  # not asked about
    usdt = await broker.resolve(normalize_ticker("XBTUSDT"))
    await broker.submit_order(make_order(usdt, quantity="0.01", stop_loss=Bracket(
        OrderType.STOP, trigger_price=D("40000"))))

    found = await broker.child_orders([entry], btc)

    assert [(r.venue_order_id, r.parent_venue_order_id) for _, r in found] == [(close, entry)]
    assert await broker.child_orders([], btc) == []
    assert await broker.child_orders(["OUNKNOWN-PARENT"], usdt) == []
    assert other != entry


async def test_closed_orders_are_paged_back_to_the_parent_and_no_further(
        broker, btc, fake, clock: FakeClock) -> None:
    entry, close = await _entry_with_stop(broker, btc, fake)
    clock.advance(1)
    fake.fill(close, "47000")
    for _ in range(60):  # later history: 60 other orders closed since, on another pair
        clock.advance(1)
        _other_pair_order(fake)

    ((_, found),) = await broker.child_orders([entry], btc)

    assert (found.venue_order_id, found.status) == (close, OrderStatus.FILLED)
    assert [f.get("ofs") for f in _calls(fake, "ClosedOrders")] == ["0", "50"]


async def test_a_parent_without_a_close_stops_the_paging_once_passed(
        broker, btc, fake, clock: FakeClock) -> None:
    for _ in range(60):  # older history
        clock.advance(1)
        _other_pair_order(fake)
    clock.advance(1)
    plain = await broker.submit_order(make_order(btc, quantity="0.1"))  # no close attached
    for _ in range(120):
        clock.advance(1)
        _other_pair_order(fake)
    # a close would be more recent than its parent: past the parent, nothing is left to find
    older = await broker.child_orders([plain.venue_order_id or ""], btc)
    assert older == []
    pages = [f.get("ofs") for f in _calls(fake, "ClosedOrders")]
    assert pages == ["0", "50", "100"]  # the parent is on the third page, older orders after it
    assert len(pages) < CHILD_PAGES


async def test_the_pages_read_are_bounded(broker, btc, fake, clock: FakeClock) -> None:
    for _ in range(CHILD_PAGES * 50 + 10):
        clock.advance(1)
        _other_pair_order(fake)
    assert await broker.child_orders(["OLONG-AGONE-PARENT"], btc) == []
    assert len(_calls(fake, "ClosedOrders")) == CHILD_PAGES


def _other_pair_order(fake: FakeKraken) -> None:
    fake._ep_AddOrder({"pair": "XBTUSDT", "type": "buy", "ordertype": "market",
                       "volume": "0.0001"})
