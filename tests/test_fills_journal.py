"""Fills in the journal (migration 6), on SQLite and on PostgreSQL (``journal_location``):
once per trade id, each updating its leg and the holdings at once; foreign fills kept apart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from router_core.journal import Journal
from router_core.models import Fill, Side

D = Decimal


def _journal_with_leg(location: str | Path, quantity: str = "1") -> Journal:
    journal = Journal(location)
    journal.claim(alert_id="a1", delivery_key="d", intent_key="i", fingerprint="f",
                  alert={"ticker": "X"}, peer=None, source="t")
    journal.record_intent(client_order_id="c1", alert_id="a1", account="acct", broker="b",
                          symbol="XXBTZUSD", purpose="open", side="buy", quantity=quantity,
                          notional=None, order={})
    journal.record_outcome("c1", {"status": "accepted", "client_order_id": "c1",
                                  "venue_order_id": "O1"})
    return journal


def fill(trade: str, quantity: str, price: str, *, cid: str = "c1", order: str = "O1",
         fee: str = "0", at: float = 100.0) -> Fill:
    return Fill(trade_id=trade, venue_order_id=order, client_order_id=cid, symbol="XXBTZUSD",
                side=Side.BUY, quantity=D(quantity), price=D(price), fee=D(fee),
                fee_currency="ZUSD", time=at)


async def test_fills_update_the_leg_and_the_holdings_once_per_trade_id(journal_location):
    journal = _journal_with_leg(journal_location)
    first = await journal.record_fill_async("acct", fill("T1", "0.4", "100", fee="0.1"), "stream")
    assert first.new and first.client_order_id == "c1" and first.leg_status == "partially_filled"
    assert journal.holdings("acct", "XXBTZUSD") == D("0.4")
    again = await journal.record_fill_async("acct", fill("T1", "0.4", "100", fee="0.1"), "rest")
    assert not again.new  # the REST backfill meets the stream's fill: nothing changes
    second = await journal.record_fill_async("acct", fill("T2", "0.6", "110", fee="0.2",
                                                          at=101.0), "stream")
    assert second.leg_status == "filled"
    leg = journal.get_leg("c1")
    assert leg is not None and leg.status == "filled" and leg.result is not None
    assert D(leg.result["filled_quantity"]) == D(1)
    assert D(leg.result["average_price"]) == D(106)  # (0.4 * 100 + 0.6 * 110) / 1
    assert D(leg.result["fees"]) == D("0.3")
    assert leg.result["venue_order_id"] == "O1"
    assert journal.holdings("acct", "XXBTZUSD") == D(1)
    # a lookup later reporting the same fill does not count it again
    journal.record_outcome("c1", leg.result)
    assert journal.holdings("acct", "XXBTZUSD") == D(1)
    assert journal.last_fill_time("acct") == 101.0
    assert [f.trade_id for f in journal.fills("acct")] == ["T1", "T2"]
    journal.close()


async def test_a_fill_without_client_id_finds_its_leg_by_venue_order_id(journal_location):
    journal = _journal_with_leg(journal_location)
    outcome = await journal.record_fill_async("acct", fill("T1", "1", "100", cid=""), "rest")
    assert outcome.client_order_id == "c1" and outcome.leg_status == "filled"
    journal.close()


async def test_foreign_fills_are_kept_per_account_and_never_touch_a_leg(journal_location):
    journal = _journal_with_leg(journal_location)
    outcome = await journal.record_fill_async(
        "acct", fill("T9", "2", "50", cid="", order="O-other"), "stream")
    assert outcome.new and outcome.client_order_id is None
    leg = journal.get_leg("c1")
    assert leg is not None and leg.status == "accepted"
    assert journal.holdings("acct", "XXBTZUSD") == D(0)
    (kept,) = journal.fills("acct")
    assert kept.client_order_id is None and kept.quantity == D(2)
    # the same trade id on another account is another fill
    assert (await journal.record_fill_async("other", fill("T9", "2", "50", cid=""),
                                            "stream")).new
    assert journal.last_fill_time("nobody") is None
    journal.close()


async def test_the_dashboard_counts_a_streamed_legs_fills_one_by_one(journal_location):
    from router_core import journal_views

    journal = _journal_with_leg(journal_location)
    await journal.record_fill_async("acct", fill("T1", "0.4", "100", fee="0.1"), "stream")
    await journal.record_fill_async("acct", fill("T2", "0.6", "110", fee="0.2", at=101.0),
                                    "stream")
    scan = journal_views.fills(journal)
    assert [(f.time, f.quantity, f.price, f.fee) for f in scan.fills] == [
        (100.0, D("0.4"), D(100), D("0.1")), (101.0, D("0.6"), D(110), D("0.2"))]
    journal.close()
