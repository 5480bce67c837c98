"""Tradovate (NinjaTrader group): config, capabilities and symbols; orders are a stub.

Facts from prop-brokers.md: REST ``https://demo|live.tradovateapi.com/v1``, access token from
``POST /auth/accesstokenrequest`` with ``{name, password, appId, appVersion, cid, sec}``,
orders via ``POST /order/placeorder`` (``Market``/``Limit``/``Stop``, ``isAutomated: true``),
OSO brackets via ``placeOSO``. Symbols are root + month code + one-digit year: ``NQM5``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from router_core import CanonicalSymbol, Capabilities, OrderType

from .futures import Contract, FuturesConfig
from .settings import EnvName
from .stub import FuturesStub

REST_URLS = {
    "demo": "https://demo.tradovateapi.com/v1",
    "live": "https://live.tradovateapi.com/v1",
}


class TradovateConfig(FuturesConfig):
    """One Tradovate account. Secrets are named by environment variable."""

    environment: Literal["demo", "live"] = "demo"
    username_env: EnvName = "TRADOVATE_USERNAME"
    password_env: EnvName = "TRADOVATE_PASSWORD"  # noqa: S105 (a variable name)
    app_id: str = Field(min_length=1, max_length=100, description="appId of the registered app")
    app_version: str = Field(default="1.0", min_length=1, max_length=20)
    cid_env: EnvName = Field(default="TRADOVATE_CID", description="variable holding the API cid")
    sec_env: EnvName = Field(default="TRADOVATE_SEC", description="variable holding the API sec")
    account_spec: str | None = Field(
        default=None, max_length=100, description="accountSpec (account name) for orders"
    )
    account_id: int | None = Field(default=None, ge=1)

    @property
    def rest_url(self) -> str:
        return self.base_url or REST_URLS[self.environment]


class TradovateBroker(FuturesStub):
    """Tradovate, a stub: symbols resolve (``NQ1!`` -> ``NQM5``), orders are not sent yet."""

    name: ClassVar[str] = "tradovate"
    Config: ClassVar[type[TradovateConfig]] = TradovateConfig
    config: TradovateConfig
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        attached_brackets=True,  # placeOSO; its fields are not documented yet
        can_short=True,
        net_position=True,
        single_order_flip=True,
        fractional=False,
        # Whether an order can carry our own tag is unconfirmed, so it cannot be found by
        # client order id; an ambiguous outcome could not be resolved.
        find_order=False,
    )

    def venue_symbol(self, contract: Contract, symbol: CanonicalSymbol) -> str:
        return contract.code(1)
