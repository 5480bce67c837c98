"""JSON on the wire with Decimal numbers written as they are (never through float).

``json.dumps`` cannot write a Decimal as a number, and converting to float first could send a
price the venue reads differently from the one the router rounded. These venues take JSON
numbers, so a Decimal is written in plain notation (``21000.25``, never ``2.100025E+4``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    """``value`` as JSON text; Decimals as plain numbers, everything else as ``json.dumps``."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent as a JSON number")
        text = format(value, "f")
        return text if text not in ("-0", "0") else "0"
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key))}:{dumps(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return json.dumps(value)


def loads(content: bytes | str) -> Any:
    """JSON with every fractional number as Decimal."""
    return json.loads(content, parse_float=Decimal)
