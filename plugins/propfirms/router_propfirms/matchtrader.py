"""Match-Trader: config, capabilities and instrument names; everything else is a stub.

Facts from prop-brokers.md: the trader-side Platform API logs in with ``POST /manager/co-login``
``{email, password, brokerId}`` and then calls ``/mtr-api/{systemUuid}/...`` with an
``Auth-trading-api`` header and a ``co-auth`` cookie; sandbox host
``https://mtr-demo-prod.match-trader.com``, 500 requests per minute. Positions open at market
with ``POST .../position/open`` ``{instrument, orderSide, volume (lots), slPrice, tpPrice}``.
The newer Trader API (``https://trader-api.match-trader.com``) takes a scoped token the user
generates, when the broker enables it. Instruments are plain names such as ``EURUSD``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from router_core import Capabilities, OrderType

from .settings import CfdConfig, EnvName, HttpsUrl
from .stub import CfdStub

SANDBOX_URL = "https://mtr-demo-prod.match-trader.com"
TRADER_API_URL = "https://trader-api.match-trader.com"


class MatchTraderConfig(CfdConfig):
    """One Match-Trader account. Secrets are named by environment variable.

    ``api = "platform"`` logs in with email, password and broker id; ``api = "trader"`` uses a
    token generated under "API Access" (the broker must enable it). A production Platform API
    host belongs to the broker and must be given as ``base_url``.
    """

    api: Literal["platform", "trader"] = "platform"
    environment: Literal["sandbox", "prod"] = "sandbox"
    base_url: HttpsUrl | None = None
    email_env: EnvName = "MATCHTRADER_EMAIL"
    password_env: EnvName = "MATCHTRADER_PASSWORD"  # noqa: S105 (a variable name)
    broker_id: str | None = Field(default=None, min_length=1, max_length=100)
    trader_api_token_env: EnvName | None = None
    system_uuid: str | None = Field(default=None, max_length=100)
    trading_account_id: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _api_has_what_it_needs(self) -> MatchTraderConfig:
        if self.api == "platform":
            if not self.broker_id:
                raise ValueError("api 'platform' needs broker_id (sent with co-login)")
            if self.environment == "prod" and not self.base_url:
                raise ValueError("api 'platform' in prod needs base_url: the broker's host")
        elif not self.trader_api_token_env:
            raise ValueError("api 'trader' needs trader_api_token_env")
        return self

    @property
    def api_url(self) -> str:
        if self.base_url:
            return self.base_url
        return TRADER_API_URL if self.api == "trader" else SANDBOX_URL


class MatchTraderBroker(CfdStub):
    """Match-Trader, a stub: names instruments (``FX:EURUSD`` -> ``EURUSD``), sends nothing."""

    name: ClassVar[str] = "matchtrader"
    Config: ClassVar[type[MatchTraderConfig]] = MatchTraderConfig
    config: MatchTraderConfig
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET}),  # position/open is a market order
        attached_brackets=True,  # slPrice / tpPrice
        can_short=True,
        fractional=True,  # volume in lots
        cancel=False,  # positions are closed, there is no resting order to cancel
        find_order=False,  # a client tag is unconfirmed
    )
