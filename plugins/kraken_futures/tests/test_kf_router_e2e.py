"""The core's Router end to end on a kraken-futures account against the in-process fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures

from router_core import Router, make_plugin_manager
from router_core.testing import FakeClock

CONFIG = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.futures]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
reverse_mode = "{mode}"
# the fake answers in-process at once; a dropped answer is found out in half a second, not 10
timeout_seconds = 0.5
"""


@pytest_asyncio.fixture
async def make_router(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", FAKE_API_SECRET)
    routers: list[Router] = []

    async def build(mode: str = "two_legs") -> tuple[Router, FakeKrakenFutures]:
        clock = FakeClock()
        fake = FakeKrakenFutures(clock=clock)
        path = tmp_path / f"{mode}.toml"
        path.write_text(CONFIG.format(state=tmp_path / mode, mode=mode))
        router = Router.from_config_file(
            path, clock=clock, transport=httpx.ASGITransport(app=fake),
            plugins=make_plugin_manager(["kraken-futures"]),
        )
        assert await router.start() == []
        routers.append(router)
        return router, fake

    yield build
    for router in routers:
        await router.close()


async def _route(router: Router, alert: dict[str, Any]) -> Any:
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    return await router.execute(acceptance.alert_id)


def _legs(report: Any) -> list[tuple[str, str, str, str]]:
    return [(leg.purpose.value, leg.side.value if leg.side else "", leg.result.status.value,
             str(leg.result.quantity)) for leg in report.legs]


async def test_reverse_in_two_legs_sends_a_reduce_only_close(
    make_router: Callable[..., Any]
) -> None:
    router, fake = await make_router("two_legs")
    first = await _route(router, {"ticker": "BTCUSD.P", "action": "buy", "quantity": "0.5",
                                  "price": "50000"})
    assert _legs(first) == [("open", "buy", "filled", "0.5")]
    second = await _route(router, {"ticker": "KRAKEN:XBTUSD.PM", "action": "sell",
                                   "sentiment": "short", "quantity": "0.3", "price": "50000"})
    assert _legs(second) == [("close", "sell", "filled", "0.5"), ("open", "sell", "filled", "0.3")]
    close, opened = fake.sendorders[1], fake.sendorders[2]
    assert close["reduceOnly"] == "true" and close["size"] == "0.5"
    assert "reduceOnly" not in opened and opened["size"] == "0.3"
    assert fake.exchange.positions["PF_XBTUSD"] == Decimal("-0.3")


async def test_reverse_in_one_order(make_router: Callable[..., Any]) -> None:
    router, fake = await make_router("single_order")
    await _route(router, {"ticker": "BTCUSD.P", "action": "buy", "quantity": "0.5",
                          "price": "50000"})
    report = await _route(router, {"ticker": "BTCUSD.P", "action": "sell", "sentiment": "short",
                                   "quantity": "0.3", "price": "50000"})
    assert len(fake.sendorders) == 2
    flip = fake.sendorders[1]
    assert (flip["side"], flip["size"], "reduceOnly" in flip) == ("sell", "0.8", False)
    assert fake.exchange.positions["PF_XBTUSD"] == Decimal("-0.3")
    assert report.ok


async def test_alert_with_brackets_places_them_after_the_entry(
    make_router: Callable[..., Any]
) -> None:
    router, fake = await make_router()
    report = await _route(router, {
        "ticker": "BTCUSD.P", "action": "buy", "quantity": "0.1", "price": "50000",
        "stopLoss": {"stopPrice": "48000"}, "takeProfit": {"limitPrice": "55000"},
    })
    assert report.ok, report.to_dict()
    entry, sl, tp = fake.sendorders
    assert "reduceOnly" not in entry
    assert (sl["orderType"], sl["stopPrice"], sl["reduceOnly"], sl["side"]) == (
        "stp", "48000", "true", "sell")
    assert (tp["orderType"], tp["limitPrice"], tp["reduceOnly"], tp["side"]) == (
        "lmt", "55000", "true", "sell")
    assert "stop loss placed" in report.legs[0].result.reason


async def test_brackets_are_placed_when_the_entry_was_found_after_a_lost_answer(
    make_router: Callable[..., Any]
) -> None:
    router, fake = await make_router()
    fake.script("sendorder", drop=True)  # the entry executes, its answer never arrives
    report = await _route(router, {
        "ticker": "BTCUSD.P", "action": "buy", "quantity": "0.1", "price": "50000",
        "stopLoss": {"stopPrice": "48000"},
    })
    assert report.ok, report.to_dict()
    _entry, sl = fake.sendorders  # one entry (found, not re-sent) and its stop loss
    assert (sl["orderType"], sl["stopPrice"], sl["reduceOnly"]) == ("stp", "48000", "true")
    assert "stop loss placed" in report.legs[0].result.reason
