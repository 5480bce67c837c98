"""The only Kraken spot endpoints this plugin may call, with their rate-limit costs.

An explicit allowlist: the client refuses any other path before signing or sending. It holds no
withdrawal, deposit, transfer or earn endpoint on purpose, so a leaked router cannot move funds
even if the key had that permission (it must not: see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Counter(StrEnum):
    PUBLIC = "public"  # per IP, not tracked here
    REST = "rest"  # the per-key REST call counter
    TRADING = "trading"  # the per-pair matching-engine counter


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    private: bool
    counter: Counter
    cost: int = 1  # REST counter points; trading costs are computed per call
    permission: str = ""

    @property
    def path(self) -> str:
        return f"/0/{'private' if self.private else 'public'}/{self.name}"


_QUERY = "Orders and trades: Query open orders & trades"
_ALL = (
    Endpoint("Time", False, Counter.PUBLIC),
    Endpoint("AssetPairs", False, Counter.PUBLIC),
    Endpoint("Ticker", False, Counter.PUBLIC),
    Endpoint("BalanceEx", True, Counter.REST, 1, "Funds: Query"),
    Endpoint("TradeBalance", True, Counter.REST, 1, _QUERY),
    Endpoint("OpenOrders", True, Counter.REST, 1, _QUERY),
    # history endpoints cost 2 points (Kraken counts ledger/trade history double)
    Endpoint("ClosedOrders", True, Counter.REST, 2,
             "Orders and trades: Query closed orders & trades"),
    Endpoint("OpenPositions", True, Counter.REST, 1, _QUERY),
    Endpoint("TradesHistory", True, Counter.REST, 2,
             "Orders and trades: Query closed orders & trades"),
    # the private WebSocket's token (the fill stream, stream.py)
    Endpoint("GetWebSocketsToken", True, Counter.REST, 1, "WebSocket interface: On"),
    Endpoint("AddOrder", True, Counter.TRADING, 0, "Orders and trades: Create & modify orders"),
    Endpoint("CancelOrder", True, Counter.TRADING, 0, "Orders and trades: Cancel & close orders"),
)

ENDPOINTS: dict[str, Endpoint] = {e.path: e for e in _ALL}


class EndpointNotAllowed(RuntimeError):
    """A call outside the allowlist; raised before anything is signed or sent."""


def endpoint(path: str) -> Endpoint:
    try:
        return ENDPOINTS[path]
    except KeyError:
        raise EndpointNotAllowed(
            f"{path} is not in the kraken-spot endpoint allowlist; refusing to send"
        ) from None


def permissions() -> list[str]:
    """The key permissions the allowed private endpoints need (for the README and tests)."""
    return sorted({e.permission for e in _ALL if e.private})


# Matching-engine (per pair) counter per verification tier: (threshold, decay per second).
TRADING_LIMITS: dict[str, tuple[float, float]] = {
    "starter": (60, 1.0),
    "intermediate": (125, 2.34),
    "pro": (180, 3.75),
}
# REST call counter per tier: (maximum, decay per second).
REST_LIMITS: dict[str, tuple[float, float]] = {
    "starter": (15, 0.33),
    "intermediate": (20, 0.5),
    "pro": (20, 1.0),
}

ADD_ORDER_COST = 1
# Cancelling an order costs more the younger it is: (age below seconds, points).
_CANCEL_COSTS = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def cancel_cost(age_seconds: float | None) -> int:
    """Trading-counter points of a cancel; an order of unknown age is charged the most."""
    if age_seconds is None:
        return _CANCEL_COSTS[0][1]
    for below, points in _CANCEL_COSTS:
        if age_seconds < below:
            return points
    return 0
