"""Kraken Futures rate budgets, tracked locally so the plugin waits instead of being refused.

``/derivatives``: 500 cost units per 10 s, refilling continuously. ``/api/history``: a separate
pool of 100 tokens refilling 100 per 10 minutes. Public endpoints cost nothing. Budgets are
shared by every account that uses the same API key (keyed by the key's fingerprint).
"""

from __future__ import annotations

from collections.abc import Mapping

from router_core import Clock, DecayingCounter, RateLimiterRegistry, key_fingerprint

DERIVATIVES_CAPACITY = 500.0
DERIVATIVES_PER_SECOND = 50.0
HISTORY_CAPACITY = 100.0
HISTORY_PER_SECOND = 100.0 / 600.0
# Seconds to hold every call on the key after Kraken said apiLimitExceeded / HTTP 429.
DERIVATIVES_PAUSE = 10.0
HISTORY_PAUSE = 600.0

# (method, endpoint) -> cost; the endpoint is the part after /derivatives/api/v3/.
DERIVATIVES_COST: dict[tuple[str, str], float] = {
    ("POST", "sendorder"): 10,
    ("POST", "editorder"): 10,
    ("POST", "cancelorder"): 10,
    ("GET", "accounts"): 2,
    ("GET", "openpositions"): 2,
    ("GET", "openorders"): 2,
    ("GET", "fills"): 2,
    ("POST", "cancelallorders"): 25,
    ("POST", "cancelallordersafter"): 25,
    ("POST", "orders/status"): 1,
    ("GET", "leveragepreferences"): 2,
    ("PUT", "leveragepreferences"): 10,
    ("GET", "pnlpreferences"): 2,
    ("PUT", "pnlpreferences"): 10,
}
DEFAULT_PRIVATE_COST = 10.0  # an endpoint we forgot to price is charged like an order

HISTORY_COST: dict[str, float] = {
    "orders": 1,
    "triggers": 1,
    "executions": 1,
    "accountlogcsv": 6,
    "account-log": 3,  # the default count of 500 costs 3
}


def derivatives_cost(
    method: str, endpoint: str, params: Mapping[str, object] | None = None
) -> float:
    if endpoint == "fills" and params and "lastFillTime" in params:
        return 25.0
    if endpoint == "batchorder":
        return 9.0 + float(str((params or {}).get("_instructions", 1)))
    return DERIVATIVES_COST.get((method, endpoint), DEFAULT_PRIVATE_COST)


def history_cost(endpoint: str) -> float:
    return HISTORY_COST.get(endpoint.rsplit("/", 1)[-1], 1.0)


def derivatives_budget(limiters: RateLimiterRegistry, api_key: str) -> DecayingCounter:
    def make(clock: Clock) -> DecayingCounter:
        return DecayingCounter(
            DERIVATIVES_CAPACITY, DERIVATIVES_PER_SECOND, clock=clock,
            name="kraken-futures derivatives",
        )

    return limiters.get(f"kraken-futures:{key_fingerprint(api_key)}:derivatives", make)


def history_budget(limiters: RateLimiterRegistry, api_key: str) -> DecayingCounter:
    def make(clock: Clock) -> DecayingCounter:
        return DecayingCounter(
            HISTORY_CAPACITY, HISTORY_PER_SECOND, clock=clock, name="kraken-futures history"
        )

    return limiters.get(f"kraken-futures:{key_fingerprint(api_key)}:history", make)
