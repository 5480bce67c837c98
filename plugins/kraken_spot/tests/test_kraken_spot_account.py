"""balance(), position(), reference_price() and the margin capabilities."""

from __future__ import annotations

from decimal import Decimal

from router_kraken_spot.broker import KrakenSpotBroker
from router_kraken_spot.testing import make_order

from router_core import OrderType, Side
from router_core import normalize_ticker as normalize

D = Decimal


async def test_balance_available_nets_out_held_funds(broker, btc, fake) -> None:
    balance = await broker.balance("USD")
    assert (balance.currency, balance.equity, balance.available) == ("USD", D("100000"),
                                                                      D("100000"))
    await broker.submit_order(make_order(btc, order_type=OrderType.LIMIT,
                                         limit_price=D("40000")))
    held = await broker.balance("USD")
    assert held.available == D("99600") and held.equity == D("100000")


async def test_balance_for_xbt_reads_the_xxbt_asset(broker) -> None:
    assert (await broker.balance("XBT")).available == D("2")
    assert (await broker.balance("BTC")).currency == "BTC"


async def test_cash_position_is_the_base_asset_held(broker, btc, fake) -> None:
    assert (await broker.position(btc)).quantity == D("2")
    await broker.submit_order(make_order(btc, side=Side.SELL, quantity="0.5"))
    assert (await broker.position(btc)).quantity == D("1.5")
    doge = await broker.resolve(normalize("DOGEUSD"))
    assert (await broker.position(doge)).is_flat


async def test_reference_price_is_the_last_trade(broker, btc, fake) -> None:
    assert await broker.reference_price(btc) == D("50000.0")
    fake.set_price("XBTUSD", "51234.5")
    assert await broker.reference_price(btc) == D("51234.5")


def test_class_capabilities_are_spot_cash() -> None:
    caps = KrakenSpotBroker.capabilities
    assert not caps.can_short and not caps.net_position and not caps.leverage
    assert caps.attached_brackets and caps.reduce_only and caps.post_only


async def test_margin_account_positions_equity_and_capabilities(margin_broker, fake) -> None:
    caps = margin_broker.capabilities
    assert caps.can_short and caps.net_position and caps.leverage
    assert not KrakenSpotBroker.capabilities.can_short  # the class default is untouched
    btc = await margin_broker.resolve(normalize("XBTUSD"))
    assert (await margin_broker.position(btc)).quantity == 0  # held XBT is not a position
    fake.set_position("XXBTZUSD", "buy", "0.5", "48000")
    fake.set_position("XXBTZUSD", "sell", "0.2", "52000")
    fake.set_position("XETHXXBT", "sell", "3", "0.05")
    assert (await margin_broker.position(btc)).quantity == D("0.3")
    await margin_broker.submit_order(make_order(btc, side=Side.SELL, quantity="1",
                                                leverage=D("2")))
    assert (await margin_broker.position(btc)).quantity == D("-0.7")
    balance = await margin_broker.balance("USD")
    trade = fake._ep_TradeBalance({"asset": "ZUSD"})
    assert balance.equity == D(trade["e"])
    assert balance.available == D("100000")
