"""Rithmic (R | Protocol API): config, capabilities and symbols; orders are a stub.

Facts from prop-brokers.md: WebSocket + protobuf, four separately logged-in plants (ticker,
order, history, pnl); gateway URLs come only with Rithmic's dev kit; environments Test (before
app approval), Paper/Demo and Live; a conformance test is needed before live; the API "system
name" can differ from the firm's label (Tradeify -> ``tradesea``). Orders carry ``symbol`` +
``exchange`` (``ESM6`` + ``CME``) and a ``user_tag``; brackets go as ``target_ticks`` /
``stop_ticks`` of ``RequestBracketOrder``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field

from router_core import CanonicalSymbol, Capabilities, OrderType

from .futures import SPECS, Contract, FuturesConfig
from .settings import EnvName, WssUrl
from .stub import FuturesStub

# Rithmic names the listing exchange next to the symbol (CME, CBOT, NYMEX, COMEX); the
# exchange column of the shared root table is that name.
EXCHANGES: Mapping[str, str] = {root: spec.exchange for root, spec in SPECS.items()}


class RithmicConfig(FuturesConfig):
    """One Rithmic account. Secrets are named by environment variable."""

    environment: Literal["test", "paper", "live"] = "paper"
    gateway_url: WssUrl = Field(description="the gateway URL from Rithmic's dev kit (wss://...)")
    system_name: str = Field(
        min_length=1, max_length=100,
        description="the API system name, which can differ from the firm's label",
    )
    username_env: EnvName = "RITHMIC_USERNAME"
    password_env: EnvName = "RITHMIC_PASSWORD"  # noqa: S105 (a variable name)
    app_name: str = Field(min_length=1, max_length=100, description="the approved app name")
    app_version: str = Field(default="1.0", min_length=1, max_length=20)
    fcm_id: str | None = Field(default=None, max_length=100)
    ib_id: str | None = Field(default=None, max_length=100)
    account_id: str | None = Field(default=None, max_length=100)


class RithmicBroker(FuturesStub):
    """Rithmic, a stub: symbols resolve (``NQ1!`` -> ``NQM5`` on ``CME``), orders are not sent."""

    name: ClassVar[str] = "rithmic"
    Config: ClassVar[type[RithmicConfig]] = RithmicConfig
    config: RithmicConfig
    capabilities = Capabilities(
        # price and trigger_price exist; the price_type values are not documented here
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
        attached_brackets=True,  # RequestBracketOrder: target_ticks / stop_ticks
        can_short=True,
        net_position=True,
        single_order_flip=True,
        fractional=False,
        find_order=True,  # user_tag carries the client order id
    )

    def venue_symbol(self, contract: Contract, symbol: CanonicalSymbol) -> str:
        return contract.code(1)

    def venue_extras(self, contract: Contract, symbol: CanonicalSymbol) -> dict[str, object]:
        return {"exchange": EXCHANGES[contract.root]}
