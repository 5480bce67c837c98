"""Ticker forms become one canonical reading; only brokers know venue names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router_core.errors import AlertError
from router_core.models import InstrumentKind
from router_core.normalize import normalize

SPOT, PERP, FUT = InstrumentKind.SPOT, InstrumentKind.PERPETUAL, InstrumentKind.FUTURE


@pytest.mark.parametrize(
    ("ticker", "kind", "base", "quote", "exchange"),
    [
        ("KRAKEN:XBTUSD", SPOT, "BTC", "USD", "KRAKEN"),
        ("BTCUSD", SPOT, "BTC", "USD", None),
        ("BTC/USD", SPOT, "BTC", "USD", None),
        ("xbt/eur", SPOT, "BTC", "EUR", None),
        ("XDGUSD", SPOT, "DOGE", "USD", None),
        ("ETHUSDT", SPOT, "ETH", "USDT", None),
        ("XBTUSD.P", PERP, "BTC", "USD", None),
        ("BTCUSD.PM", PERP, "BTC", "USD", None),
        ("KRAKEN:XBTUSD.PM", PERP, "BTC", "USD", "KRAKEN"),
        ("BTCUSDPERP", PERP, "BTC", "USD", None),
        ("BYBIT:BTCUSDT.P", PERP, "BTC", "USDT", "BYBIT"),
        ("AAPL", SPOT, "AAPL", None, None),
    ],
)
def test_crypto_and_stock_forms(ticker, kind, base, quote, exchange):
    symbol = normalize(ticker)
    assert (symbol.kind, symbol.base, symbol.quote, symbol.exchange) == (
        kind,
        base,
        quote,
        exchange,
    )


@pytest.mark.parametrize(
    ("ticker", "root", "year", "month", "continuous"),
    [
        ("NQ1!", "NQ", None, None, 1),
        ("CME_MINI:ES2!", "ES", None, None, 2),
        ("MNQH2025", "MNQ", 2025, 3, None),
        ("NQM2025", "NQ", 2025, 6, None),
        ("NQZ25", "NQ", 2025, 12, None),
        ("CLF2026", "CL", 2026, 1, None),
    ],
)
def test_futures_forms(ticker, root, year, month, continuous):
    symbol = normalize(ticker)
    assert symbol.kind is FUT
    assert (symbol.root, symbol.expiry_year, symbol.expiry_month, symbol.continuous) == (
        root,
        year,
        month,
        continuous,
    )


@pytest.mark.parametrize(
    ("ticker", "kind", "base", "quote", "exchange", "bare"),
    [
        ("BTC-USDT", SPOT, "BTC", "USDT", None, "BTC/USDT"),
        ("ETH-USD", SPOT, "ETH", "USD", None, "ETH/USD"),
        ("KRAKEN:BTC-USD", SPOT, "BTC", "USD", "KRAKEN", "BTC/USD"),
        ("eth-btc", SPOT, "ETH", "BTC", None, "ETH/BTC"),
        ("XBT-EUR", SPOT, "BTC", "EUR", None, "XBT/EUR"),
        ("BYBIT:BTC-USDT.P", PERP, "BTC", "USDT", "BYBIT", "BTC/USDT"),
        ("BTC-USDPERP", PERP, "BTC", "USD", None, "BTC/USD"),
    ],
)
def test_dash_pairs_read_like_slash_pairs(ticker, kind, base, quote, exchange, bare):
    symbol = normalize(ticker)
    assert (symbol.kind, symbol.base, symbol.quote, symbol.exchange, symbol.ticker) == (
        kind,
        base,
        quote,
        exchange,
        bare,
    )
    slash = normalize(ticker.replace("-", "/"))
    assert (slash.kind, slash.base, slash.quote, slash.ticker) == (kind, base, quote, bare)


@pytest.mark.parametrize("ticker", ["BRK-B", "BTC-XYZ"])
def test_a_dash_without_a_known_quote_after_it_is_not_a_pair(ticker):
    symbol = normalize(ticker)
    assert (symbol.kind, symbol.base, symbol.quote, symbol.ticker) == (SPOT, ticker, None, ticker)


def test_dated_crypto_future_keeps_base_and_quote():
    symbol = normalize("BTCUSDZ25")
    assert (symbol.kind, symbol.base, symbol.quote, symbol.expiry_month) == (FUT, "BTC", "USD", 12)


@pytest.mark.parametrize("bad", ["", "   ", "KRAKEN:", "BTC USD", "{{ticker}}", "x" * 41])
def test_malformed_tickers_name_the_field(bad):
    with pytest.raises(AlertError) as info:
        normalize(bad)
    assert info.value.field == "ticker"


@given(st.text(max_size=50))
def test_any_text_either_normalises_or_is_an_alert_error(text):
    try:
        symbol = normalize(text)
    except AlertError as exc:
        assert exc.field == "ticker"
    else:
        assert symbol.ticker
