"""Property tests: volumes and prices go out plainly, on the pair's steps, or not at all."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st
from router_kraken_spot.orders import build_add_order
from router_kraken_spot.testing import make_order

from router_core import Instrument, InstrumentKind, InvalidOrder, OrderType

BTC = Instrument(
    symbol="XXBTZUSD", base="BTC", quote="USD", kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.1"), lot_size=Decimal("0.00000001"), min_quantity=Decimal("0.0001"),
    min_notional=Decimal("0.5"),
    venue=MappingProxyType({"altname": "XBTUSD", "pair_decimals": 1, "lot_decimals": 8,
                            "cost_decimals": 5, "leverage_buy": (2,), "leverage_sell": (2,)}),
)

quantities = st.decimals(min_value=Decimal("1E-12"), max_value=Decimal("1E+6"),
                         allow_nan=False, allow_infinity=False, places=12)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1E+7"), allow_nan=False,
                     allow_infinity=False, places=3)


@settings(max_examples=300, deadline=None)
@given(quantity=quantities, price=prices)
def test_sent_or_denied_never_off_step(quantity: Decimal, price: Decimal) -> None:
    order = make_order(BTC, quantity=quantity, order_type=OrderType.LIMIT, limit_price=price)
    try:
        fields = dict(build_add_order(order, margin=False, validate_only=False).fields)
    except InvalidOrder as exc:
        assert exc.from_venue is False
        on_lot = quantity % BTC.lot_size == 0
        on_tick = price % BTC.tick_size == 0
        big_enough = quantity >= BTC.min_quantity and quantity * price >= BTC.min_notional
        assert not (on_lot and on_tick and big_enough), str(exc)
        return
    for key in ("volume", "price"):
        assert "E" not in fields[key] and "e" not in fields[key]
    assert Decimal(fields["volume"]) == quantity and Decimal(fields["price"]) == price
    assert Decimal(fields["volume"]) % BTC.lot_size == 0
    assert Decimal(fields["price"]) % BTC.tick_size == 0
    assert Decimal(fields["volume"]) >= BTC.min_quantity
    assert Decimal(fields["volume"]) * Decimal(fields["price"]) >= BTC.min_notional


@given(exponent=st.integers(min_value=-8, max_value=6))
def test_exponent_decimals_format_plainly(exponent: int) -> None:
    quantity = Decimal(1).scaleb(exponent)  # 1E-8 ... 1E+6
    order = make_order(BTC, quantity=quantity, order_type=OrderType.LIMIT,
                       limit_price=Decimal("1E+5"))
    try:
        fields = dict(build_add_order(order, margin=False, validate_only=False).fields)
    except InvalidOrder:
        assert quantity < BTC.min_quantity or quantity * Decimal("1E+5") < BTC.min_notional
        return
    assert fields["price"] == "100000"
    assert "E" not in fields["volume"] and Decimal(fields["volume"]) == quantity
