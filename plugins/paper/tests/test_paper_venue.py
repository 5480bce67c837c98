"""The paper venue: fills, net positions, realised PnL, persistence, idempotent ids."""

from __future__ import annotations

from decimal import Decimal

import pytest
from router_paper import PaperBroker, PaperConfig

from router_core import (
    BrokerContext,
    InvalidOrder,
    NonceRegistry,
    Order,
    OrderStatus,
    OrderType,
    RateLimiterRegistry,
    Side,
)
from router_core import normalize_ticker as normalize


def context(tmp_path) -> BrokerContext:
    return BrokerContext(account="p", state_dir=tmp_path, nonces=NonceRegistry(None),
                         limiters=RateLimiterRegistry())


async def order(broker, cid: str, side: Side, qty: str, price: str = "100", **kw) -> Order:
    instrument = await broker.resolve(normalize("BTCUSD"))
    return Order(cid, "p", instrument, side, Decimal(qty), reference_price=Decimal(price), **kw)


async def test_round_trip_moves_cash_by_the_realised_pnl(tmp_path):
    broker = PaperBroker(PaperConfig(starting_balance=Decimal(1000)), context(tmp_path))
    await broker.submit_order(await order(broker, "a", Side.BUY, "2", "100"))
    await broker.submit_order(await order(broker, "b", Side.SELL, "3", "110"))
    instrument = await broker.resolve(normalize("BTCUSD"))
    position = await broker.position(instrument)
    assert (position.quantity, position.average_price) == (Decimal(-1), Decimal(110))
    assert (await broker.balance()).equity == Decimal(1020)  # 2 x (110 - 100)


async def test_positions_survive_a_restart(tmp_path):
    broker = PaperBroker(PaperConfig(), context(tmp_path))
    await broker.submit_order(await order(broker, "a", Side.BUY, "1.5"))
    await broker.close()
    again = PaperBroker(PaperConfig(), context(tmp_path))
    position = await again.position(await again.resolve(normalize("BTCUSD")))
    assert position.quantity == Decimal("1.5")


async def test_same_client_order_id_is_one_order(tmp_path):
    broker = PaperBroker(PaperConfig(), context(tmp_path))
    first = await broker.submit_order(await order(broker, "same", Side.BUY, "1"))
    second = await broker.submit_order(await order(broker, "same", Side.BUY, "1"))
    assert first == second and broker.ledger.count_orders() == 1


async def test_reduce_only_that_would_grow_the_position_is_rejected(tmp_path):
    broker = PaperBroker(PaperConfig(), context(tmp_path))
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(await order(broker, "r", Side.SELL, "1", reduce_only=True))
    assert info.value.from_venue and "reduce-only" in str(info.value)


async def test_stop_orders_rest_and_can_be_cancelled(tmp_path):
    broker = PaperBroker(PaperConfig(), context(tmp_path))
    placed = await broker.submit_order(await order(
        broker, "s", Side.BUY, "1", order_type=OrderType.STOP, stop_price=Decimal(120)))
    assert placed.status is OrderStatus.ACCEPTED
    instrument = await broker.resolve(normalize("BTCUSD"))
    assert (await broker.cancel_order("s", instrument)).status is OrderStatus.CANCELED
    assert (await broker.find_order("s", instrument)).status is OrderStatus.CANCELED


async def test_no_price_is_a_denial_not_a_guess(tmp_path):
    broker = PaperBroker(PaperConfig(), context(tmp_path))
    instrument = await broker.resolve(normalize("BTCUSD"))
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(Order("n", "p", instrument, Side.BUY, Decimal(1)))
    assert not info.value.from_venue and "no price" in str(info.value)
