"""Tick rounding of limit and stop prices, and bracket prices from absolute or relative levels."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from router_core.models import Instrument, InstrumentKind, Side
from router_core.sizing import (
    BracketPrices,
    PriceTarget,
    SizingDenied,
    bracket_prices,
    round_price,
)

HALF = Instrument("PI_XBTUSD", "BTC", "USD", InstrumentKind.PERPETUAL, tick_size=D("0.5"),
                  lot_size=D(1), inverse=True)


@pytest.mark.parametrize(("price", "side", "purpose", "expected"), [
    ("100.3", Side.BUY, "limit", "100.0"),  # a buy never pays more than asked
    ("100.3", Side.SELL, "limit", "100.5"),  # a sell never takes less
    ("100.3", Side.BUY, "stop", "100.5"),  # a stop goes to the nearest tick
    ("100.2", Side.SELL, "stop", "100.0"),
    ("100.25", Side.SELL, "stop", "100.0"),  # half to even
    ("100.75", Side.SELL, "stop", "101.0"),
    ("100.5", Side.BUY, "limit", "100.5"),  # already on a tick
    ("100.5", Side.SELL, "limit", "100.5"),
    ("0.3", Side.SELL, "limit", "0.5"),
])
def test_round_price(price, side, purpose, expected):
    rounded = round_price(D(price), HALF, side, purpose=purpose)
    assert rounded == D(expected)
    assert rounded % HALF.tick_size == 0


@pytest.mark.parametrize(("price", "reason"), [
    ("0.2", "limit price 0.2 rounds to zero at the tick size 0.5 for PI_XBTUSD"),
    ("0", "limit price 0 for PI_XBTUSD must be a finite number above zero"),
    ("-3", "limit price -3 for PI_XBTUSD must be a finite number above zero"),
    ("NaN", "limit price NaN for PI_XBTUSD must be a finite number above zero"),
])
def test_round_price_denied(price, reason):
    with pytest.raises(SizingDenied) as caught:
        round_price(D(price), HALF, Side.BUY, purpose="limit")
    assert caught.value.reason == reason


def test_round_price_missing_is_denied():
    with pytest.raises(SizingDenied, match="limit price None for PI_XBTUSD"):
        round_price(None, HALF, Side.BUY, purpose="limit")


def test_round_price_unknown_purpose_is_a_bug():
    with pytest.raises(ValueError, match="purpose must be 'limit' or 'stop'"):
        round_price(D(1), HALF, Side.BUY, purpose="market")


ENTRY = D(100)


@pytest.mark.parametrize(("side", "tp", "sl", "expected_tp", "expected_sl"), [
    (Side.BUY, PriceTarget(price=D(110)), PriceTarget(price=D(95)), "110", "95"),
    # a long's take profit is a sell limit (rounds up); its stop goes to the nearest tick
    (Side.BUY, PriceTarget(amount=D("5.3")), PriceTarget(amount=D("3.2")), "105.5", "97"),
    (Side.BUY, PriceTarget(percent=D(10)), PriceTarget(percent=D("2.5")), "110", "97.5"),
    # a short's take profit is a buy limit (rounds down)
    (Side.SELL, PriceTarget(amount=D("5.3")), PriceTarget(amount=D("3.2")), "94.5", "103"),
    (Side.SELL, PriceTarget(percent=D(10)), PriceTarget(percent=D(5)), "90", "105"),
    (Side.SELL, PriceTarget(price=D("80.2")), PriceTarget(price=D("120.2")), "80", "120"),
    (Side.BUY, PriceTarget(percent=D(1)), None, "101", None),
    (Side.SELL, None, PriceTarget(amount=D(1)), None, "101"),
    (Side.BUY, None, None, None, None),
])
def test_bracket_prices(side, tp, sl, expected_tp, expected_sl):
    prices = bracket_prices(ENTRY, side, HALF, take_profit=tp, stop_loss=sl)
    assert prices == BracketPrices(
        take_profit=None if expected_tp is None else D(expected_tp),
        stop_loss=None if expected_sl is None else D(expected_sl),
    )


@pytest.mark.parametrize(("side", "tp", "sl", "reason"), [
    (Side.BUY, None, PriceTarget(percent=D(100)),
     "stop loss at 0 is at or below zero (entry price 100)"),
    (Side.BUY, None, PriceTarget(amount=D(150)),
     "stop loss at -50 is at or below zero (entry price 100)"),
    (Side.SELL, PriceTarget(amount=D(120)), None,
     "take profit at -20 is at or below zero (entry price 100)"),
    (Side.BUY, PriceTarget(price=D(90)), None,
     "take profit 90 is not above the entry price 100 (asked 90, tick 0.5 for PI_XBTUSD)"),
    (Side.SELL, None, PriceTarget(price=D(99)),
     "stop loss 99 is not above the entry price 100 (asked 99, tick 0.5 for PI_XBTUSD)"),
    (Side.BUY, None, PriceTarget(amount=D("0.1")),
     "stop loss 100 is not below the entry price 100 (asked 99.9, tick 0.5 for PI_XBTUSD)"),
    (Side.BUY, PriceTarget(price=D(110), percent=D(1)), None,
     "take profit needs exactly one of price, amount or percent, got price, percent"),
    (Side.BUY, None, PriceTarget(),
     "stop loss needs exactly one of price, amount or percent, got none"),
    (Side.BUY, PriceTarget(amount=D(0)), None,
     "take profit amount must be a finite number above zero, got 0"),
    (Side.BUY, None, PriceTarget(percent=D("-2")),
     "stop loss percent must be a finite number above zero, got -2"),
    (Side.BUY, None, PriceTarget(price=D("Infinity")),
     "stop loss price must be a finite number above zero, got Infinity"),
])
def test_bracket_prices_denied(side, tp, sl, reason):
    with pytest.raises(SizingDenied) as caught:
        bracket_prices(ENTRY, side, HALF, take_profit=tp, stop_loss=sl)
    assert caught.value.reason == reason


@pytest.mark.parametrize("entry", [None, D(0), D("NaN")])
def test_bracket_prices_need_an_entry(entry):
    with pytest.raises(SizingDenied, match="brackets need an entry price above zero"):
        bracket_prices(entry, Side.BUY, HALF, take_profit=PriceTarget(percent=D(1)))
