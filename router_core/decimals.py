"""Decimal helpers shared by the core and every venue plugin.

Quantities round *down* to the lot step (never send more than asked); prices round to the tick
in the direction that does not worsen the order unless told otherwise. Formatting never uses
exponent notation, which venues reject ("1E+1", "1E-8").
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Decimal,
    InvalidOperation,
)

ZERO = Decimal(0)


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Decimal from str, int or Decimal (floats via their shortest repr); finite only."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, got a boolean")
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{field}: {value!r} is not a number") from None
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise ValueError(f"{field}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of ``step`` that is <= ``value`` in magnitude (toward zero)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


_ROUNDING = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}


def round_to_step(value: Decimal, step: Decimal, mode: str = "nearest") -> Decimal:
    """Round to a multiple of ``step``: ``nearest`` (half even), ``down`` or ``up``."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=_ROUNDING[mode]) * step


def decimals_step(decimals: int) -> Decimal:
    """The step for a count of decimals; negative counts give steps of 10, 100, ..."""
    return Decimal(1).scaleb(-decimals)


def format_decimal(value: Decimal, max_decimals: int | None = None) -> str:
    """Plain notation without exponent or trailing zeros: ``Decimal("1E+1")`` -> ``"10"``."""
    if max_decimals is not None:
        value = value.quantize(decimals_step(max(max_decimals, 0)), rounding=ROUND_DOWN)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text
