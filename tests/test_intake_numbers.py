"""The significant-digit limit holds at its edge whether a number comes as text (where a short
text skips counting digits: it cannot hold more than its length) or as a JSON number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic_core import PydanticCustomError

from router_core.alert import MAX_DIGITS, parse_decimal


@pytest.mark.parametrize("text", ["9" * MAX_DIGITS, "1." + "0" * (MAX_DIGITS - 2) + "1",
                                  "0." + "0" * 20 + "1" * 9, "1" + "0" * 29 + "e-29"])
def test_up_to_the_limit_passes_as_text_and_as_a_number(text: str) -> None:
    assert parse_decimal(text) == Decimal(text)
    assert parse_decimal(Decimal(text)) == Decimal(text)


@pytest.mark.parametrize("text", ["9" * (MAX_DIGITS + 1), "1." + "0" * (MAX_DIGITS - 1) + "1",
                                  "-" + "9" * (MAX_DIGITS + 1)])
def test_one_digit_more_is_refused_as_text_and_as_a_number(text: str) -> None:
    for value in (text, Decimal(text)):
        with pytest.raises(PydanticCustomError, match="significant digits"):
            parse_decimal(value)


@pytest.mark.parametrize("text", ["nan", "-Infinity", "inf"])
def test_a_non_finite_text_is_named_as_such(text: str) -> None:
    with pytest.raises(PydanticCustomError, match="finite"):
        parse_decimal(text)
