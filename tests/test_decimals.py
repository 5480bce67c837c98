"""Decimal helpers: round down to a step, never exponent notation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router_core.decimals import (
    decimals_step,
    format_decimal,
    round_down,
    round_to_step,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+1"), "10"),
        (Decimal("1E-8"), "0.00000001"),
        (Decimal("0.50000"), "0.5"),
        (Decimal("-0"), "0"),
        (Decimal("37500"), "37500"),
        (Decimal("123.4500"), "123.45"),
    ],
)
def test_format_never_uses_exponent(value, expected):
    assert format_decimal(value) == expected


def test_format_truncates_to_max_decimals():
    assert format_decimal(Decimal("1.23456789"), 4) == "1.2345"


def test_negative_decimals_step():
    assert decimals_step(-2) == Decimal(100)
    assert round_down(Decimal(1234), decimals_step(-2)) == Decimal(1200)


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity", "abc", True, None, [1]])
def test_to_decimal_refuses_non_finite(bad):
    with pytest.raises(ValueError):
        to_decimal(bad, field="quantity")


@given(
    st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e9"), places=8),
    st.sampled_from(
        [
            Decimal("1"),
            Decimal("0.1"),
            Decimal("0.0001"),
            Decimal("0.00000001"),
            Decimal("5"),
            Decimal("0.25"),
            Decimal("100"),
        ]
    ),
)
def test_round_down_never_exceeds_and_is_a_multiple(value, step):
    rounded = round_down(value, step)
    assert rounded <= value
    assert rounded % step == 0
    assert value - rounded < step


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e7"), places=4),
    st.sampled_from(["nearest", "down", "up"]),
)
def test_round_to_step_is_a_multiple_of_the_tick(price, mode):
    tick = Decimal("0.5")
    assert round_to_step(price, tick, mode) % tick == 0
    assert "E" not in format_decimal(round_to_step(price, tick, mode))
