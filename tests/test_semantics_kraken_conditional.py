"""Kraken spot's conditional close, end to end: an exit takes the router's stop with it.

A take profit or stop loss on a Kraken spot entry goes out as a conditional close
(``close[ordertype]``). Once the entry executes, Kraken places the close as an order of its own
(opposite side, same volume, ``refid`` = the entry's txid) that the journal never saw. An exit
that sells what the router holds must cancel that close too, or it can later sell coins the
router no longer holds: the user's. Routed through the real ``Router`` to the Kraken spot fake,
as in ``test_semantics_kraken.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from router_kraken_spot.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKraken

from router_core import make_plugin_manager
from router_core.journal import ClaimOutcome
from router_core.models import ExecutionReport, LegPurpose, OrderResult, OrderStatus, Plan
from router_core.positions import venue_child_order_id
from router_core.router import Router
from router_core.testing import FakeClock

D = Decimal
WALLET = D("2")  # the fake's XXBT balance: the user's coins, never the router's to sell

TOML = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.spot]
broker = "kraken-spot"
base_url = "http://127.0.0.1"
{extra}
"""


@dataclass
class Spot:
    router: Router
    fake: FakeKraken

    async def route(self, **alert: Any) -> ExecutionReport:
        body = {"id": str(uuid.uuid4()), "ticker": "XBTUSD", "accounts": ["spot"], **alert}
        acceptance = self.router.accept(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW
        return await self.router.execute(acceptance.alert_id)

    @property
    def btc(self) -> Decimal:
        return self.fake.account.balances["XXBT"]

    @property
    def btc_held(self) -> Decimal:
        return self.fake.account.held.get("XXBT", D(0))

    def open_orders(self) -> dict[str, dict[str, Any]]:
        return {txid: o for txid, o in self.fake.orders.items() if o["status"] == "open"}

    def closes(self) -> dict[str, dict[str, Any]]:
        """Every conditional close the fake placed, whatever became of it."""
        return {txid: o for txid, o in self.fake.orders.items() if o["refid"]}

    def sells(self) -> list[dict[str, str]]:
        return [{k: v for k, v in c.fields.items() if k in ("type", "ordertype", "volume")}
                for c in self.fake.calls if c.method == "AddOrder"
                and c.fields.get("type") == "sell"]


MakeSpot = Callable[..., Awaitable[Spot]]


@pytest_asyncio.fixture
async def make_spot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MakeSpot]:
    monkeypatch.setenv("KRAKEN_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", FAKE_API_SECRET)
    routers: list[Router] = []

    async def build(extra: str = "") -> Spot:
        clock = FakeClock()
        fake = FakeKraken(clock=clock)
        path = tmp_path / f"spot-{len(routers)}.toml"
        path.write_text(TOML.format(state=tmp_path / f"state-{len(routers)}", extra=extra))
        router = Router.from_config_file(path, clock=clock, transport=fake.transport(),
                                         plugins=make_plugin_manager(["kraken-spot"]))
        routers.append(router)
        assert await router.start() == []
        return Spot(router, fake)

    yield build
    for router in routers:
        await router.close()


BRACKETS = {
    "stop loss": ({"stopLoss": {"stopPrice": "47000"}}, "stop-loss", "47000"),
    "take profit": ({"takeProfit": {"limitPrice": "55000"}}, "limit", "55000"),
}


async def _buy_with_bracket(s: Spot, bracket: str) -> tuple[str, str]:
    """The router buys 0.1 at market with a conditional close; returns (entry, close) txids."""
    fields, ordertype, price = BRACKETS[bracket]
    report = await s.route(action="buy", quantity="0.1", **fields)
    assert report.ok, report.to_dict()
    (entry_leg,) = report.legs
    entry = entry_leg.result.venue_order_id
    assert entry is not None and s.fake.orders[entry]["status"] == "closed"  # filled
    assert entry_leg.result.status is OrderStatus.FILLED  # the entry, not its close
    assert s.btc == WALLET + D("0.1")
    (close,) = s.closes()
    placed = s.fake.orders[close]
    assert placed["status"] == "open" and placed["refid"] == entry
    assert (placed["descr"]["type"], placed["descr"]["ordertype"], placed["descr"]["price"],
            D(placed["vol"])) == ("sell", ordertype, price, D("0.1"))
    assert s.btc_held == D("0.1")  # a resting sell on a cash account holds its coins
    return entry, close


