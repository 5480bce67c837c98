"""What the five prop-firm stubs share: honest refusals for everything that needs the venue.

A stub reads its config and translates symbols; it never places, cancels or looks up an order
and never reports a balance or a position it has not read from the venue. Every refusal is a
``NotSupported`` raised before anything is sent (``from_venue=False``), so the core records a
*denial* with a message that says "stub".
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import date
from typing import ClassVar, NoReturn

from router_core import (
    Balance,
    Broker,
    CanonicalSymbol,
    Instrument,
    NotSupported,
    Order,
    OrderResult,
    Position,
)

from .futures import Contract, FuturesConfig, contract_for, futures_instrument, today_from
from .settings import CfdConfig, cfd_instrument_name

# What a venue still lacks before it can trade, said in each of its refusals (README, "What
# each stub lacks").
MISSING: dict[str, str] = {
    "rithmic": (
        "an R | Protocol client (WebSocket + protobuf, four logged-in plants with heartbeats), "
        "the gateway URLs and template ids of Rithmic's dev kit, and Rithmic's conformance "
        "test before live"
    ),
    "matchtrader": (
        "a Match-Trader client (co-login or Trader API token, /position/open and "
        "/position/close, the instrument list) and a documented client tag to find an order "
        "after a lost answer"
    ),
}


def not_implemented(venue: str, what: str) -> NoReturn:
    missing = MISSING.get(venue)
    needs = f"; missing: {missing}" if missing else ""
    raise NotSupported(f"{venue}: {what} is not implemented yet (stub){needs}",
                       from_venue=False)


class PropFirmStub(Broker):
    """Base of the prop-firm stubs: every venue call is refused with a stub message."""

    stub: ClassVar[bool] = True

    async def balance(self, currency: str | None = None) -> Balance:
        not_implemented(self.name, "reading the account balance")

    async def position(self, instrument: Instrument) -> Position:
        not_implemented(self.name, "reading positions")

    async def submit_order(self, order: Order) -> OrderResult:
        not_implemented(self.name, "order placement")

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        not_implemented(self.name, "order cancellation")

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        not_implemented(self.name, "order lookup")

    async def instruments(self) -> list[Instrument]:
        not_implemented(self.name, "listing the venue's instruments")


class FuturesStub(PropFirmStub):
    """A stub for a futures venue: resolves TradingView futures tickers from the shared table.

    A venue subclass says how it spells a contract (``venue_symbol``) and may add venue
    extras; the contract itself, its tick size, point value and expiry come from ``futures``.
    """

    config: FuturesConfig

    def today(self) -> date:
        return today_from(self.context.clock.time)

    def contract(self, symbol: CanonicalSymbol) -> Contract:
        return contract_for(
            symbol, self.name, today=self.today(),
            roll_days=self.config.roll_days_before_expiry,
        )

    @abstractmethod
    def venue_symbol(self, contract: Contract, symbol: CanonicalSymbol) -> str:
        """The venue's name for ``contract``."""

    def venue_extras(self, contract: Contract, symbol: CanonicalSymbol) -> dict[str, object]:
        return {}

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        contract = self.contract(symbol)
        extras: dict[str, object] = {"stub": True}
        extras.update(self.venue_extras(contract, symbol))
        return futures_instrument(
            contract, self.venue_symbol(contract, symbol),
            roll_days=self.config.roll_days_before_expiry, extras=extras,
        )


class CfdStub(PropFirmStub):
    """A stub for a forex/CFD venue whose instruments are plain names (``EURUSD``).

    The name translation is real; the instrument itself (the venue's id, lot and tick size)
    exists only in the account's instrument list, which a stub does not read, so ``resolve``
    names the instrument and refuses rather than guess sizes. Futures names are not documented
    for these venues and are refused as unknown.
    """

    config: CfdConfig

    def instrument_name(self, symbol: CanonicalSymbol) -> str:
        return cfd_instrument_name(self.name, self.config.symbol_overrides, symbol)

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        name = self.instrument_name(symbol)
        not_implemented(
            self.name,
            f"reading instrument {name} (its id, lot and tick size) from the account's "
            "instrument list",
        )
