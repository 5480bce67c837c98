"""The fake's spot-margin model: leveraged orders net against open positions per pair."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from router_kraken_spot.fake import FakeVenue, KrakenAnswer

from router_core.testing import FakeClock

PAIR = "XXBTZUSD"  # last price 50000.0 in the fake's default state


@pytest.fixture
def venue(clock: FakeClock) -> FakeVenue:
    return FakeVenue(clock=clock)


def _add(venue: FakeVenue, side: str, volume: str, **extra: str) -> str:
    args = {"pair": PAIR, "type": side, "ordertype": "market", "volume": volume, **extra}
    (txid,) = venue._ep_AddOrder(args)["txid"]
    return txid


def _positions(venue: FakeVenue) -> list[tuple[str, D, D]]:
    """(side, vol, vol_closed) of each open position of PAIR, in the fake's order."""
    return [(p["type"], D(p["vol"]), D(p["vol_closed"]))
            for p in venue._ep_OpenPositions({}).values() if p["pair"] == PAIR]


def test_leveraged_sell_larger_than_long_closes_it_and_opens_the_rest_short(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    balances = dict(venue.account.balances)
    order = venue.orders[_add(venue, "sell", "0.5", leverage="2")]
    assert _positions(venue) == [("sell", D("0.3"), D(0))]
    assert order["status"] == "closed" and D(order["vol_exec"]) == D("0.5")
    assert venue.account.balances == balances  # margin trades leave cash alone


def test_leveraged_sell_smaller_than_long_reduces_it(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    _add(venue, "sell", "0.1", leverage="2")
    assert _positions(venue) == [("buy", D("0.2"), D("0.1"))]
    (position,) = venue.account.positions.values()
    # what is left open still carries its own opening cost, so TradeBalance's P&L stays right
    assert D(position["cost"]) == D("4800") and D(position["margin"]) == D("2400")


def test_closing_takes_the_oldest_position_first(venue, clock) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    clock.advance(60)
    venue.set_position(PAIR, "buy", "0.3", "49000")
    _add(venue, "sell", "0.4", leverage="2")
    assert _positions(venue) == [("buy", D("0.3"), D("0.2"))]


def test_same_side_leveraged_order_adds_a_position(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    _add(venue, "buy", "0.1", leverage="2")
    assert _positions(venue) == [("buy", D("0.2"), D(0)), ("buy", D("0.1"), D(0))]


def test_reduce_only_while_flat_is_refused(venue) -> None:
    with pytest.raises(KrakenAnswer) as refused:
        _add(venue, "sell", "0.1", leverage="2", reduce_only="true")
    assert refused.value.code == "EOrder:Reduce only:No position exists"
    assert venue.orders == {} and _positions(venue) == []


def test_reduce_only_needs_an_opposite_position(venue) -> None:
    venue.set_position(PAIR, "sell", "0.2", "52000")
    with pytest.raises(KrakenAnswer, match="No position exists"):
        _add(venue, "sell", "0.1", leverage="2", reduce_only="true")
    assert _positions(venue) == [("sell", D("0.2"), D(0))]


def test_reduce_only_larger_than_the_position_only_closes_it(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    order = venue.orders[_add(venue, "sell", "0.5", leverage="2", reduce_only="true")]
    assert _positions(venue) == []  # flat, no short
    assert D(order["vol"]) == D("0.5") and D(order["vol_exec"]) == D("0.2")
    assert D(order["cost"]) == D("10000") and order["misc"] == "partial"


def test_cash_sell_leaves_the_margin_position_alone(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    _add(venue, "sell", "0.5")
    assert _positions(venue) == [("buy", D("0.2"), D(0))]
    assert venue.account.balances["XXBT"] == D("1.5")
    assert venue.account.balances["ZUSD"] == D("125000")


def test_resting_leveraged_limit_nets_when_filled(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    txid = _add(venue, "sell", "0.5", ordertype="limit", price="60000", leverage="2")
    assert venue.orders[txid]["status"] == "open"
    assert _positions(venue) == [("buy", D("0.2"), D(0))]
    venue.fill(txid)
    assert _positions(venue) == [("sell", D("0.3"), D(0))]


def test_resting_reduce_only_limit_fills_at_most_the_position(venue) -> None:
    venue.set_position(PAIR, "buy", "0.2", "48000")
    txid = _add(venue, "sell", "0.5", ordertype="limit", price="60000", leverage="2",
                reduce_only="true")
    venue.fill(txid)
    order = venue.orders[txid]
    assert _positions(venue) == []
    assert order["status"] == "closed" and D(order["vol_exec"]) == D("0.2")


def test_resting_reduce_only_limit_without_a_position_left_is_canceled(venue) -> None:
    ptxid = venue.set_position(PAIR, "buy", "0.2", "48000")
    txid = _add(venue, "sell", "0.5", ordertype="limit", price="60000", leverage="2",
                reduce_only="true")
    del venue.account.positions[ptxid]  # closed elsewhere while the order rested
    venue.fill(txid)
    order = venue.orders[txid]
    assert _positions(venue) == []
    assert order["status"] == "canceled" and D(order["vol_exec"]) == 0