@pytest.mark.parametrize("bracket", sorted(BRACKETS))
@pytest.mark.parametrize("action", ["exit", "sell"])
async def test_exit_cancels_the_conditional_close_and_sells_only_the_router_s_coins(
    make_spot: MakeSpot, bracket: str, action: str
) -> None:
    s = await make_spot()
    entry, close = await _buy_with_bracket(s, bracket)

    report = await s.route(action=action)  # no size: all the router holds

    assert report.ok, report.to_dict()
    assert s.fake.orders[close]["status"] == "canceled"
    assert s.sells() == [{"type": "sell", "ordertype": "market", "volume": "0.1"}]
    assert s.btc == WALLET and s.btc_held == 0  # the user's coins untouched, nothing held
    assert s.open_orders() == {}
    cancel, sold = report.legs
    assert (cancel.purpose, cancel.result.status, cancel.result.venue_order_id) == (
        LegPurpose.CANCEL, OrderStatus.CANCELED, close)
    assert cancel.result.parent_venue_order_id == entry
    assert f"conditional close of the router's order {entry}" in (cancel.result.reason or "")
    assert sold.purpose is LegPurpose.CLOSE and sold.result.status.is_success
    assert report.positions[0].before == D("0.1") and report.positions[0].after == 0

    again = await s.route(action="exit")  # nothing of the router's is left to cancel
    assert [leg.purpose for leg in again.legs] == []
    assert s.btc == WALLET


@pytest.mark.parametrize("foreign", [False, True])
async def test_a_conditional_close_placed_by_hand_is_left_alone_unless_asked(
    make_spot: MakeSpot, foreign: bool
) -> None:
    s = await make_spot("cancel_foreign_orders = true" if foreign else "")
    # the user's own entry with a stop, straight at the venue: not the router's
    by_hand = s.fake._ep_AddOrder({"pair": "XBTUSD", "type": "buy", "ordertype": "market",
                                   "volume": "0.3", "close[ordertype]": "stop-loss",
                                   "close[price]": "46000"})["txid"][0]
    (users_close,) = s.closes()
    assert s.fake.orders[users_close]["refid"] == by_hand
    _, routers_close = await _buy_with_bracket_after(s, users_close)

    report = await s.route(action="exit")

    assert report.ok, report.to_dict()
    assert s.fake.orders[routers_close]["status"] == "canceled"
    assert s.sells() == [{"type": "sell", "ordertype": "market", "volume": "0.1"}]
    cancels = {leg.result.venue_order_id: leg.result.reason or ""
               for leg in report.legs if leg.purpose is LegPurpose.CANCEL}
    if foreign:
        assert s.fake.orders[users_close]["status"] == "canceled"
        assert "not placed by this router" in cancels[users_close]
        assert "conditional close of the router's order" in cancels[routers_close]
        assert s.open_orders() == {}
    else:
        assert s.fake.orders[users_close]["status"] == "open"  # the user's stop still rests
        assert list(cancels) == [routers_close]
        assert list(s.open_orders()) == [users_close]
    assert s.btc == WALLET + D("0.3")  # the user's 0.3 and 2 stay


async def _buy_with_bracket_after(s: Spot, existing: str) -> tuple[str, str]:
    report = await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    assert report.ok, report.to_dict()
    entry = report.legs[0].result.venue_order_id
    (close,) = [txid for txid in s.closes() if txid != existing]
    assert s.fake.orders[close]["refid"] == entry
    return entry, close


# -- a close that executed at the venue, and coins held by the router's own close -----------


