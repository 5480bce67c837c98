"""Stop loss and take profit go out as separate reduce-only orders after the entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from router_kraken_futures.orders import BRACKET_NAMESPACE, bracket_client_id

from router_core import Bracket, InvalidOrder, OrderStatus, OrderType, Side
from router_core import normalize_ticker as normalize

D = Decimal
ENTRY_ID = "0b5e8f0e-8d2c-5a43-9a0f-3f3c1f6a2b11"


def test_bracket_ids_are_deterministic_uuid5() -> None:
    sl = bracket_client_id(ENTRY_ID, "sl")
    assert sl == str(uuid.uuid5(BRACKET_NAMESPACE, ENTRY_ID + ":sl"))
    assert sl == bracket_client_id(ENTRY_ID, "sl") != bracket_client_id(ENTRY_ID, "tp")
    assert len(sl) == 36


async def test_entry_then_stop_loss_then_take_profit(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(
        inst, "0.01", Side.BUY, client_order_id=ENTRY_ID,
        stop_loss=Bracket(OrderType.STOP, trigger_price=D(48000)),
        take_profit=Bracket(OrderType.TAKE_PROFIT_LIMIT, trigger_price=D(55000),
                            limit_price=D(54900)),
        extras={"trigger_signal": "mark"},
    )
    result = await broker.submit_order(entry)
    assert result.status is OrderStatus.FILLED
    assert result.client_order_id == ENTRY_ID
    sl_id, tp_id = bracket_client_id(ENTRY_ID, "sl"), bracket_client_id(ENTRY_ID, "tp")
    assert result.reason == (
        f"stop loss placed (cliOrdId {sl_id}, accepted); "
        f"take profit placed (cliOrdId {tp_id}, accepted)"
    )
    entry_body, sl, tp = fake.sendorders
    assert entry_body["cliOrdId"] == ENTRY_ID and "reduceOnly" not in entry_body
    assert {k: v for k, v in sl.items() if k != "processBefore"} == {
        "orderType": "stp", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.01",
        "stopPrice": "48000", "triggerSignal": "mark", "reduceOnly": "true", "cliOrdId": sl_id,
    }
    assert {k: v for k, v in tp.items() if k != "processBefore"} == {
        "orderType": "take_profit", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.01",
        "limitPrice": "54900", "stopPrice": "55000", "triggerSignal": "mark",
        "reduceOnly": "true", "cliOrdId": tp_id,
    }
    states = {o.cli_ord_id: o.state for o in fake.orders}
    assert states[sl_id] == states[tp_id] == "TRIGGER_PLACED"


async def test_trailing_stop_loss_and_limit_take_profit_on_a_short(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("ETHUSD.P"))
    entry = new_order(
        inst, "0.5", Side.SELL,
        stop_loss=Bracket(OrderType.TRAILING_STOP, trail_percent=D(2)),
        take_profit=Bracket(OrderType.LIMIT, limit_price=D("2800.5")),
    )
    await broker.submit_order(entry)
    _, sl, tp = fake.sendorders
    assert (sl["orderType"], sl["side"], sl["trailingStopMaxDeviation"],
            sl["trailingStopDeviationUnit"], sl["reduceOnly"]) == (
        "trailing_stop", "buy", "2", "PERCENT", "true")
    assert (tp["orderType"], tp["side"], tp["limitPrice"], tp["reduceOnly"]) == (
        "lmt", "buy", "2800.5", "true")


async def test_a_refused_bracket_is_reported_not_hidden(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", stop_loss=Bracket(OrderType.STOP, trigger_price=D(48000)),
                      take_profit=Bracket(OrderType.TAKE_PROFIT, trigger_price=D(55000)))
    fake.script("sendorder")  # the entry goes through
    fake.script("sendorder", status="tooManyOrders")
    result = await broker.submit_order(entry)
    assert result.status is OrderStatus.FILLED
    assert "stop loss NOT placed" in result.reason and "too many open orders" in result.reason
    assert "take profit placed" in result.reason


async def test_a_lost_bracket_answer_says_look_it_up(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any]
) -> None:
    broker = await make_broker(timeout_seconds=0.2)
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", stop_loss=Bracket(OrderType.STOP, trigger_price=D(48000)))
    fake.script("sendorder")
    fake.script("sendorder", drop=True)
    result = await broker.submit_order(entry)
    assert result.status is OrderStatus.FILLED
    assert "stop loss outcome unknown" in result.reason
    assert len(fake.sendorders) == 2  # not re-sent


async def test_no_brackets_when_the_entry_did_not_fill_or_rest(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", stop_loss=Bracket(OrderType.STOP, trigger_price=D(48000)))
    fake.script("sendorder", status="cancelled")
    result = await broker.submit_order(entry)
    assert result.status is OrderStatus.CANCELED
    assert result.reason.endswith("stop loss not placed: the entry is canceled")
    assert len(fake.sendorders) == 1


async def test_rejected_entry_sends_no_bracket(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", stop_loss=Bracket(OrderType.STOP, trigger_price=D(48000)))
    fake.script("sendorder", status="insufficientAvailableFunds")
    with pytest.raises(Exception, match="insufficient available funds"):
        await broker.submit_order(entry)
    assert len(fake.sendorders) == 1


async def test_an_invalid_bracket_denies_the_entry_before_anything_is_sent(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", stop_loss=Bracket(OrderType.STOP, trigger_price=D("48000.5")))
    with pytest.raises(InvalidOrder, match="tick size") as info:
        await broker.submit_order(entry)
    assert info.value.from_venue is False
    assert fake.sendorders == []
    wrong_kind = new_order(inst, "0.01", take_profit=Bracket(OrderType.STOP, trigger_price=D(1)))
    with pytest.raises(InvalidOrder, match=r"take_profit\.order_type"):
        await broker.submit_order(wrong_kind)


async def test_limit_take_profit_of_a_resting_entry_waits_as_a_trigger(
    broker: Any, fake: Any, new_order: Callable[..., Any]
) -> None:
    inst = await broker.resolve(normalize("XBTUSD.P"))
    entry = new_order(inst, "0.01", order_type=OrderType.LIMIT, limit_price=D(45000),
                      take_profit=Bracket(OrderType.LIMIT, limit_price=D(52000)))
    result = await broker.submit_order(entry)
    assert result.status is OrderStatus.ACCEPTED
    assert "as a take_profit trigger: the entry has not filled yet" in result.reason
    tp = fake.sendorders[1]
    assert (tp["orderType"], tp["side"], tp["limitPrice"], tp["stopPrice"], tp["reduceOnly"]) == (
        "take_profit", "sell", "52000", "52000", "true")
