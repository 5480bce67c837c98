"""TradingView ticker forms resolve to the right Kraken Futures contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from router_core import InstrumentKind, MarketClosed, UnknownSymbol
from router_core import normalize_ticker as normalize


@pytest.mark.parametrize(
    ("ticker", "symbol"),
    [
        ("XBTUSD.P", "PF_XBTUSD"),
        ("BTCUSD.P", "PF_XBTUSD"),
        ("BTCUSD.PM", "PF_XBTUSD"),
        ("KRAKEN:XBTUSD.PM", "PF_XBTUSD"),
        ("BTCUSDPERP", "PF_XBTUSD"),
        ("KRAKEN:XBTUSD", "PF_XBTUSD"),
        ("KRAKEN:BTCUSD", "PF_XBTUSD"),
        ("XBTUSD", "PF_XBTUSD"),
        ("ETHUSD.P", "PF_ETHUSD"),
        ("PEPEUSD.P", "PF_PEPEUSD"),
        ("BTCUSDZ25", "FF_XBTUSD_251226"),
        ("BTCUSDZ2025", "FF_XBTUSD_251226"),
        ("BTCUSD1!", "FF_XBTUSD_251226"),  # the fake clock says 2023: the nearest alive
        ("PF_XBTUSD", "PF_XBTUSD"),
        ("pi_xbtusd", "PI_XBTUSD"),
        ("KRAKEN:PI_XBTUSD", "PI_XBTUSD"),
        ("FI_XBTUSD_251226", "FI_XBTUSD_251226"),
    ],
)
async def test_forms_with_the_default_pf_contract(broker: Any, ticker: str, symbol: str) -> None:
    assert (await broker.resolve(normalize(ticker))).symbol == symbol


@pytest.mark.parametrize(
    ("ticker", "symbol"),
    [
        ("KRAKEN:XBTUSD", "PI_XBTUSD"),
        ("XBTUSD.P", "PI_XBTUSD"),
        ("BTCUSDPERP", "PI_XBTUSD"),
        ("BTCUSDZ25", "FI_XBTUSD_251226"),
        ("XRPUSD.P", "PI_XRPUSD"),
        ("PF_XBTUSD", "PF_XBTUSD"),
    ],
)
async def test_forms_with_the_inverse_default(
    make_broker: Callable[..., Any], ticker: str, symbol: str
) -> None:
    broker = await make_broker(default_contract="PI")
    assert (await broker.resolve(normalize(ticker))).symbol == symbol


async def test_instrument_mapping(broker: Any) -> None:
    pf = await broker.resolve(normalize("XBTUSD.P"))
    assert (pf.base, pf.quote, pf.kind, pf.inverse) == ("BTC", "USD", InstrumentKind.PERPETUAL,
                                                        False)
    assert (pf.tick_size, pf.lot_size, pf.contract_size) == (Decimal(1), Decimal("0.0001"),
                                                             Decimal(1))
    assert pf.max_leverage == Decimal(50) and pf.expiry is None and pf.tradeable
    assert pf.venue["type"] == "flexible_futures"
    pi = await broker.resolve(normalize("PI_XBTUSD"))
    assert pi.inverse and pi.tick_size == Decimal("0.5") and pi.lot_size == Decimal(1)
    assert pi.venue["retailMarginLevels"][0]["initialMargin"] == Decimal("0.5")
    ff = await broker.resolve(normalize("BTCUSDZ25"))
    assert (ff.kind, ff.expiry, ff.inverse) == (InstrumentKind.FUTURE, date(2025, 12, 26), False)
    fi = await broker.resolve(normalize("FI_XBTUSD_220930"))
    assert fi.inverse and fi.expiry == date(2022, 9, 30)
    symbols = {inst.symbol for inst in await broker.instruments()}
    assert "IN_XBTUSD" not in symbols and "PF_XBTUSD" in symbols  # indices are left out


@pytest.mark.parametrize(
    ("ticker", "words"),
    [
        ("NOPEUSD.P", "no PF_NOPEUSD contract"),
        ("BTCUSDT.P", "quoted in USD, not USDT"),
        ("XRPUSD.P", 'PI_XRPUSD exists: send that symbol or set default_contract = "PI"'),
        ("BTCUSDH27", "no FF_ BTCUSD contract for 2027-03"),
    ],
)
async def test_unknown_symbols_say_why(broker: Any, ticker: str, words: str) -> None:
    with pytest.raises(UnknownSymbol) as info:
        await broker.resolve(normalize(ticker))
    assert words in str(info.value)
    assert info.value.from_venue is False


async def test_untradeable_contract_is_market_closed(broker: Any, fake: Any) -> None:
    fake.exchange.instruments["PF_ETHUSD"]["tradeable"] = False
    broker._table = None  # reload
    with pytest.raises(MarketClosed):
        await broker.resolve(normalize("ETHUSD.P"))


async def test_unknown_symbol_reloads_instruments_at_most_once_a_minute(
    broker: Any, fake: Any, clock: Any
) -> None:
    def loads() -> int:
        return sum(1 for r in fake.requests if r.endpoint == "instruments")

    assert loads() == 1  # start()
    new = dict(fake.exchange.instruments["PF_ETHUSD"], symbol="PF_SOLUSD", base="SOL",
               pair="SOL:USD")
    fake.exchange.instruments["PF_SOLUSD"] = new
    with pytest.raises(UnknownSymbol):  # listed seconds after the load: not reloaded yet
        await broker.resolve(normalize("SOLUSD.P"))
    assert loads() == 1
    clock.advance(61)
    assert (await broker.resolve(normalize("SOLUSD.P"))).symbol == "PF_SOLUSD"
    assert loads() == 2
    with pytest.raises(UnknownSymbol):
        await broker.resolve(normalize("NOPEUSD.P"))
    with pytest.raises(UnknownSymbol):
        await broker.resolve(normalize("NOPEUSD.P"))
    assert loads() == 2


async def test_continuous_contract_skips_expired_ones(broker: Any, clock: Any) -> None:
    clock.advance(3 * 365 * 86400)  # 2026: FF_XBTUSD_251226 has expired
    with pytest.raises(UnknownSymbol, match="continuous #1"):
        await broker.resolve(normalize("BTCUSD1!"))
