"""Sizing: every quantity type on linear, inverse and contract_size != 1 instruments, the
minimum-size denials with their numbers, and fail-closed denials for missing inputs."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from router_core.models import Instrument, InstrumentKind, QuantityType
from router_core.sizing import SizingDenied, SizingRequest, size_quantity

Q = QuantityType

BTC_SPOT = Instrument("XBTUSD", "BTC", "USD", InstrumentKind.SPOT, tick_size=D("0.1"),
                      lot_size=D("0.0001"))
# linear, 0.01 ETH per contract, whole contracts
ETH_LINEAR = Instrument("PF_ETHUSD", "ETH", "USD", InstrumentKind.PERPETUAL, tick_size=D("0.05"),
                        lot_size=D(1), contract_size=D("0.01"))
# inverse, 1 USD per contract
BTC_INVERSE = Instrument("PI_XBTUSD", "BTC", "USD", InstrumentKind.PERPETUAL, tick_size=D("0.5"),
                         lot_size=D(1), inverse=True)
# inverse, 10 USD per contract
ETH_INVERSE = Instrument("PI_ETHUSD", "ETH", "USD", InstrumentKind.PERPETUAL, tick_size=D("0.05"),
                         lot_size=D(1), contract_size=D(10), inverse=True)


def request(qtype: QuantityType, quantity: str | None, price: str | None = None, *,
            stop: str | None = None, multiplier: str = "1", leverage: str | None = None,
            default: str | None = None) -> SizingRequest:
    return SizingRequest(
        quantity=None if quantity is None else D(quantity),
        quantity_type=qtype,
        price=None if price is None else D(price),
        stop_price=None if stop is None else D(stop),
        multiplier=D(multiplier),
        leverage=None if leverage is None else D(leverage),
        default_quantity=None if default is None else D(default),
    )


# (id, instrument, request, equity, position, expected quantity)
SIZED = [
    # linear spot, quantity in BTC, equity and amounts in USD
    ("spot-fixed", BTC_SPOT, request(Q.FIXED_QUANTITY, "0.12345"), None, None, "0.1234"),
    ("spot-fixed-multiplier", BTC_SPOT, request(Q.FIXED_QUANTITY, "0.12345", multiplier="2"),
     None, None, "0.2469"),
    ("spot-fixed-default", BTC_SPOT, request(Q.FIXED_QUANTITY, None, default="0.01"),
     None, None, "0.01"),
    ("spot-dollar", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "1000", "20000"), None, None, "0.05"),
    ("spot-dollar-rounds-down", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "1000", "30000"),
     None, None, "0.0333"),
    ("spot-equity", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10", "20000"),
     D(50000), None, "0.25"),
    ("spot-equity-leverage", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10", "20000", leverage="3"),
     D(50000), None, "0.75"),
    ("spot-position-short", BTC_SPOT, request(Q.PERCENT_OF_POSITION, "50"), None, D("-0.3"),
     "0.15"),
    ("spot-position-ignores-multiplier", BTC_SPOT,
     request(Q.PERCENT_OF_POSITION, "50", multiplier="3"), None, D("0.3"), "0.15"),
    ("spot-risk-percent", BTC_SPOT, request(Q.RISK_PERCENT, "1", "20000", stop="19000"),
     D(50000), None, "0.5"),
    ("spot-risk-dollar-short-stop", BTC_SPOT,
     request(Q.RISK_DOLLAR_AMOUNT, "250", "20000", stop="21000"), None, None, "0.25"),
    ("spot-risk-dollar-multiplier", BTC_SPOT,
     request(Q.RISK_DOLLAR_AMOUNT, "250", "20000", stop="21000", multiplier="0.5"),
     None, None, "0.125"),
    # linear, contract_size 0.01 ETH: one contract is worth 20 USD at 2000
    ("linear-cs-fixed", ETH_LINEAR, request(Q.FIXED_QUANTITY, "3.7"), None, None, "3"),
    ("linear-cs-dollar", ETH_LINEAR, request(Q.DOLLAR_AMOUNT, "1000", "2000"), None, None, "50"),
    ("linear-cs-equity", ETH_LINEAR,
     request(Q.PERCENT_OF_EQUITY, "10", "2000", leverage="2"), D(10000), None, "100"),
    ("linear-cs-position", ETH_LINEAR, request(Q.PERCENT_OF_POSITION, "25"), None, D(40), "10"),
    ("linear-cs-risk-percent", ETH_LINEAR, request(Q.RISK_PERCENT, "2", "2000", stop="1900"),
     D(10000), None, "200"),
    ("linear-cs-risk-dollar", ETH_LINEAR,
     request(Q.RISK_DOLLAR_AMOUNT, "150", "2000", stop="2050"), None, None, "300"),
    # inverse, 1 USD per contract; equity in BTC
    ("inverse-fixed", BTC_INVERSE, request(Q.FIXED_QUANTITY, "100.9"), None, None, "100"),
    ("inverse-dollar-needs-no-price", BTC_INVERSE, request(Q.DOLLAR_AMOUNT, "1000"),
     None, None, "1000"),
    ("inverse-equity", BTC_INVERSE,
     request(Q.PERCENT_OF_EQUITY, "10", "20000", leverage="2"), D("0.5"), None, "2000"),
    ("inverse-position", BTC_INVERSE, request(Q.PERCENT_OF_POSITION, "50"), None, D(3001),
     "1500"),
    # 1% of 1 BTC = 0.01 BTC; one contract loses 1000 / (20000 x 19000) BTC
    ("inverse-risk-percent", BTC_INVERSE, request(Q.RISK_PERCENT, "1", "20000", stop="19000"),
     D(1), None, "3800"),
    # 2000 contracts from 20000 to 19000 lose 0.0052631.. BTC = 100 USD at the stop
    ("inverse-risk-dollar", BTC_INVERSE,
     request(Q.RISK_DOLLAR_AMOUNT, "100", "20000", stop="19000"), None, None, "2000"),
    # inverse, 10 USD per contract; equity in ETH
    ("inverse-cs-fixed", ETH_INVERSE, request(Q.FIXED_QUANTITY, "7"), None, None, "7"),
    ("inverse-cs-dollar", ETH_INVERSE, request(Q.DOLLAR_AMOUNT, "1000", "2000"), None, None,
     "100"),
    ("inverse-cs-equity", ETH_INVERSE, request(Q.PERCENT_OF_EQUITY, "10", "2000"), D(2), None,
     "40"),
    ("inverse-cs-position", ETH_INVERSE, request(Q.PERCENT_OF_POSITION, "10"), None, D(-55),
     "5"),
    ("inverse-cs-risk-percent", ETH_INVERSE,
     request(Q.RISK_PERCENT, "1", "2000", stop="2100"), D(5), None, "210"),
    ("inverse-cs-risk-dollar", ETH_INVERSE,
     request(Q.RISK_DOLLAR_AMOUNT, "50", "2000", stop="1900"), None, None, "100"),
]


@pytest.mark.parametrize(("instrument", "req", "equity", "position", "expected"),
                         [row[1:] for row in SIZED], ids=[row[0] for row in SIZED])
def test_size_quantity(instrument, req, equity, position, expected):
    quantity = size_quantity(req, instrument, equity=equity, position=position)
    assert quantity == D(expected)
    assert quantity % instrument.lot_size == 0


def test_every_quantity_type_is_in_the_table():
    assert {row[2].quantity_type for row in SIZED} == set(QuantityType)


def test_inverse_risk_dollar_loses_the_amount_at_the_stop():
    quantity = size_quantity(request(Q.RISK_DOLLAR_AMOUNT, "100", "20000", stop="19000"),
                             BTC_INVERSE, equity=None, position=None)
    loss_in_btc = quantity * (1 / D(19000) - 1 / D(20000))
    assert abs(loss_in_btc * 19000 - 100) < D("0.000001")


BTC_MINIMUMS = Instrument("XBTUSD", "BTC", "USD", InstrumentKind.SPOT, tick_size=D("0.1"),
                          lot_size=D("0.00001"), min_quantity=D("0.0001"), min_notional=D(5))
ETH_MIN_NOTIONAL = Instrument("PF_ETHUSD", "ETH", "USD", InstrumentKind.PERPETUAL,
                              tick_size=D("0.05"), lot_size=D(1), contract_size=D("0.01"),
                              min_notional=D(50))
INVERSE_MIN_NOTIONAL = Instrument("PI_XBTUSD", "BTC", "USD", InstrumentKind.PERPETUAL,
                                  tick_size=D("0.5"), lot_size=D(1), inverse=True,
                                  min_notional=D(10))

# (id, instrument, request, equity, position, the exact reason)
DENIED = [
    ("below-min-quantity", BTC_MINIMUMS, request(Q.FIXED_QUANTITY, "0.00004", "20000"),
     None, None, "quantity 0.00004 is below the minimum 0.0001 for XBTUSD"),
    ("rounds-to-zero", BTC_SPOT, request(Q.FIXED_QUANTITY, "0.00004", "20000"), None, None,
     "quantity 0.00004 rounds down to zero at the lot size 0.0001 for XBTUSD"),
    ("dollar-rounds-to-zero", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "1", "30000"), None, None,
     "quantity 0.0000333333333333 rounds down to zero at the lot size 0.0001 for XBTUSD"),
    ("below-min-notional", BTC_MINIMUMS, request(Q.FIXED_QUANTITY, "0.0002", "20000"),
     None, None,
     "order value 4 USD (quantity 0.0002) is below the minimum 5 USD for XBTUSD"),
    ("below-min-notional-contract-size", ETH_MIN_NOTIONAL,
     request(Q.FIXED_QUANTITY, "2", "2000"), None, None,
     "order value 40 USD (quantity 2) is below the minimum 50 USD for PF_ETHUSD"),
    ("below-min-notional-inverse", INVERSE_MIN_NOTIONAL, request(Q.FIXED_QUANTITY, "5"),
     None, None, "order value 5 USD (quantity 5) is below the minimum 10 USD for PI_XBTUSD"),
    ("min-notional-needs-price", BTC_MINIMUMS, request(Q.FIXED_QUANTITY, "1"), None, None,
     "the minimum order value 5 USD for XBTUSD cannot be checked without a price"),
    ("dollar-missing-price", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "100"), None, None,
     "dollar_amount sizing needs a price, but it is missing"),
    ("dollar-nan-price", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "100", "NaN"), None, None,
     "dollar_amount sizing needs a price, but got NaN (it must be a finite number above zero)"),
    ("dollar-infinite-price", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "100", "Infinity"), None, None,
     "dollar_amount sizing needs a price, but got Infinity "
     "(it must be a finite number above zero)"),
    ("dollar-zero-price", BTC_SPOT, request(Q.DOLLAR_AMOUNT, "100", "0"), None, None,
     "dollar_amount sizing needs a price, but got 0 (it must be a finite number above zero)"),
    ("equity-missing", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10", "20000"), None, None,
     "percent_of_equity sizing needs the account equity, but it is missing"),
    ("equity-negative", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10", "20000"), D(-5), None,
     "percent_of_equity sizing needs the account equity, but got -5 "
     "(it must be a finite number above zero)"),
    ("equity-price-missing", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10"), D(1000), None,
     "percent_of_equity sizing needs a price, but it is missing"),
    ("inverse-equity-price-missing", BTC_INVERSE, request(Q.PERCENT_OF_EQUITY, "10"), D(1),
     None, "percent_of_equity sizing needs a price, but it is missing"),
    ("leverage-zero", BTC_SPOT, request(Q.PERCENT_OF_EQUITY, "10", "20000", leverage="0"),
     D(1000), None, "percent_of_equity sizing needs the leverage, but got 0 "
     "(it must be a finite number above zero)"),
    ("risk-percent-equity-missing", BTC_SPOT,
     request(Q.RISK_PERCENT, "1", "20000", stop="19000"), None, None,
     "risk_percent sizing needs the account equity, but it is missing"),
    ("risk-percent-stop-missing", BTC_SPOT, request(Q.RISK_PERCENT, "1", "20000"), D(1000),
     None, "risk_percent sizing needs a stop price (stopLoss.stopPrice), but it is missing"),
    ("risk-dollar-stop-missing", BTC_SPOT, request(Q.RISK_DOLLAR_AMOUNT, "100", "20000"),
     None, None,
     "risk_dollar_amount sizing needs a stop price (stopLoss.stopPrice), but it is missing"),
    ("risk-dollar-price-missing", BTC_SPOT, request(Q.RISK_DOLLAR_AMOUNT, "100", stop="19000"),
     None, None, "risk_dollar_amount sizing needs an entry price, but it is missing"),
    ("risk-zero-distance", BTC_SPOT, request(Q.RISK_DOLLAR_AMOUNT, "100", "20000", stop="20000"),
     None, None, "risk_dollar_amount sizing needs a stop distance, but the stop price 20000 "
     "equals the entry price 20000"),
    ("position-flat", BTC_SPOT, request(Q.PERCENT_OF_POSITION, "50"), None, D(0),
     "percent_of_position sizing: there is no position in XBTUSD to take 50% of"),
    ("position-unknown", BTC_SPOT, request(Q.PERCENT_OF_POSITION, "50"), None, None,
     "percent_of_position sizing needs the current position of XBTUSD, but it is unknown"),
    ("quantity-missing", BTC_SPOT, request(Q.FIXED_QUANTITY, None), None, None,
     "fixed_quantity sizing needs a quantity, but the alert has none and the account sets "
     "no default quantity"),
    ("quantity-negative", BTC_SPOT, request(Q.FIXED_QUANTITY, "-1"), None, None,
     "fixed_quantity sizing needs a positive quantity, but got -1 "
     "(it must be a finite number above zero)"),
    ("multiplier-zero", BTC_SPOT, request(Q.FIXED_QUANTITY, "1", multiplier="0"), None, None,
     "fixed_quantity sizing needs the account multiplier, but got 0 "
     "(it must be a finite number above zero)"),
    ("contract-size-zero", Instrument("BAD", "B", "USD", InstrumentKind.FUTURE, D(1), D(1),
                                      contract_size=D(0)),
     request(Q.DOLLAR_AMOUNT, "100", "10"), None, None,
     "dollar_amount sizing needs the contract size of BAD, but got 0 "
     "(it must be a finite number above zero)"),
]


@pytest.mark.parametrize(("instrument", "req", "equity", "position", "reason"),
                         [row[1:] for row in DENIED], ids=[row[0] for row in DENIED])
def test_size_quantity_denied(instrument, req, equity, position, reason):
    with pytest.raises(SizingDenied) as caught:
        size_quantity(req, instrument, equity=equity, position=position)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_minimums_pass_at_the_boundary():
    assert size_quantity(request(Q.FIXED_QUANTITY, "0.00025", "20000"), BTC_MINIMUMS,
                         equity=None, position=None) == D("0.00025")  # exactly 5 USD
    assert size_quantity(request(Q.FIXED_QUANTITY, "10"), INVERSE_MIN_NOTIONAL,
                         equity=None, position=None) == D(10)


def test_sizing_and_planning_stay_pure():
    """No pydantic, pluggy or HTTP client behind the pure steps (the hot path and start-up)."""
    import subprocess
    import sys

    code = ("import sys, router_core.sizing, router_core.planning; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'pluggy', 'httpx', 'stevedore')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("instrument", "currency", "expected"), [
    (BTC_SPOT, "USD", "USD"),
    (ETH_LINEAR, "usd", "USD"),
    (BTC_INVERSE, "BTC", "BTC"),
    (BTC_INVERSE, "XBT", "BTC"),  # the venue's spelling of the same coin
    (ETH_INVERSE, "ETH", "ETH"),
])
def test_equity_in_the_right_currency_is_accepted(instrument, currency, expected):
    from router_core.sizing import equity_currency

    assert equity_currency(instrument) == expected
    size_quantity(request(Q.PERCENT_OF_EQUITY, "10", "2000"), instrument, equity=D(1000),
                  position=None, equity_currency=currency)


@pytest.mark.parametrize(("instrument", "qtype", "currency", "reason"), [
    (BTC_INVERSE, Q.PERCENT_OF_EQUITY, "USD",
     "percent_of_equity sizing of PI_XBTUSD (an inverse contract) needs the equity in BTC, "
     "but the balance is in USD"),
    (BTC_SPOT, Q.RISK_PERCENT, "BTC",
     "risk_percent sizing of XBTUSD (a linear instrument) needs the equity in USD, "
     "but the balance is in BTC"),
])
def test_equity_in_another_currency_is_denied(instrument, qtype, currency, reason):
    with pytest.raises(SizingDenied) as caught:
        size_quantity(request(qtype, "1", "20000", stop="19000"), instrument, equity=D(1000),
                      position=None, equity_currency=currency)
    assert caught.value.reason == reason


def test_equity_currency_is_ignored_by_rules_without_equity():
    assert size_quantity(request(Q.FIXED_QUANTITY, "5"), BTC_INVERSE, equity=None,
                         position=None, equity_currency="USD") == D(5)
