"""AssetPairs: every spelling of a pair resolves; a pair that is not online is denied."""

from __future__ import annotations

from decimal import Decimal

import pytest
from router_kraken_spot.fake import FakeKraken

from router_core import MarketClosed, UnknownSymbol
from router_core import normalize_ticker as normalize

BTC_FORMS = ["XBTUSD", "BTCUSD", "XXBTZUSD", "XBT/USD", "BTC/USD", "KRAKEN:XBTUSD",
             "KRAKEN:BTCUSD", "kraken:btcusd", "BINANCE:BTCUSD"]
DOGE_FORMS = ["XDGUSD", "DOGEUSD", "XDG/USD", "DOGE/USD", "KRAKEN:DOGEUSD"]


@pytest.mark.parametrize("ticker", BTC_FORMS)
async def test_every_bitcoin_spelling_resolves_to_the_pair(broker, ticker) -> None:
    instrument = await broker.resolve(normalize(ticker))
    assert instrument.symbol == "XXBTZUSD"
    assert (instrument.base, instrument.quote) == ("BTC", "USD")


@pytest.mark.parametrize("ticker", DOGE_FORMS)
async def test_every_dogecoin_spelling_resolves(broker, ticker) -> None:
    instrument = await broker.resolve(normalize(ticker))
    assert instrument.symbol == "XDGUSD" and instrument.base == "DOGE"


@pytest.mark.parametrize(("ticker", "key"), [
    ("ETHXBT", "XETHXXBT"), ("ETH/BTC", "XETHXXBT"), ("ETHBTC", "XETHXXBT"),
    ("XBTUSDT", "XBTUSDT"), ("BTCUSDT", "XBTUSDT"), ("BTC/USDT", "XBTUSDT"),
    ("ADAUSD", "ADAUSD"),
])
async def test_other_pairs(broker, ticker, key) -> None:
    assert (await broker.resolve(normalize(ticker))).symbol == key


async def test_instrument_fields_from_asset_pairs(broker) -> None:
    btc = await broker.resolve(normalize("XBTUSD"))
    assert btc.tick_size == Decimal("0.1")
    assert btc.lot_size == Decimal("0.00000001")
    assert btc.min_quantity == Decimal("0.0001")
    assert btc.min_notional == Decimal("0.5")
    assert btc.max_leverage == Decimal(5)
    assert btc.status == "online" and btc.tradeable
    assert btc.venue["altname"] == "XBTUSD" and btc.venue["wsname"] == "XBT/USD"
    assert btc.venue["pair_decimals"] == 1 and btc.venue["lot_decimals"] == 8
    assert btc.venue["leverage_buy"] == (2, 3, 4, 5)
    eth = await broker.resolve(normalize("ETHXBT"))
    assert (eth.base, eth.quote) == ("ETH", "BTC") and eth.tick_size == Decimal("0.00001")
    ada = await broker.resolve(normalize("ADAUSD"))  # no status field: online
    assert ada.status == "online" and ada.max_leverage is None


async def test_pair_not_online_is_denied_with_its_status(broker, fake: FakeKraken) -> None:
    with pytest.raises(MarketClosed) as info:
        await broker.resolve(normalize("SOLUSD"))
    assert info.value.from_venue is False
    assert "cancel_only" in str(info.value)
    assert fake.add_order_calls == 0


async def test_unknown_symbol_reloads_at_most_once_a_minute(broker, fake, clock) -> None:
    def pair_loads() -> int:
        return sum(1 for call in fake.calls if call.method == "AssetPairs")

    assert pair_loads() == 1  # at start()
    with pytest.raises(UnknownSymbol) as info:
        await broker.resolve(normalize("NOPEUSD"))
    assert info.value.from_venue is False
    assert pair_loads() == 1  # loaded moments ago: not reloaded
    clock.advance(61)
    with pytest.raises(UnknownSymbol):
        await broker.resolve(normalize("NOPEUSD"))
    assert pair_loads() == 2
    with pytest.raises(UnknownSymbol):
        await broker.resolve(normalize("NOPEUSD"))
    assert pair_loads() == 2
    await broker.resolve(normalize("XBTUSD"))  # known symbols never reload
    assert pair_loads() == 2


async def test_new_listing_is_found_after_a_reload(broker, fake, clock) -> None:
    fake.pairs["DOTUSD"] = dict(fake.pairs["ADAUSD"], altname="DOTUSD", wsname="DOT/USD",
                                base="DOT")
    clock.advance(61)
    assert (await broker.resolve(normalize("DOTUSD"))).symbol == "DOTUSD"


async def test_instruments_lists_every_pair(broker, fake) -> None:
    names = {i.symbol for i in await broker.instruments()}
    assert names == set(fake.pairs)
