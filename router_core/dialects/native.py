"""The native dialect: a JSON object already in alert-router's format (TradersPost field names).

Tried last. Any JSON object carrying ``ticker`` or ``action`` is taken as native, so a body
that misses one of them is answered with "action: required" rather than "not recognised".
"""

from __future__ import annotations

from typing import Any

from ..plugins import hookimpl

DIALECT = "native"


@hookimpl(trylast=True)
def router_parse_alert(data: Any) -> dict[str, Any] | None:
    if isinstance(data, dict) and ("ticker" in data or "action" in data):
        return dict(data)
    return None
