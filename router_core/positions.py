"""The position the legs of an alert act on, and where it comes from.

One place answers "what does this account hold in this instrument":

* ``net`` and ``margin`` accounts: the venue's own net position, read before planning. A venue
  that cannot tell fails closed for that account (the broker raises; nothing is planned).
* ``cash`` accounts (a wallet, no shorts): what this router bought for the account and symbol
  and still holds, counted in the journal from its own fills, and never more than the free
  base balance the venue reports. The coins a user bought by hand, or another bot holds in the
  same wallet, are never sold. ``position_source = "venue_balance"`` opts an account into the
  whole free balance instead.

Before counting, the router's own resting orders on the symbol are looked up, so a limit buy
that filled since the last alert counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from .brokers import Broker
from .config import AccountConfig
from .decimals import format_decimal
from .errors import BrokerError, NotSupported
from .journal import Journal
from .models import AccountKind, Instrument, OrderResult, Position

log = logging.getLogger("router_core.positions")

VENUE_BALANCE = "venue_balance"


@dataclass(frozen=True, slots=True)
class PositionView:
    """The position the planner acts on, and a sentence saying where it comes from."""

    position: Position
    source: str


async def read_position(
    broker: Broker, account: AccountConfig, instrument: Instrument, journal: Journal
) -> PositionView:
    """The position for planning; raises BrokerError when the venue cannot tell it."""
    kind = broker.capabilities.kind
    venue = await broker.position(instrument)
    if kind is not AccountKind.CASH:
        return PositionView(venue, f"the venue's net position ({_fmt(venue.quantity)})")
    wallet = max(venue.quantity, Decimal(0))
    if account.position_source == VENUE_BALANCE:
        return PositionView(
            Position(instrument.symbol, wallet, venue.average_price),
            f"the whole free balance ({_fmt(wallet)}; position_source = venue_balance)",
        )
    await refresh_resting(broker, journal, account.name, instrument)
    held = max(journal.holdings(account.name, instrument.symbol), Decimal(0))
    quantity = min(held, wallet)
    source = f"what this router bought and holds ({_fmt(held)})"
    if held > wallet:
        source += f", capped at the free balance {_fmt(wallet)}"
    return PositionView(Position(instrument.symbol, quantity, venue.average_price), source)


async def refresh_resting(
    broker: Broker, journal: Journal, account: str, instrument: Instrument
) -> list[OrderResult]:
    """Look up the router's resting orders on the symbol and journal what changed (a fill
    counts into the holdings). Returns the orders still resting. A lookup that fails leaves
    the journal as it was: the order's last known outcome still stands."""
    resting = []
    for leg in journal.open_legs(account, instrument.symbol):
        try:
            found = await broker.find_order(leg.client_order_id, instrument)
        except NotSupported:
            return []
        except BrokerError as exc:
            log.warning("lookup of resting order %s failed: %s", leg.client_order_id, exc)
            continue
        if found is None:
            continue
        if found.to_dict() != leg.result:
            await journal.record_outcome_async(leg.client_order_id, found.to_dict())
        if found.status.value in ("accepted", "partially_filled"):
            resting.append(found)
    return resting


def _fmt(value: Decimal) -> str:
    return format_decimal(value)
