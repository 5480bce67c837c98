"""The conditional close: the fake places it when the primary executes, the broker lists it
with its parent's txid and never takes it for the order it sent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.testing import make_order

from router_core import Bracket, OrderStatus, OrderType, Side

D = Decimal
STOP = Bracket(OrderType.STOP, trigger_price=D("47000"))


def _closes(fake: FakeKraken) -> list[tuple[str, dict]]:
    return [(txid, order) for txid, order in fake.orders.items() if order["refid"]]


async def test_a_filled_entry_leaves_its_close_resting(broker, btc, fake: FakeKraken) -> None:
    order = make_order(btc, quantity="0.1", stop_loss=STOP)
    placed = await broker.submit_order(order)
    entry = placed.venue_order_id
    ((close, data),) = _closes(fake)
    assert data["refid"] == entry and data["status"] == "open"
    assert data["userref"] == fake.orders[entry]["userref"] != 0  # kept from the parent
    assert data["cl_ord_id"] is None
    assert (data["descr"]["type"], data["descr"]["ordertype"], data["descr"]["price"],
            D(data["vol"])) == ("sell", "stop-loss", "47000", D("0.1"))
    assert fake.account.held["XXBT"] == D("0.1")  # a resting cash sell holds its coins

    # the lookup by userref sees the parent and its close: the broker answers the parent
    found = await broker.find_order(order.client_order_id, btc)
    assert found is not None
    assert (found.venue_order_id, found.status) == (entry, OrderStatus.FILLED)

    (listed,) = await broker.open_orders(btc)
    assert (listed.venue_order_id, listed.parent_venue_order_id, listed.client_order_id) == (
        close, entry, "")
    assert (listed.status, listed.quantity) == (OrderStatus.ACCEPTED, D("0.1"))

    cancelled = await broker.cancel_venue_order(close, btc)
    assert cancelled.status is OrderStatus.CANCELED
    assert fake.calls[-1].fields["txid"] == close
    assert fake.orders[close]["status"] == "canceled" and fake.account.held["XXBT"] == 0
    assert await broker.open_orders(btc) == []


async def test_the_close_comes_only_once_a_resting_entry_executes(
        broker, btc, fake: FakeKraken) -> None:
    order = make_order(btc, quantity="0.1", order_type=OrderType.LIMIT,
                       limit_price=D("49000"), take_profit=Bracket(OrderType.LIMIT,
                                                                    limit_price=D("55000")))
    entry = (await broker.submit_order(order)).venue_order_id
    assert entry is not None and _closes(fake) == []
    fake.fill(entry, "49000")
    ((close, data),) = _closes(fake)
    assert (data["refid"], data["descr"]["type"], data["descr"]["ordertype"],
            data["descr"]["price"]) == (entry, "sell", "limit", "55000")
    found = await broker.find_order(order.client_order_id, btc)
    assert found is not None and found.venue_order_id == entry
    assert found.status is OrderStatus.FILLED
    fake.fill(close)  # the take profit executes, as any resting order
    assert fake.orders[close]["status"] == "closed"
    assert [r.venue_order_id for r in await broker.open_orders(btc)] == []


@pytest.mark.parametrize(("bracket", "fills_at"), [
    (Bracket(OrderType.STOP, trigger_price=D("51000")), D("50000")),  # already below the stop
    (Bracket(OrderType.LIMIT, limit_price=D("49000")), D("49000")),  # a limit that crosses
    (Bracket(OrderType.TAKE_PROFIT, trigger_price=D("45000")), D("50000")),
    (Bracket(OrderType.STOP, trigger_price=D("45000")), None),  # rests
    (Bracket(OrderType.TAKE_PROFIT, trigger_price=D("55000")), None),
])
async def test_a_close_executes_at_once_only_when_its_price_says_so(
        broker, btc, fake: FakeKraken, bracket: Bracket, fills_at: Decimal | None) -> None:
    start = fake.account.balances["XXBT"]
    take_profit = bracket if bracket.order_type is not OrderType.STOP else None
    stop_loss = bracket if bracket.order_type is OrderType.STOP else None
    await broker.submit_order(make_order(btc, quantity="0.1", take_profit=take_profit,
                                         stop_loss=stop_loss))
    ((_, data),) = _closes(fake)
    if fills_at is None:
        assert data["status"] == "open"
        assert fake.account.balances["XXBT"] == start + D("0.1")
    else:
        assert (data["status"], D(data["price"])) == ("closed", fills_at)
        assert fake.account.balances["XXBT"] == start  # bought and sold again
        assert fake.account.held.get("XXBT", 0) == 0


async def test_a_sell_entry_s_close_buys_and_holds_quote(broker, btc, fake: FakeKraken) -> None:
    usd = fake.account.held.get("ZUSD", D(0))
    await broker.submit_order(make_order(btc, side=Side.SELL, quantity="0.1",
                                         take_profit=Bracket(OrderType.LIMIT,
                                                             limit_price=D("45000"))))
    ((_, data),) = _closes(fake)
    assert (data["descr"]["type"], data["status"]) == ("buy", "open")
    assert fake.account.held["ZUSD"] == usd + D("4500")
