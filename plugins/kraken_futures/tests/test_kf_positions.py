"""Reverse legs on the net-position model, size precision, balances, positions, leverage."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from router_kraken_futures.config import KrakenFuturesConfig

from router_core import (
    InvalidOrder,
    LegPurpose,
    OrderStatus,
    OrderType,
    Side,
    VenueUnavailable,
)
from router_core import normalize_ticker as normalize

D = Decimal


async def _pf(broker: Any) -> Any:
    return await broker.resolve(normalize("BTCUSD.P"))


async def test_reverse_long_to_short_as_reduce_only_close_then_open(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    opened = await broker.submit_order(new_order(inst, "0.5", Side.BUY))
    assert opened.status is OrderStatus.FILLED
    assert (await broker.position(inst)).quantity == D("0.5")

    # the core's two legs: a reduce-only close, then the open leg
    close = await broker.submit_order(
        new_order(inst, "0.5", Side.SELL, purpose=LegPurpose.CLOSE, reduce_only=True)
    )
    assert close.status is OrderStatus.FILLED
    assert (await broker.position(inst)).quantity == 0
    open_leg = await broker.submit_order(new_order(inst, "0.3", Side.SELL))
    assert open_leg.status is OrderStatus.FILLED
    assert (await broker.position(inst)).quantity == D("-0.3")

    bodies = fake.sendorders
    assert [b["side"] for b in bodies] == ["buy", "sell", "sell"]
    assert bodies[1]["reduceOnly"] == "true" and bodies[1]["size"] == "0.5"
    assert "reduceOnly" not in bodies[2]


async def test_single_order_flip(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any]
) -> None:
    broker = await make_broker(reverse_mode="single_order")
    assert broker.config.reverse_mode == "single_order"
    inst = await _pf(broker)
    await broker.submit_order(new_order(inst, "0.5", Side.BUY))
    flip = await broker.submit_order(new_order(inst, "0.8", Side.SELL, purpose=LegPurpose.FLIP))
    assert flip.status is OrderStatus.FILLED
    assert flip.filled_quantity == D("0.8")
    assert (await broker.position(inst)).quantity == D("-0.3")
    assert "reduceOnly" not in fake.sendorders[1]


def test_reverse_mode_defaults_to_one_flip_order_and_rejects_others() -> None:
    assert KrakenFuturesConfig().reverse_mode == "single_order"
    with pytest.raises(ValueError, match="reverse_mode"):
        KrakenFuturesConfig(reverse_mode="hedge")
    with pytest.raises(ValueError, match="extra"):
        KrakenFuturesConfig(api_secret="inline secrets are not allowed")


async def test_reduce_only_close_is_trimmed_never_flips(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    await broker.submit_order(new_order(inst, "0.2", Side.BUY))
    result = await broker.submit_order(new_order(inst, "0.5", Side.SELL, reduce_only=True))
    assert result.status is OrderStatus.FILLED
    assert result.filled_quantity == D("0.2")
    assert "trimmed" in (result.reason or "")
    assert (await broker.position(inst)).quantity == 0


async def test_reduce_only_while_flat_is_a_venue_rejection(
    broker: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(new_order(inst, "0.1", Side.SELL, reduce_only=True))
    assert info.value.from_venue is True
    assert info.value.venue_code == "wouldNotReducePosition"


# -- precision --------------------------------------------------------------------------------


async def test_negative_precision_means_multiples_of_a_thousand(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    pepe = await broker.resolve(normalize("PEPEUSD.P"))
    assert pepe.symbol == "PF_PEPEUSD"
    assert pepe.lot_size == D(1000) and pepe.min_quantity == D(1000)
    assert pepe.venue["contractValueTradePrecision"] == -3
    ok = await broker.submit_order(new_order(pepe, "2000", Side.BUY))
    assert ok.status is OrderStatus.FILLED
    assert fake.sendorders[0]["size"] == "2000"
    with pytest.raises(InvalidOrder) as info:
        await broker.submit_order(new_order(pepe, "1500", Side.BUY))
    assert info.value.from_venue is False
    assert "size step 1000" in str(info.value) and "-3" in str(info.value)
    assert len(fake.sendorders) == 1


@pytest.mark.parametrize(
    ("ticker", "step", "good", "bad"),
    [
        ("XBTUSD.P", D("0.0001"), "0.0003", "0.00025"),
        ("ETHUSD.P", D("0.001"), "0.012", "0.0125"),
        ("PI_XBTUSD", D(1), "150", "150.5"),
    ],
)
async def test_sizes_follow_contract_value_trade_precision(
    broker: Any, fake: Any, new_order: Callable[..., Any], ticker: str, step: Decimal, good: str,
    bad: str,
) -> None:
    inst = await broker.resolve(normalize(ticker))
    assert inst.lot_size == step
    assert (await broker.submit_order(new_order(inst, good))).status is OrderStatus.FILLED
    with pytest.raises(InvalidOrder, match="size step"):
        await broker.submit_order(new_order(inst, bad))
    assert [b["size"] for b in fake.sendorders] == [good]


async def test_fake_refuses_an_off_step_size_too(broker: Any, fake: Any) -> None:
    """The fake checks precision itself, so a plugin bug could not hide behind it."""
    from router_kraken_futures.fake.engine import Refusal

    with pytest.raises(Refusal) as info:
        fake.exchange.place({"orderType": "mkt", "symbol": "PF_PEPEUSD", "side": "buy",
                             "size": "1500"}, fake.clock.time())
    assert info.value.status == "invalidSize"


# -- account ----------------------------------------------------------------------------------


async def test_balance_is_the_flex_wallet_in_usd(broker: Any) -> None:
    balance = await broker.balance()
    assert balance.currency == "USD"
    assert balance.equity == D("34995.52")
    assert balance.available == D("34122.66")
    assert await broker.balance("usd") == balance


async def test_balance_for_inverse_contracts_is_the_coin_margin_account(broker: Any) -> None:
    balance = await broker.balance("BTC")
    assert balance.currency == "BTC"
    assert balance.equity == D("153.73891563")
    assert balance.available == D("100.73891563")
    xrp = await broker.balance("XRP")  # no inverse margin account: the cash wallet
    assert xrp.equity == xrp.available == D("52465.1254")


async def test_available_margin_falls_as_positions_open(
    broker: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    await broker.submit_order(new_order(inst, "1", Side.BUY))
    balance = await broker.balance()
    assert balance.available == D("34122.66") - D(50000) * D("0.02")


async def test_position_is_signed_and_reads_inverse_contracts(
    broker: Any, new_order: Callable[..., Any]
) -> None:
    inverse = await broker.resolve(normalize("PI_XBTUSD"))
    assert inverse.inverse is True and inverse.contract_size == 1
    await broker.submit_order(new_order(inverse, "1000", Side.SELL))
    position = await broker.position(inverse)
    assert position.quantity == D(-1000)
    assert position.average_price == D(50000)
    assert (await broker.position(await _pf(broker))).quantity == 0


async def test_position_without_open_positions_list_is_not_flat(broker: Any, fake: Any) -> None:
    fake.script("openpositions", http_status=200, body='{"result":"success"}',
                content_type="application/json")
    with pytest.raises(VenueUnavailable, match="openPositions"):
        await broker.position(await _pf(broker))


async def test_leverage_is_set_as_a_preference_before_the_order(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    assert inst.max_leverage == D(50)
    await broker.submit_order(new_order(inst, "0.01", leverage=D(5)))
    assert fake.exchange.leverage == {"PF_XBTUSD": D(5)}
    endpoints = [r.endpoint for r in fake.requests if r.endpoint != "instruments"]
    assert endpoints == ["leveragepreferences", "sendorder"]
    await broker.submit_order(new_order(inst, "0.01", leverage=D(5)))  # already set: no call
    assert [r.endpoint for r in fake.requests].count("leveragepreferences") == 1


@pytest.mark.parametrize(
    ("ticker", "leverage", "words"),
    [("XBTUSD.P", D(51), "exceeds the maximum 50x"),
     ("PI_XBTUSD", D(5), "only on multi-collateral"),
     ("XBTUSD.P", D(0), "must be positive")],
)
async def test_leverage_the_account_cannot_take_is_denied(
    broker: Any, fake: Any, new_order: Callable[..., Any], ticker: str, leverage: Decimal,
    words: str,
) -> None:
    inst = await broker.resolve(normalize(ticker))
    with pytest.raises(InvalidOrder, match=words) as info:
        await broker.submit_order(new_order(inst, "100" if inst.inverse else "0.01",
                                            leverage=leverage))
    assert info.value.from_venue is False
    assert fake.sendorders == [] and fake.exchange.leverage == {}


async def test_reference_price_is_the_mark(broker: Any) -> None:
    assert await broker.reference_price(await _pf(broker)) == D(50000)


async def test_cancel_by_client_order_id(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await _pf(broker)
    resting = new_order(inst, "0.01", order_type=OrderType.LIMIT, limit_price=D(40000))
    assert (await broker.submit_order(resting)).status is OrderStatus.ACCEPTED
    result = await broker.cancel_order(resting.client_order_id, inst)
    assert result.status is OrderStatus.CANCELED
    assert fake.requests[-1].params == {"cliOrdId": resting.client_order_id}
    from router_core import OrderNotFound

    with pytest.raises(OrderNotFound):
        await broker.cancel_order("not-an-order", inst)


@pytest.mark.parametrize("skew", [90.0, -90.0])
async def test_process_before_follows_kraken_clock_not_the_host(
    tmp_path: Any, broker_over: Callable[..., Any], new_order: Callable[..., Any], skew: float
) -> None:
    """A host clock 90 s off Kraken's still stamps processBefore 10 s ahead of Kraken's."""
    import httpx
    from router_kraken_futures.fake import FakeKrakenFutures

    from router_core.testing import FakeClock

    venue_clock = FakeClock(start=1_700_000_000.0 + skew)
    skewed = FakeKrakenFutures(clock=venue_clock)
    broker = await broker_over(httpx.ASGITransport(app=skewed), start=True)
    inst = await broker.resolve(normalize("XBTUSD.P"))
    result = await broker.submit_order(new_order(inst, "0.001"))
    assert result.status is OrderStatus.FILLED
    from datetime import datetime

    stamp = datetime.fromisoformat(skewed.sendorders[0]["processBefore"]).timestamp()
    assert stamp - venue_clock.time() == pytest.approx(10, abs=0.01)
