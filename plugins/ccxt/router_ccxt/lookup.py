"""How an order is found again by its client order id, per exchange, through ccxt.

After a lost answer the core asks for the order by its client order id before anything is sent
again. ccxt has no one call for that on every exchange, so this table names, per exchange, the
unified calls that can answer and the parameter that filters by the id. Every answer is also
filtered here by the id, so a call that ignores the filter still never returns another order.
An exchange missing from the table is searched through its open and closed orders of the
symbol (where ccxt has both calls), which sees only as far back as those lists reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (ccxt method, the parameter carrying the id, or None to filter the answer only)
Lookup = tuple[str, str | None]

LOOKUPS: dict[str, tuple[Lookup, ...]] = {
    # OpenOrders / ClosedOrders filtered by cl_ord_id
    "kraken": (("fetch_open_orders", "clientOrderId"), ("fetch_closed_orders", "clientOrderId")),
    # orders/status by cliOrdIds (open orders, and closed ones for a few seconds)
    "krakenfutures": (("fetch_orders", "cliOrdIds"),),
    # GET /api/v3/order (spot) or /fapi/v1/order by origClientOrderId
    "binance": (("fetch_order", "clientOrderId"),),
    # GET /api/v5/trade/order by clOrdId
    "okx": (("fetch_order", "clientOrderId"),),
    # /v5/order/realtime and /v5/order/history by orderLinkId
    "bybit": (("fetch_open_orders", "orderLinkId"), ("fetch_closed_orders", "orderLinkId")),
}
DEFAULT: tuple[Lookup, ...] = (("fetch_open_orders", None), ("fetch_closed_orders", None))


def lookups(exchange: str) -> tuple[Lookup, ...]:
    """The calls that look an order up by client order id on ``exchange``."""
    return LOOKUPS.get(exchange, DEFAULT)


def finds_orders(exchange: str, has: Mapping[str, Any]) -> bool:
    """Whether orders can be found by client order id on ``exchange`` at all."""
    if exchange in LOOKUPS:
        return True
    return bool(has.get("fetchOpenOrders")) and bool(has.get("fetchClosedOrders"))
