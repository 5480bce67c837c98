"""What ccxt's ``features`` claim for an exchange but the router must not send, and why.

``features`` says what ccxt can express; it does not say whether the request is an order the
router can find again by its client order id, or an order at all. The offline request tests
(tests/test_ccxt_requests.py) showed these cases; each is refused before sending, with the
reason, instead of being sent wrong.
"""

from __future__ import annotations

from router_core import OrderType, TimeInForce

_CONDITIONAL = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
                          OrderType.TAKE_PROFIT_LIMIT, OrderType.TRAILING_STOP})
_ALL_MARKETS = frozenset({"spot", "swap", "future"})
_DERIVATIVES = frozenset({"swap", "future"})

# (exchange, market types, order types, why they are refused)
_REFUSED: tuple[tuple[str, frozenset[str], frozenset[OrderType], str], ...] = (
    ("bybit", _ALL_MARKETS, frozenset({OrderType.TRAILING_STOP}),
     "ccxt sets the position's trailing stop (/v5/position/trading-stop) instead of placing "
     "an order with the router's client order id"),
    ("bybit", frozenset({"spot"}), _CONDITIONAL,
     "ccxt places them as spot conditional orders (orderFilter), which the look-up by client "
     "order id does not list"),
    ("binance", _DERIVATIVES, _CONDITIONAL,
     "ccxt sends them to the algo-order endpoint under clientAlgoId (or, for a trailing "
     "distance, as a plain market order), where the look-up by client order id does not reach"),
    ("okx", _ALL_MARKETS, _CONDITIONAL,
     "ccxt sends them to the algo-order endpoint (order-algo), where the look-up by client "
     "order id does not reach"),
)


def refused(exchange: str, market_type: str) -> dict[OrderType, str]:
    """The order types refused on ``exchange`` for ``market_type``, each with the reason."""
    out: dict[OrderType, str] = {}
    for name, markets, types, why in _REFUSED:
        if name == exchange and market_type in markets:
            for order_type in types:
                out.setdefault(order_type, why)
    return out


# (exchange, market types, times in force, why they are refused)
_REFUSED_TIME_IN_FORCE: tuple[tuple[str, frozenset[str], frozenset[TimeInForce], str], ...] = (
    ("kraken", frozenset({"spot"}), frozenset({TimeInForce.FOK}),
     "Kraken spot documents GTC, IOC and GTD for timeinforce; ccxt lists FOK, which the "
     "documented API (and the project's Kraken fake) refuses"),
    ("krakenfutures", _ALL_MARKETS, frozenset({TimeInForce.FOK}),
     "ccxt's krakenfutures has no way to send a fill-or-kill order: it would go out as a "
     "plain limit order"),
)

# Exchanges whose ccxt code reads a time in force only in its own spelling (the unified word
# is silently dropped and the order would rest as a plain limit order).
TIME_IN_FORCE_WORDS: dict[str, dict[TimeInForce, str]] = {
    "krakenfutures": {TimeInForce.IOC: "ioc"},
}


def refused_time_in_force(exchange: str, market_type: str) -> dict[TimeInForce, str]:
    """The times in force refused on ``exchange`` for ``market_type``, each with the reason."""
    out: dict[TimeInForce, str] = {}
    for name, markets, kinds, why in _REFUSED_TIME_IN_FORCE:
        if name == exchange and market_type in markets:
            for kind in kinds:
                out.setdefault(kind, why)
    return out
