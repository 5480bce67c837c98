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
from router_core.models import ExecutionReport, LegPurpose, OrderResult, OrderStatus
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


# -- known gaps, left for follow-ups (outside sequencing): strict, so a fix shows up ----------


@pytest.mark.xfail(strict=True, reason="the holdings count the router's own fills only: a "
                   "conditional close that executed at the venue is not subtracted, so the "
                   "next exit sells 0.1 of the user's coins")
async def test_after_the_router_s_stop_executed_an_exit_sells_nothing(
    make_spot: MakeSpot,
) -> None:
    s = await make_spot()
    _, close = await _buy_with_bracket(s, "stop loss")
    s.fake.fill(close, "47000")  # the stop fired: the router's 0.1 are sold
    assert s.btc == WALLET and s.btc_held == 0
    await s.route(action="exit")
    assert s.btc == WALLET  # the user's coins untouched


@pytest.mark.xfail(strict=True, reason="the cash position is capped at the free balance read "
                   "before the cancels, and the resting close holds the router's coins: with "
                   "no other coins in the wallet the exit cancels the stop and sells nothing")
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