async def test_after_the_router_s_stop_executed_an_exit_sells_nothing(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    _, close = await _buy_with_bracket(s, "stop loss")
    s.fake.fill(close, "47000")  # the stop fired: the router's 0.1 are sold
    assert s.btc == WALLET and s.btc_held == 0
    await s.route(action="exit")
    assert s.btc == WALLET  # the user's coins untouched


async def test_an_exit_sells_the_router_s_coins_held_by_its_own_close(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    s.fake.set_balance("XXBT", "0")  # the wallet holds only what the router buys
    await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    assert s.btc == D("0.1") and s.btc_held == D("0.1")
    report = await s.route(action="exit")
    assert s.open_orders() == {}  # the stop is cancelled (this part works)
    assert s.btc == 0, report.to_dict()


PAIR = "XXBTZUSD"


async def test_an_executed_stop_is_journaled_once_as_a_leg_of_its_entry_s_alert(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    bought = await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    entry = bought.legs[0].result.venue_order_id
    (close,) = s.closes()
    s.fake.fill(close, "47000")
    journal = s.router.journal

    exited = await s.route(action="exit")

    assert exited.ok and exited.legs == () and s.sells() == []
    (position,) = exited.positions
    assert position.before == 0 and position.after == 0
    assert position.source is not None
    assert (f"its stop loss {close} (placed by the venue for its order {entry}) sold 0.1 at "
            "the venue") in position.source
    entry_leg, child = journal.legs_for_alert(bought.alert_id)
    assert entry_leg.result is not None and entry_leg.result["venue_order_id"] == entry
    assert entry_leg.order["venue_closes"] == ["stop_loss"]
    assert child.client_order_id == venue_child_order_id("spot", close)
    assert (child.purpose, child.status, child.order["side"], child.order["ticker"]) == (
        "stop_loss", "filled", "sell", "XBTUSD")
    assert child.order["parent_venue_order_id"] == entry
    assert child.order["parent_client_order_id"] == entry_leg.client_order_id
    result = OrderResult.from_dict(child.result or {})
    assert (result.venue_order_id, result.parent_venue_order_id, result.filled_quantity,
            result.average_price) == (close, entry, D("0.1"), D("47000"))
    assert f"stop loss placed by the venue for the router's order {entry}" in (
        result.reason or "")
    assert journal.holdings("spot", PAIR) == 0
    assert journal.unresolved_legs() == [] and journal.open_legs("spot", PAIR) == []

    # seen again: counted once, and no longer asked about (its parent is settled)
    closed_reads = _count(s, "ClosedOrders")
    again = await s.route(action="exit")
    assert again.legs == () and journal.holdings("spot", PAIR) == 0
    assert _count(s, "ClosedOrders") == closed_reads
    assert len(journal.legs_for_alert(bought.alert_id)) == 2

    # what the router buys next is what the next exit sells: never the user's coins
    await s.route(action="buy", quantity="0.2")
    sold = await s.route(action="exit")
    assert sold.ok and s.sells() == [{"type": "sell", "ordertype": "market", "volume": "0.2"}]
    assert s.btc == WALLET


async def test_a_take_profit_that_executed_is_counted_too(make_spot: MakeSpot) -> None:
    s = await make_spot()
    await s.route(action="buy", quantity="0.1", takeProfit={"limitPrice": "55000"})
    (close,) = s.closes()
    s.fake.fill(close)  # the limit sell executes
    await s.route(action="buy", quantity="0.3")  # a plain buy: the position is not read
    exited = await s.route(action="exit")
    assert exited.ok and s.sells()[-1] == {"type": "sell", "ordertype": "market",
                                           "volume": "0.3"}
    (child,) = _all_children(s)
    assert (child.purpose, child.status, child.order["side"]) == ("take_profit", "filled", "sell")
    assert s.btc == WALLET


def _all_children(s: Spot) -> list[Any]:
    return [leg for alert in s.router.journal.recent_alerts()
            for leg in s.router.journal.legs_for_alert(alert.alert_id)
            if "parent_venue_order_id" in leg.order]


def _count(s: Spot, method: str) -> int:
    return sum(1 for call in s.fake.calls if call.method == method)


async def test_an_exit_sells_the_router_s_coins_held_by_its_own_take_profit(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    s.fake.set_balance("XXBT", "0")
    await s.route(action="buy", quantity="0.1", takeProfit={"limitPrice": "55000"})
    assert s.btc == D("0.1") and s.btc_held == D("0.1")
    report = await s.route(action="exit")
    assert report.ok and s.btc == 0 and s.open_orders() == {}
    cancel, sold = report.legs
    assert cancel.purpose is LegPurpose.CANCEL and cancel.result.status is OrderStatus.CANCELED
    assert sold.purpose is LegPurpose.CLOSE and sold.result.status is OrderStatus.FILLED
    assert report.positions[0].before == D("0.1") and report.positions[0].after == 0


async def test_an_exit_sells_the_router_s_coins_held_by_its_own_resting_limit_sell(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    s.fake.set_balance("XXBT", "0")
    await s.route(action="buy", quantity="0.1")
    resting = await s.route(action="sell", quantity="0.1", orderType="limit", limitPrice="60000")
    assert resting.legs[0].result.status is OrderStatus.ACCEPTED
    assert s.btc == D("0.1") and s.btc_held == D("0.1")  # the limit sell holds them all

    report = await s.route(action="exit")

    assert report.ok, report.to_dict()
    assert s.btc == 0 and s.open_orders() == {}
    cancel, sold = report.legs
    assert (cancel.purpose, cancel.result.status) == (LegPurpose.CANCEL, OrderStatus.CANCELED)
    assert (sold.purpose, sold.result.status) == (LegPurpose.CLOSE, OrderStatus.FILLED)
    assert s.sells()[-1] == {"type": "sell", "ordertype": "market", "volume": "0.1"}
    assert report.positions[0].before == D("0.1") and report.positions[0].after == 0
    assert s.router.journal.holdings("spot", PAIR) == 0


async def test_a_stop_that_executes_between_the_read_and_the_cancel_is_not_sold_again(
    make_spot: MakeSpot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = await make_spot()
    await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    (close,) = s.closes()
    broker = s.router.brokers["spot"]
    listing = broker.open_orders

    async def stop_fires_first(instrument: Any) -> Any:  # just before the cancels look
        if s.fake.orders[close]["status"] == "open":
            s.fake.fill(close, "47000")
        return await listing(instrument)

    monkeypatch.setattr(broker, "open_orders", stop_fires_first)
    report = await s.route(action="exit")
    assert report.ok, report.to_dict()
    assert s.sells() == [] and s.btc == WALLET  # the user's coins untouched
    assert s.router.journal.holdings("spot", PAIR) == 0


async def test_when_the_venue_cannot_list_the_closes_nothing_is_sold(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    (close,) = s.closes()
    s.fake.fill(close, "47000")
    s.fake.fail_next("ClosedOrders", "EGeneral:Permission denied")
    report = await s.route(action="exit")
    assert not report.ok and s.sells() == [] and s.btc == WALLET
    (leg,) = report.legs
    assert leg.result.status is OrderStatus.DENIED
    assert "could not be listed" in (leg.result.reason or "")
    retried = await s.route(action="exit")  # the venue answers again: nothing to sell
    assert retried.ok and s.sells() == [] and s.btc == WALLET


async def test_a_journaled_open_close_survives_a_restart_and_is_never_sent(
    make_spot: MakeSpot, tmp_path: Path,
) -> None:
    s = await make_spot()
    bought = await s.route(action="buy", quantity="0.1", stopLoss={"stopPrice": "47000"})
    entry = bought.legs[0].result.venue_order_id
    (close,) = s.closes()
    body = json.dumps({"ticker": "XBTUSD", "action": "exit", "accounts": ["spot"]}).encode()
    (plan,) = await s.router.preview(s.router.parse(body, "application/json"))
    assert isinstance(plan, Plan)  # the dry run reads the position: the close is journaled
    assert any("position is then read again" in note for note in plan.notes)
    child = s.router.journal.get_leg(venue_child_order_id("spot", close))
    assert child is not None and child.status == "accepted" and child.alert_id == bought.alert_id
    assert s.router.journal.has_resting("spot", PAIR)
    assert s.router.journal.open_legs("spot", PAIR) == []  # never cancelled by a client id

    orders = s.fake.add_order_calls  # a second router on the same journal: a restart
    again = Router.from_config_file(
        next(tmp_path.glob("spot-0.toml")), clock=s.fake.clock, transport=s.fake.transport(),
        plugins=make_plugin_manager(["kraken-spot"]))
    try:
        assert await again.start() == []
        assert s.fake.add_order_calls == orders  # recovery sent nothing
        assert again.journal.unresolved_legs() == []
        acceptance = again.accept(json.dumps({
            "id": str(uuid.uuid4()), "ticker": "XBTUSD", "action": "exit",
            "accounts": ["spot"]}).encode(), "application/json")
        report = await again.execute(acceptance.alert_id)
    finally:
        await again.close()
    assert report.ok, report.to_dict()
    cancel, sold = report.legs
    assert (cancel.result.venue_order_id, cancel.result.parent_venue_order_id) == (close, entry)
    assert sold.result.status is OrderStatus.FILLED
    cancels = [c.fields for c in s.fake.calls if c.method == "CancelOrder"]
    assert cancels and all(fields.get("txid") == close for fields in cancels)
    assert s.btc == WALLET and s.fake.orders[close]["status"] == "canceled"


async def test_a_resting_entry_s_close_appears_once_it_fills(make_spot: MakeSpot) -> None:
    s = await make_spot()
    report = await s.route(action="buy", quantity="0.1", orderType="limit", limitPrice="49000",
                           stopLoss={"stopPrice": "47000"})
    assert report.ok, report.to_dict()
    entry = report.legs[0].result.venue_order_id
    assert entry is not None and s.closes() == {}  # no close before the entry executes
    s.fake.fill(entry, "49000")
    (close,) = s.closes()
    assert s.fake.orders[close]["refid"] == entry and s.fake.orders[close]["status"] == "open"

    exited = await s.route(action="exit")

    assert exited.ok, exited.to_dict()
    assert s.fake.orders[close]["status"] == "canceled"
    assert s.sells() == [{"type": "sell", "ordertype": "market", "volume": "0.1"}]
    assert s.btc == WALLET and s.open_orders() == {}
    assert entry in s.router.journal.venue_order_ids("spot", "XXBTZUSD")


async def test_a_cancelled_entry_keeps_its_venue_id_in_the_journal(make_spot: MakeSpot) -> None:
    # Kraken answers CancelOrder with a count, not the txid: the journal must keep the txid,
    # as a close the venue places for a partly filled entry names it as its parent
    s = await make_spot()
    report = await s.route(action="buy", quantity="0.1", orderType="limit", limitPrice="49000",
                           stopLoss={"stopPrice": "47000"})
    entry = report.legs[0].result.venue_order_id
    assert entry is not None and s.router.journal.venue_order_ids("spot", "XXBTZUSD") == {entry}
    cancelled = await s.route(action="cancel")
    assert [(leg.result.status, leg.result.venue_order_id) for leg in cancelled.legs] == [
        (OrderStatus.CANCELED, entry)]
    assert s.fake.orders[entry]["status"] == "canceled" and s.closes() == {}
    assert s.router.journal.venue_order_ids("spot", "XXBTZUSD") == {entry}


def test_order_result_round_trips_with_and_without_the_parent() -> None:
    plain = OrderResult(OrderStatus.ACCEPTED, "cid", "O1", quantity=D("0.1"))
    child = OrderResult(OrderStatus.ACCEPTED, "", "O2", quantity=D("0.1"),
                        parent_venue_order_id="O1")
    for result in (plain, child):
        assert OrderResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert plain.to_dict()["parent_venue_order_id"] is None
    assert child.to_dict()["parent_venue_order_id"] == "O1"
    older = plain.to_dict()
    del older["parent_venue_order_id"]  # a journal row written before the field existed
    assert OrderResult.from_dict(older) == plain
