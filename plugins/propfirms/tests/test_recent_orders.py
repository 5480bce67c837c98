"""Brokers remember their newest orders only: a long ``serve`` does not grow by one entry per
order, and an order forgotten is still found through the venue's own records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from router_propfirms import recent
from router_propfirms.fake.tradelocker import FakeTradeLocker
from router_propfirms.fake.tradelocker_kit import lots_order, tradelocker_broker
from router_propfirms.fake.tradovate import FakeTradovate
from router_propfirms.fake.tradovate_kit import futures_order, tradovate_broker

from router_core import OrderStatus, OrderType, normalize_ticker
from router_core.testing import FakeClock

TRADOVATE_NOW = datetime(2026, 12, 4, 15, tzinfo=UTC)  # MNQZ6 is the front month


def test_the_newest_are_kept_and_the_oldest_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recent, "REMEMBERED_ORDERS", 3)
    table: dict[str, int] = {}
    for number in range(5):
        recent.remember(table, f"o{number}", number)
    assert table == {"o2": 2, "o3": 3, "o4": 4}
    recent.remember(table, "o2", 20)  # learnt again: now the newest
    recent.remember(table, "o5", 5)
    assert table == {"o4": 4, "o2": 20, "o5": 5}


async def test_tradovate_finds_an_order_it_no_longer_remembers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent, "REMEMBERED_ORDERS", 2)
    clock = FakeClock(TRADOVATE_NOW.timestamp())
    fake = FakeTradovate(clock=clock)
    broker = tradovate_broker(tmp_path, fake, clock)
    await broker.start()
    try:
        instrument = await broker.resolve(normalize_ticker("MNQ1!"))
        orders = [futures_order(instrument) for _ in range(4)]
        for order in orders:
            await broker.submit_order(order)
        assert list(broker._order_ids) == [o.client_order_id for o in orders[-2:]]
        found = await broker.find_order(orders[0].client_order_id, instrument)
        assert found is not None and found.status is OrderStatus.FILLED
        assert len(broker._order_ids) == 2  # the lookup is remembered within the bound
    finally:
        await broker.close()


async def test_tradelocker_keeps_the_tags_of_its_newest_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent, "REMEMBERED_ORDERS", 2)
    clock = FakeClock()
    fake = FakeTradeLocker(clock=clock)
    broker = tradelocker_broker(tmp_path, fake, clock)
    await broker.start()
    try:
        instrument = await broker.resolve(normalize_ticker("FX:EURUSD"))
        resting = [lots_order(instrument, order_type=OrderType.LIMIT, limit_price=price)
                   for price in ("1.01", "1.02", "1.03")]
        for order in resting:
            await broker.submit_order(order)
        assert len(broker._tags) == 2
        listed = {r.venue_order_id: r.client_order_id
                  for r in await broker.open_orders(instrument)}
        names = sorted(listed.values())
        # the oldest is listed as an order of an earlier session: by its venue id, no client id
        assert names == sorted(["", resting[1].client_order_id, resting[2].client_order_id])
        assert await broker.find_order(resting[0].client_order_id, instrument) is not None
    finally:
        await broker.close()
