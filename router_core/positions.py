"""The position the legs of an alert act on, and where it comes from.

One place answers "what does this account hold in this instrument":

* ``net`` and ``margin`` accounts: the venue's own net position, read before planning. A venue
  that cannot tell fails closed for that account (the broker raises; nothing is planned).
* ``cash`` accounts (a wallet, no shorts): what this router bought for the account and symbol
  and still holds, counted in the journal from its own fills, and never more than the free
  base balance the venue reports. The coins a user bought by hand, or another bot holds in the
  same wallet, are never sold. ``position_source = "venue_balance"`` opts an account into the
  whole free balance instead.

What the router's own resting sells (and the venue's resting closes of its orders) may still
sell is reported beside it (``promised``): a plan that leaves those orders resting may not
sell it again (``account_plan``). Before counting, the router's own resting
orders on the symbol are looked up, so a limit buy
that filled since the last alert counts; and so are the orders the venue placed by itself
from the router's orders (a conditional close Kraken places once the entry executes): each is
journaled as a leg of its parent's alert, so a stop that executed at the venue comes off what
the router holds, once, and the next exit does not sell the user's coins in its place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from .brokers import Broker
from .config import AccountConfig
from .decimals import format_decimal
from .errors import BrokerError, NotSupported
from .journal import Journal, LegRecord
from .models import AccountKind, Instrument, LegPurpose, OrderResult, OrderStatus, Position, Side
from .orders import uuid5_text

log = logging.getLogger("router_core.positions")

VENUE_BALANCE = "venue_balance"


@dataclass(frozen=True, slots=True)
class PositionView:
    """The position the planner acts on, and a sentence saying where it comes from."""

    position: Position
    source: str
    # cash: how much of the position the router's resting sells (and the venue's resting
    # closes of its orders) may still sell; a plan that leaves them resting must not sell it
    promised: Decimal = Decimal(0)


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
    counted = await count_venue_closes(broker, journal, account.name, instrument)
    held = max(journal.holdings(account.name, instrument.symbol), Decimal(0))
    # What resting sells of the router (and the venue's closes of its orders) may still sell
    # is not there to sell again: a partial sell beside a resting stop for the whole holding
    # would otherwise leave the stop to sell the user's coins. An exit cancels those orders
    # first and reads the position again, so it sells everything.
    # (nothing held: nothing promised, and no need to read the sells)
    promised = min(journal.resting_sells(account.name, instrument.symbol), held) if held \
        else Decimal(0)
    quantity = min(held, wallet)
    source = f"what this router bought and holds ({_fmt(held)})"
    if held > wallet:
        source += f", capped at the free balance {_fmt(wallet)}"
    if counted:
        source += "; counted now: " + "; ".join(counted)
    return PositionView(Position(instrument.symbol, quantity, venue.average_price), source,
                        promised)


async def refresh_resting(
    broker: Broker, journal: Journal, account: str, instrument: Instrument
) -> None:
    """Look up the router's resting orders on the symbol and journal what changed (a fill
    counts into the holdings). A lookup that fails leaves the journal as it was: the order's
    last known outcome still stands."""
    for leg in journal.open_legs(account, instrument.symbol):
        try:
            found = await broker.find_order(leg.client_order_id, instrument)
        except NotSupported:
            return
        except BrokerError as exc:
            log.warning("lookup of resting order %s failed: %s", leg.client_order_id, exc)
            continue
        outcome = found.to_dict() if found is not None else None
        if outcome is not None and outcome != leg.result:
            await journal.record_outcome_async(leg.client_order_id, outcome)


# Outcomes of an order the venue placed that say where it stands; any other (unknown, denied)
# says nothing about its fill and is not journaled.
_KNOWN = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                    OrderStatus.CANCELED})


async def count_venue_closes(
    broker: Broker, journal: Journal, account: str, instrument: Instrument
) -> list[str]:
    """Journal the orders the venue placed from the router's orders on the symbol (asked
    only while one may still change: see ``Journal.venue_close_parents``), each as a leg of
    its parent's alert with its latest outcome, so its fill counts into the holdings once.
    Returns a sentence for each whose fill was counted now.

    A broker that cannot list them (``NotSupported``) leaves the holdings as they are. Any
    other failure is raised: the router's coins may have been sold by such an order, and an
    exit that went ahead anyway could sell the user's in their place."""
    parents = journal.venue_close_parents(account, instrument.symbol)
    if not parents:
        return []
    try:
        children = await broker.child_orders(list(parents), instrument)
    except NotSupported:
        return []
    except BrokerError as exc:
        raise BrokerError(
            f"the orders {broker.name} placed by itself for this router's orders on "
            f"{instrument.symbol} (conditional closes) could not be listed, so what the router "
            f"still holds is not known; nothing sent: {exc}",
            venue_code=exc.venue_code, from_venue=exc.from_venue,
        ) from exc
    counted = []
    for side, child in children:
        parent = parents.get(child.parent_venue_order_id or "")
        if parent is None or not child.venue_order_id or child.status not in _KNOWN:
            continue  # not one of the asked orders' (the broker's filter is not trusted)
        delta = await _journal_child(broker, journal, parent, side, child)
        if delta:
            what = "sold" if side is Side.SELL else "bought"
            counted.append(
                f"its {_purpose(parent).value.replace('_', ' ')} {child.venue_order_id} "
                f"(placed by the venue for its order {child.parent_venue_order_id}) {what} "
                f"{_fmt(abs(delta))} at the venue"
            )
    return counted


async def _journal_child(
    broker: Broker, journal: Journal, parent: LegRecord, side: Side, child: OrderResult
) -> Decimal:
    venue_id = child.venue_order_id or ""
    cid = venue_child_order_id(parent.account, venue_id)
    purpose = _purpose(parent)
    placed = (f"{purpose.value.replace('_', ' ')} placed by the venue for the router's order "
              f"{child.parent_venue_order_id}")
    result = replace(child, client_order_id=cid,
                     reason=f"{placed}; {child.reason}" if child.reason else placed)
    order = {
        "ticker": parent.order.get("ticker"),
        "symbol": parent.symbol,
        "side": side.value,
        "quantity": _text(child.quantity),
        "order_type": None,  # the venue's own: its price is in the result
        "purpose": purpose.value,
        "limit_price": None,
        "stop_price": None,
        "reduce_only": False,
        "reference_price": None,
        "parent_venue_order_id": child.parent_venue_order_id,
        "parent_client_order_id": parent.client_order_id,
        "placed_by": "venue",
    }
    return await journal.record_venue_child_async(
        client_order_id=cid, alert_id=parent.alert_id, account=parent.account,
        broker=broker.name, symbol=parent.symbol, purpose=purpose.value, side=side.value,
        quantity=_text(child.quantity), order=order, result=result.to_dict(),
    )


def venue_child_order_id(account: str, venue_order_id: str) -> str:
    """The journal's client order id for an order the venue created (it has none of the
    router's): derived from its venue id, so the same order is journaled once. Never sent."""
    return uuid5_text(f"venue-child\x1f{account}\x1f{venue_order_id}")


def _purpose(parent: LegRecord) -> LegPurpose:
    """A venue close's purpose: the bracket its parent carried, when it carried one only."""
    purposes = parent.order.get("venue_closes") or []
    if len(purposes) == 1 and purposes[0] in (LegPurpose.TAKE_PROFIT, LegPurpose.STOP_LOSS):
        return LegPurpose(purposes[0])
    return LegPurpose.CLOSE


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _fmt(value: Decimal) -> str:
    return format_decimal(value)
