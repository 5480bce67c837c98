"""TradeLocker: config, capabilities and instrument names; everything else is a stub.

Facts from prop-brokers.md: REST ``https://demo|live.tradelocker.com/backend-api/``; JWT from
``POST /auth/jwt/token`` with ``{email, password, server}``; an ``accNum`` header on every
``/trade/*`` call; instruments are a numeric ``tradableInstrumentId`` plus a ``routeId`` from
``GET /trade/accounts/{accountId}/instruments``; orders ``POST /trade/accounts/{accountId}/
orders`` with type market/limit/stop, validity IOC (market) or GTC (limit, stop), optional
stop loss / take profit and a 31-character strategy tag.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from router_core import Capabilities, OrderType, TimeInForce

from .settings import CfdConfig, EnvName
from .stub import CfdStub

REST_URLS = {
    "demo": "https://demo.tradelocker.com/backend-api",
    "live": "https://live.tradelocker.com/backend-api",
}


class TradeLockerConfig(CfdConfig):
    """One TradeLocker account. Secrets are named by environment variable."""

    environment: Literal["demo", "live"] = "demo"
    email_env: EnvName = "TRADELOCKER_EMAIL"
    password_env: EnvName = "TRADELOCKER_PASSWORD"  # noqa: S105 (a variable name)
    server: str = Field(min_length=1, max_length=100, description="the firm's server name")
    account_id: int | None = Field(default=None, ge=1, description="accountId in /trade paths")
    acc_num: int | None = Field(
        default=None, ge=1, description="accNum header (from /auth/jwt/all-accounts)"
    )

    @property
    def rest_url(self) -> str:
        return self.base_url or REST_URLS[self.environment]


class TradeLockerBroker(CfdStub):
    """TradeLocker, a stub: names instruments (``FX:EURUSD`` -> ``EURUSD``), sends nothing."""

    name: ClassVar[str] = "tradelocker"
    Config: ClassVar[type[TradeLockerConfig]] = TradeLockerConfig
    config: TradeLockerConfig
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
        attached_brackets=True,  # stopLoss / takeProfit on the order
        can_short=True,
        fractional=True,  # qty in lots
        find_order=True,  # the strategy tag (31 characters) carries the client order id
    )
