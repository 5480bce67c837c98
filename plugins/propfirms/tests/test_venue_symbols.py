"""TradingView tickers -> each venue's name, across a year boundary, and unknown symbols."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from router_propfirms.matchtrader import MatchTraderBroker
from router_propfirms.rithmic import RithmicBroker
from router_propfirms.tradelocker import TradeLockerBroker
from router_propfirms.tradovate import TradovateBroker

from router_core import InstrumentKind, NotSupported, UnknownSymbol
from router_core import normalize_ticker as normalize

MakeBroker = Callable[..., Any]  # the make_broker fixture (conftest.py)

LATE_DECEMBER = date(2025, 12, 20)  # NQZ5 expired on the 19th; NQ1! is the March contract
MAY = date(2025, 5, 1)

# (today, TradingView ticker, Tradovate, Rithmic symbol, Rithmic exchange)
FUTURES_TABLE = [
    (LATE_DECEMBER, "NQ1!", "NQH6", "NQH6", "CME"),
    (LATE_DECEMBER, "CME_MINI:NQ1!", "NQH6", "NQH6", "CME"),
    (LATE_DECEMBER, "MNQ1!", "MNQH6", "MNQH6", "CME"),
    (LATE_DECEMBER, "MNQH2026", "MNQH6", "MNQH6", "CME"),
    (LATE_DECEMBER, "NQ2!", "NQM6", "NQM6", "CME"),
    (LATE_DECEMBER, "ESM2026", "ESM6", "ESM6", "CME"),
    (LATE_DECEMBER, "YM1!", "YMH6", "YMH6", "CBOT"),
    (LATE_DECEMBER, "ZN1!", "ZNH6", "ZNH6", "CBOT"),
    (LATE_DECEMBER, "NYMEX_DL:CL1!", "CLG6", "CLG6", "NYMEX"),
    (LATE_DECEMBER, "GC1!", "GCG6", "GCG6", "COMEX"),
    (LATE_DECEMBER, "6E1!", "6EH6", "6EH6", "CME"),
    (MAY, "NQ1!", "NQM5", "NQM5", "CME"),
    (MAY, "NQM2025", "NQM5", "NQM5", "CME"),
    (MAY, "NQM5", "NQM5", "NQM5", "CME"),
    (MAY, "MNQH2026", "MNQH6", "MNQH6", "CME"),
    (date(2025, 12, 1), "NQZ2025", "NQZ5", "NQZ5", "CME"),
    (date(2025, 12, 1), "NQ1!", "NQZ5", "NQZ5", "CME"),
]


@pytest.mark.parametrize(("today", "ticker", "tradovate", "_rithmic", "_exchange"), FUTURES_TABLE)
async def test_tradovate_symbols(
    make_broker: MakeBroker, today: date, ticker: str, tradovate: str, _rithmic: str,
    _exchange: str,
) -> None:
    instrument = await make_broker(TradovateBroker, today).resolve(normalize(ticker))
    assert instrument.symbol == tradovate


@pytest.mark.parametrize(("today", "ticker", "_tradovate", "rithmic", "exchange"), FUTURES_TABLE)
async def test_rithmic_symbols(
    make_broker: MakeBroker, today: date, ticker: str, _tradovate: str, rithmic: str,
    exchange: str,
) -> None:
    instrument = await make_broker(RithmicBroker, today).resolve(normalize(ticker))
    assert (instrument.symbol, instrument.venue["exchange"]) == (rithmic, exchange)


# ProjectX contracts come from Contract/search: test_projectx_symbols.py, against its fake.


async def test_instrument_carries_spec_and_expiry(make_broker: MakeBroker) -> None:
    instrument = await make_broker(TradovateBroker, LATE_DECEMBER).resolve(normalize("NQ1!"))
    assert instrument.kind is InstrumentKind.FUTURE
    assert instrument.tick_size == Decimal("0.25")
    assert instrument.lot_size == Decimal(1)
    assert instrument.contract_size == Decimal(20)
    assert instrument.expiry == date(2026, 3, 20)
    assert (instrument.base, instrument.quote) == ("NQ", "USD")
    assert instrument.venue["tradingview"] == "NQH2026"
    assert instrument.venue["roll_date"] == "2026-03-12"

    crude = await make_broker(RithmicBroker, LATE_DECEMBER).resolve(normalize("MCL1!"))
    assert (crude.tick_size, crude.contract_size) == (Decimal("0.01"), Decimal(100))
    assert crude.expiry == date(2026, 1, 16)  # four business days before Fri 23 January


async def test_configured_roll_days_change_the_front_month(make_broker: MakeBroker) -> None:
    today = date(2025, 12, 12)  # after the usual 11 December roll, before expiry on the 19th
    default = make_broker(TradovateBroker, today)
    late_roller = make_broker(TradovateBroker, today, roll_days_before_expiry=2)
    assert (await default.resolve(normalize("NQ1!"))).symbol == "NQH6"
    assert (await late_roller.resolve(normalize("NQ1!"))).symbol == "NQZ5"


@pytest.mark.parametrize("cls", [TradovateBroker, RithmicBroker])
@pytest.mark.parametrize("ticker", ["ZZ1!", "CME:QQQH2026", "AAPL", "BTCUSD.P"])
async def test_unknown_symbol_names_symbol_and_venue(
    make_broker: MakeBroker, cls: type, ticker: str
) -> None:
    with pytest.raises(UnknownSymbol) as caught:
        await make_broker(cls, MAY).resolve(normalize(ticker))
    message = str(caught.value)
    assert message.startswith(f"{cls.name}: ")
    assert repr(normalize(ticker).raw) in message
    assert caught.value.from_venue is False


async def test_unknown_root_lists_known_roots(make_broker: MakeBroker) -> None:
    with pytest.raises(UnknownSymbol, match=r"root 'ZZ'.*known roots: 6E, CL, ES"):
        await make_broker(TradovateBroker, MAY).resolve(normalize("ZZ1!"))


@pytest.mark.parametrize("cls", [TradovateBroker, RithmicBroker])
async def test_expired_contract_is_refused(make_broker: MakeBroker, cls: type) -> None:
    with pytest.raises(UnknownSymbol, match=r"'NQZ2025' expired on 2025-12-19"):
        await make_broker(cls, LATE_DECEMBER).resolve(normalize("NQZ2025"))


# ---- forex / CFD venues: names are real, instrument details need the venue ----

CFD_TABLE = [
    ("FX:EURUSD", "EURUSD"),
    ("OANDA:GBPJPY", "GBPJPY"),
    ("EUR/USD", "EURUSD"),
    ("XAUUSD", "XAUUSD"),
    ("US30", "US30"),
    ("KRAKEN:XBTUSD", "BTCUSD"),
]


@pytest.mark.parametrize("cls", [TradeLockerBroker, MatchTraderBroker])
@pytest.mark.parametrize(("ticker", "name"), CFD_TABLE)
def test_cfd_instrument_names(make_broker: MakeBroker, cls: type, ticker: str, name: str) -> None:
    assert make_broker(cls).instrument_name(normalize(ticker)) == name


@pytest.mark.parametrize("cls", [TradeLockerBroker, MatchTraderBroker])
def test_cfd_symbol_overrides(make_broker: MakeBroker, cls: type) -> None:
    broker = make_broker(cls, symbol_overrides={"EURUSD": "EURUSD.pro", "NQ1!": "NAS100"})
    assert broker.instrument_name(normalize("FX:EURUSD")) == "EURUSD.pro"
    assert broker.instrument_name(normalize("NQ1!")) == "NAS100"


@pytest.mark.parametrize("cls", [TradeLockerBroker, MatchTraderBroker])
@pytest.mark.parametrize("ticker", ["NQ1!", "NQM2025", "BTCUSD.P"])
async def test_cfd_venues_refuse_undocumented_futures_names(
    make_broker: MakeBroker, cls: type, ticker: str
) -> None:
    with pytest.raises(UnknownSymbol) as caught:
        await make_broker(cls).resolve(normalize(ticker))
    assert str(caught.value).startswith(f"{cls.name}: {ticker!r} is a ")
    assert "not documented" in str(caught.value)


@pytest.mark.parametrize("cls", [MatchTraderBroker])  # TradeLocker reads its instrument list
async def test_cfd_resolve_names_the_instrument_and_refuses_to_guess_sizes(
    make_broker: MakeBroker, cls: type
) -> None:
    with pytest.raises(NotSupported) as caught:
        await make_broker(cls).resolve(normalize("FX:EURUSD"))
    assert str(caught.value).startswith(
        f"{cls.name}: reading instrument EURUSD (its id, lot and tick size) from the "
        "account's instrument list is not implemented yet (stub)"
    )
    assert caught.value.from_venue is False


async def test_short_years_are_read_by_the_brokers_clock(make_broker: MakeBroker) -> None:
    # The core expands "NQM5" by the system clock; the broker re-reads it by its own.
    later = make_broker(TradovateBroker, date(2034, 1, 2))
    assert (await later.resolve(normalize("NQM5"))).expiry == date(2035, 6, 15)
