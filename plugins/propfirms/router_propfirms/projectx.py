"""ProjectX Gateway API (TopstepX and other firms): config, capabilities, contract ids; a stub.

Facts from prop-brokers.md: ``POST /api/Auth/loginKey`` with ``{userName, apiKey}`` -> a JWT
(24 h); demo gateway ``https://gateway-api-demo.s2f.projectx.com``, TopstepX live
``https://api.topstepx.com`` [secondary]; contracts ``CON.F.US.<root>.<month><yy>`` with the
venue's own roots (NQ -> ``ENQ``); ``POST /api/Order/place`` with types Limit, Market, Stop,
TrailingStop, ``customTag`` unique per account, ``stopLossBracket`` / ``takeProfitBracket``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from router_core import CanonicalSymbol, Capabilities, OrderType, UnknownSymbol

from .futures import Contract, FuturesConfig
from .settings import EnvName, HttpsUrl
from .stub import FuturesStub

GATEWAYS: Mapping[str, str] = {
    "demo": "https://gateway-api-demo.s2f.projectx.com",
    "topstepx": "https://api.topstepx.com",
}

# ProjectX roots that prop-brokers.md confirms. Others must be looked up with
# /api/Contract/search and configured in ``root_overrides``; they are not guessed.
ROOTS: Mapping[str, str] = {
    "NQ": "ENQ",
    "MNQ": "MNQ",
}


RootName = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,6}$")]


class ProjectXConfig(FuturesConfig):
    """One ProjectX account. The API key is named by environment variable."""

    gateway: Literal["demo", "topstepx", "custom"] = Field(
        default="demo",
        description="demo gateway, TopstepX live, or 'custom' with base_url (another firm)",
    )
    base_url: HttpsUrl | None = None
    username_env: EnvName = "PROJECTX_USERNAME"
    api_key_env: EnvName = "PROJECTX_API_KEY"
    account_id: int | None = Field(default=None, ge=1)
    root_overrides: dict[RootName, RootName] = Field(
        default_factory=dict,
        description="TradingView root -> ProjectX contract root, for roots not built in",
    )

    @model_validator(mode="after")
    def _custom_gateway_has_url(self) -> ProjectXConfig:
        if self.gateway == "custom" and not self.base_url:
            raise ValueError("gateway 'custom' needs base_url: the firm's ProjectX API host")
        return self

    @property
    def gateway_url(self) -> str:
        return self.base_url or GATEWAYS[self.gateway]


class ProjectXBroker(FuturesStub):
    """ProjectX, a stub: ``NQ1!`` resolves to ``CON.F.US.ENQ.M25``-style ids; no orders yet."""

    name: ClassVar[str] = "projectx"
    Config: ClassVar[type[ProjectXConfig]] = ProjectXConfig
    config: ProjectXConfig
    capabilities = Capabilities(
        order_types=frozenset(
            {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP}
        ),
        # stopLossBracket / takeProfitBracket in ticks; only with "Auto OCO Brackets" [secondary]
        attached_brackets=True,
        can_short=True,
        net_position=True,
        single_order_flip=True,
        fractional=False,
        find_order=True,  # customTag is unique per account
    )

    def venue_root(self, contract: Contract, symbol: CanonicalSymbol) -> str:
        root = self.config.root_overrides.get(contract.root) or ROOTS.get(contract.root)
        if root is None:
            raise UnknownSymbol(
                f"projectx: {symbol.raw!r}: the ProjectX contract root for {contract.root} is "
                "not known; look it up with /api/Contract/search and set "
                f"root_overrides = {{{contract.root} = \"...\"}} on the account"
            )
        return root

    def venue_symbol(self, contract: Contract, symbol: CanonicalSymbol) -> str:
        root = self.venue_root(contract, symbol)
        return f"CON.F.US.{root}.{contract.month_code}{contract.year % 100:02d}"

    def venue_extras(self, contract: Contract, symbol: CanonicalSymbol) -> dict[str, object]:
        root = self.venue_root(contract, symbol)
        return {"contract_name": f"{root}{contract.month_code}{contract.year % 100:02d}"}
