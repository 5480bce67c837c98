"""The journal's side of the orders a venue creates from the router's (conditional closes):
journaled as legs of the parent's alert, counted into the holdings once, never listed as the
router's resting orders, never counted as orders sent, asked about until settled."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core.journal import Journal
from router_core.models import OrderResult, OrderStatus

D = Decimal
SYMBOL = "XXBTZUSD"


@pytest.fixture
def journal(journal_location: Path | str) -> Journal:  # a SQLite file, then PostgreSQL
    journal = Journal(journal_location)
    journal.claim(alert_id="a1", delivery_key="d", intent_key="i", fingerprint="f",
                  alert={"ticker": "XBTUSD"}, peer=None, source="t")
    return journal


def _entry(journal: Journal, cid: str, venue_id: str | None, status: OrderStatus,
           filled: str | None, *, closes: list[str] | None = None) -> None:
    journal.record_intent(client_order_id=cid, alert_id="a1", account="acct", broker="b",
                          symbol=SYMBOL, purpose="open", side="buy", quantity="0.1",
                          notional=None, order={"ticker": "XBTUSD", "side": "buy"})
    result = OrderResult(status, cid, venue_id, quantity=D("0.1"),
                         filled_quantity=D(filled) if filled is not None else None)
    journal.record_outcome(cid, result.to_dict())


async def _mark(journal: Journal, cid: str, purposes: list[str]) -> None:
    await journal.note_venue_closes_async(cid, purposes)


async def _child(journal: Journal, venue_id: str, parent: str, status: OrderStatus,
                 filled: str) -> Decimal:
    cid = f"child-{venue_id}"
    result = OrderResult(status, cid, venue_id, quantity=D("0.1"), filled_quantity=D(filled),
                         parent_venue_order_id=parent)
    order: dict[str, Any] = {"ticker": "XBTUSD", "side": "sell", "purpose": "stop_loss",
                             "parent_venue_order_id": parent}
    return await journal.record_venue_child_async(
        client_order_id=cid, alert_id="a1", account="acct", broker="b", symbol=SYMBOL,
        purpose="stop_loss", side="sell", quantity="0.1", order=order, result=result.to_dict())


async def test_a_child_s_fill_counts_once_as_it_grows(journal: Journal) -> None:
    _entry(journal, "e1", "O1", OrderStatus.FILLED, "0.1")
    assert journal.holdings("acct", SYMBOL) == D("0.1")
    assert await _child(journal, "C1", "O1", OrderStatus.ACCEPTED, "0") == 0
    assert await _child(journal, "C1", "O1", OrderStatus.PARTIALLY_FILLED, "0.04") == D("0.04")
    assert journal.holdings("acct", SYMBOL) == D("0.06")
    assert await _child(journal, "C1", "O1", OrderStatus.PARTIALLY_FILLED, "0.04") == 0
    assert await _child(journal, "C1", "O1", OrderStatus.FILLED, "0.1") == D("0.06")
    assert await _child(journal, "C1", "O1", OrderStatus.FILLED, "0.1") == 0
    assert journal.holdings("acct", SYMBOL) == 0
    legs = journal.legs_for_alert("a1")
    assert [leg.client_order_id for leg in legs] == ["e1", "child-C1"]
    assert legs[1].status == "filled" and legs[1].purpose == "stop_loss"


async def test_a_child_is_neither_the_router_s_resting_order_nor_one_it_sent(
    journal: Journal,
) -> None:
    _entry(journal, "e1", "O1", OrderStatus.FILLED, "0.1")
    await _child(journal, "C1", "O1", OrderStatus.ACCEPTED, "0")
    assert journal.open_legs("acct", SYMBOL) == []  # never cancelled or looked up by its id
    assert journal.has_resting("acct", SYMBOL)  # but it rests
    assert journal.unresolved_legs() == []  # nothing to reconcile at start
    assert journal.legs_since("acct", 0, at_most=10) == 1  # the entry only
    assert journal.venue_order_ids("acct", SYMBOL) == {"O1", "C1"}


async def test_the_parents_asked_about_until_settled(journal: Journal) -> None:
    _entry(journal, "plain", "P0", OrderStatus.FILLED, "0.1")  # no close attached
    _entry(journal, "resting", "P1", OrderStatus.ACCEPTED, "0")
    _entry(journal, "filled", "P2", OrderStatus.FILLED, "0.1")
    _entry(journal, "unfilled", "P3", OrderStatus.CANCELED, "0")  # never executed
    _entry(journal, "partly", "P4", OrderStatus.CANCELED, "0.05")
    _entry(journal, "lost", None, OrderStatus.UNKNOWN, None)  # no venue id yet
    for cid in ("resting", "filled", "unfilled", "partly", "lost"):
        await _mark(journal, cid, ["stop_loss"])
    assert set(journal.venue_close_parents("acct", SYMBOL)) == {"P1", "P2", "P4"}

    await _child(journal, "C2", "P2", OrderStatus.ACCEPTED, "0")  # resting: may still fill
    assert set(journal.venue_close_parents("acct", SYMBOL)) == {"P1", "P2", "P4"}
    await _child(journal, "C2", "P2", OrderStatus.CANCELED, "0")
    await _child(journal, "C4", "P4", OrderStatus.FILLED, "0.05")
    assert set(journal.venue_close_parents("acct", SYMBOL)) == {"P1"}
    parent = journal.venue_close_parents("acct", SYMBOL)["P1"]
    assert parent.client_order_id == "resting" and parent.order["venue_closes"] == ["stop_loss"]
    assert journal.venue_close_parents("other", SYMBOL) == {}
