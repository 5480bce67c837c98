"""Property tests (reliability requirement 29): a sized quantity never exceeds the exact request
and is a multiple of the lot step; minimums hold; prices are multiples of the tick and never
worse than asked; brackets land on the right side of the entry.

The exact request is computed with fractions.Fraction, independently of Decimal's precision.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

from hypothesis import assume, given
from hypothesis import strategies as st

from router_core.models import Instrument, InstrumentKind, QuantityType, Side
from router_core.sizing import (
    PriceTarget,
    SizingDenied,
    SizingRequest,
    bracket_prices,
    round_price,
    size_quantity,
)

STEPS = st.sampled_from([D(1), D(5), D("0.25"), D("0.1"), D("0.001"), D("0.0001"),
                         D("0.00000001")])
CONTRACT_SIZES = st.sampled_from([D(1), D("0.01"), D("0.001"), D(5), D(10), D(50)])


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[D]:
    return st.decimals(min_value=D(low), max_value=D(high), places=places,
                       allow_nan=False, allow_infinity=False).filter(lambda value: value > 0)


AMOUNTS = decimals("0", "1000000", 8)
PRICES = decimals("0", "1000000", 6)
MULTIPLIERS = decimals("0", "100", 3)


def instrument(lot: D, contract_size: D = D(1), *, inverse: bool = False,
               min_quantity: D = D(0), min_notional: D = D(0)) -> Instrument:
    return Instrument("TEST", "B", "USD", InstrumentKind.PERPETUAL, tick_size=D("0.01"),
                      lot_size=lot, contract_size=contract_size, inverse=inverse,
                      min_quantity=min_quantity, min_notional=min_notional)


def check_rounding(request: SizingRequest, inst: Instrument, exact: F, **state) -> None:
    """The sized quantity is the largest lot multiple <= exact, or the sizing is denied."""
    try:
        quantity = size_quantity(request, inst, **state)
    except SizingDenied as denied:
        assert exact < F(inst.lot_size), denied.reason  # only "rounds to zero" is possible here
        return
    assert F(quantity) <= exact
    assert exact - F(quantity) < F(inst.lot_size)
    assert quantity % inst.lot_size == 0
    assert quantity > 0


@given(quantity=AMOUNTS, multiplier=MULTIPLIERS, lot=STEPS)
def test_fixed_quantity(quantity, multiplier, lot):
    request = SizingRequest(quantity, QuantityType.FIXED_QUANTITY, None, multiplier=multiplier)
    check_rounding(request, instrument(lot), F(quantity) * F(multiplier),
                   equity=None, position=None)


@given(amount=AMOUNTS, price=PRICES, multiplier=MULTIPLIERS, lot=STEPS,
       contract_size=CONTRACT_SIZES, inverse=st.booleans())
def test_dollar_amount(amount, price, multiplier, lot, contract_size, inverse):
    request = SizingRequest(amount, QuantityType.DOLLAR_AMOUNT, price, multiplier=multiplier)
    exact = F(amount) * F(multiplier) / F(contract_size)
    if not inverse:
        exact /= F(price)
    check_rounding(request, instrument(lot, contract_size, inverse=inverse), exact,
                   equity=None, position=None)


@given(percent=decimals("0", "100", 2), equity=AMOUNTS, price=PRICES,
       leverage=st.none() | decimals("0", "50", 1), lot=STEPS, contract_size=CONTRACT_SIZES,
       inverse=st.booleans())
def test_percent_of_equity(percent, equity, price, leverage, lot, contract_size, inverse):
    request = SizingRequest(percent, QuantityType.PERCENT_OF_EQUITY, price, leverage=leverage)
    stake = F(equity) * F(percent) / 100 * F(leverage if leverage is not None else 1)
    exact = stake * F(price) / F(contract_size) if inverse else stake / (
        F(price) * F(contract_size))
    check_rounding(request, instrument(lot, contract_size, inverse=inverse), exact,
                   equity=equity, position=None)


@given(percent=decimals("0", "100", 2), equity=AMOUNTS, price=PRICES, stop=PRICES,
       lot=STEPS, contract_size=CONTRACT_SIZES, inverse=st.booleans(), in_dollars=st.booleans())
def test_risk_types(percent, equity, price, stop, lot, contract_size, inverse, in_dollars):
    assume(price != stop)
    qtype = QuantityType.RISK_DOLLAR_AMOUNT if in_dollars else QuantityType.RISK_PERCENT
    amount = equity if in_dollars else percent
    request = SizingRequest(amount, qtype, price, stop_price=stop)
    risk = F(equity) if in_dollars else F(equity) * F(percent) / 100
    distance = abs(F(price) - F(stop))
    if not inverse:
        exact = risk / (distance * F(contract_size))
    else:  # a contract loses contract_size * |1/price - 1/stop| base units
        if in_dollars:
            risk /= F(stop)
        exact = risk / (F(contract_size) * abs(1 / F(price) - 1 / F(stop)))
    check_rounding(request, instrument(lot, contract_size, inverse=inverse), exact,
                   equity=equity, position=None)


@given(percent=decimals("0", "200", 2), position=AMOUNTS | AMOUNTS.map(lambda value: -value),
       lot=STEPS, multiplier=MULTIPLIERS)
def test_percent_of_position(percent, position, lot, multiplier):
    request = SizingRequest(percent, QuantityType.PERCENT_OF_POSITION, None,
                            multiplier=multiplier)
    check_rounding(request, instrument(lot), abs(F(position)) * F(percent) / 100,
                   equity=None, position=position)


@given(quantity=AMOUNTS, price=PRICES, lot=STEPS, contract_size=CONTRACT_SIZES,
       min_quantity=decimals("0", "10", 4), min_notional=decimals("0", "1000", 2))
def test_minimums_hold_or_deny(quantity, price, lot, contract_size, min_quantity, min_notional):
    inst = instrument(lot, contract_size, min_quantity=min_quantity, min_notional=min_notional)
    request = SizingRequest(quantity, QuantityType.FIXED_QUANTITY, price)
    try:
        sized = size_quantity(request, inst, equity=None, position=None)
    except SizingDenied as denied:
        rounded = (quantity / lot).to_integral_value(rounding="ROUND_DOWN") * lot
        assert (rounded == 0 or rounded < min_quantity
                or rounded * price * contract_size < min_notional), denied.reason
        assert "TEST" in denied.reason
        return
    assert sized >= min_quantity
    assert sized * price * contract_size >= min_notional


TICKS = st.sampled_from([D("0.01"), D("0.5"), D("0.25"), D(1), D(5), D("0.00001")])


@given(price=PRICES, tick=TICKS, side=st.sampled_from(Side))
def test_round_price_is_a_tick_multiple_never_worse(price, tick, side):
    inst = Instrument("TEST", "B", "USD", InstrumentKind.SPOT, tick_size=tick, lot_size=D(1))
    try:
        limit = round_price(price, inst, side, purpose="limit")
    except SizingDenied:
        assert side is Side.BUY and price < tick
        return
    # exactly half a tick rounds (half to even) to zero, which is refused
    stop = round_price(price, inst, side, purpose="stop") if price > tick / 2 else None
    assert limit % tick == 0
    assert abs(limit - price) < tick
    assert (limit <= price) if side is Side.BUY else (limit >= price)
    if stop is not None:
        assert stop % tick == 0
        assert abs(stop - price) <= tick / 2


@given(entry=decimals("1", "100000", 2), tick=TICKS, side=st.sampled_from(Side),
       tp=decimals("0", "50", 2), sl=decimals("0", "50", 2))
def test_brackets_sit_on_the_right_side(entry, tick, side, tp, sl):
    inst = Instrument("TEST", "B", "USD", InstrumentKind.SPOT, tick_size=tick, lot_size=D(1))
    try:
        prices = bracket_prices(entry, side, inst, take_profit=PriceTarget(percent=tp),
                                stop_loss=PriceTarget(percent=sl))
    except SizingDenied as denied:
        assert "entry price" in denied.reason or "zero" in denied.reason
        return
    direction = 1 if side is Side.BUY else -1
    assert prices.take_profit % tick == 0 and prices.stop_loss % tick == 0
    assert (prices.take_profit - entry) * direction > 0
    assert (prices.stop_loss - entry) * direction < 0
    assert prices.stop_loss > 0
