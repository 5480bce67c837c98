"""Input dialects: each module turns one family of webhook bodies into the native alert dict.

Every dialect is a built-in pluggy plugin implementing ``router_parse_alert`` and naming itself
in ``DIALECT`` (the name the "not a recognised alert" message lists). This package holds the
few helpers they share.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticCustomError

from ..alert import field_name, parse_decimal
from ..errors import AlertError

PLACEHOLDER_REASON = "placeholder was not rendered by TradingView"


def check_rendered(value: Any, path: str = "") -> None:
    """Raise ``AlertError`` at the first string still holding a ``{{placeholder}}``."""
    if isinstance(value, str):
        if "{{" in value:
            raise AlertError(path or "body", PLACEHOLDER_REASON)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = field_name(key)
            check_rendered(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_rendered(item, f"{path}[{index}]")


def number(value: Any, field: str) -> Decimal:
    """A finite Decimal (any sign) from a JSON number or numeric string, else ``AlertError``."""
    try:
        return parse_decimal(value)
    except PydanticCustomError as exc:
        raise AlertError(field, exc.message()) from None


def word(value: Any, field: str) -> str:
    """A lower-case keyword such as ``buy`` or ``long``."""
    if not isinstance(value, str) or not value.strip():
        raise AlertError(field, f"expected a word such as buy or long, got {value!r:.40}")
    return value.strip().lower()


def first_of(data: Mapping[str, Any], *names: str) -> tuple[str | None, Any]:
    """The first of ``names`` present in ``data`` and its value; refuses two spellings at once."""
    present = [name for name in names if name in data]
    if len(present) > 1:
        raise AlertError(present[1], f"given twice, as {present[0]} and as {present[1]}")
    if not present:
        return None, None
    return present[0], data[present[0]]
