"""One alert routed at once to a native Kraken Futures account and a ccxt ``krakenfutures``
account through the core's Router, each against its own Kraken Futures fake (one per host, so
each account sees only its own position): equivalent orders, a reversal included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
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

[accounts.native]
broker = "kraken-futures"
base_url = "http://127.0.0.1:9"
reverse_mode = "two_legs"

[accounts.through_ccxt]
broker = "ccxt"
exchange = "krakenfutures"
market_type = "swap"
contract = "linear"
api_key_env = "KRAKEN_FUTURES_API_KEY"
secret_env = "KRAKEN_FUTURES_API_SECRET"
base_url = "http://localhost:9"
enable_rate_limit = false
"""

# What makes two sendorder requests the same order (the rest is each client's bookkeeping).
TRADING_FIELDS = ("symbol", "side", "size", "orderType", "limitPrice", "stopPrice",
                  "reduceOnly")


class ByHost(httpx.AsyncBaseTransport):
    """The Router's one transport, handing each host's requests to its own fake."""

    def __init__(self, fakes: dict[str, FakeKrakenFutures]) -> None:
        self.transports = {host: httpx.ASGITransport(app=fake) for host, fake in fakes.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


@pytest_asyncio.fixture
async def routed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[
        tuple[Router, dict[str, FakeKrakenFutures]]]:
    monkeypatch.setenv("KRAKEN_FUTURES_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_FUTURES_API_SECRET", FAKE_API_SECRET)
    clock = FakeClock()
    fakes = {"native": FakeKrakenFutures(clock=clock),
             "through_ccxt": FakeKrakenFutures(clock=clock)}
    path = tmp_path / "router.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    transport = ByHost({"127.0.0.1": fakes["native"], "localhost": fakes["through_ccxt"]})
    router = Router.from_config_file(path, clock=clock, transport=transport,
                                     plugins=make_plugin_manager(["kraken-futures", "ccxt"]))
    assert await router.start() == []
    yield router, fakes
    await router.close()


async def _route(router: Router, alert: dict[str, Any]) -> Any:
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    return await router.execute(acceptance.alert_id)


def _sent_by_account(report: Any, fakes: dict[str, FakeKrakenFutures]) -> dict[
        str, list[dict[str, str]]]:
    """Each account's sendorder requests as its fake received them, by client order id."""
    out: dict[str, list[dict[str, str]]] = {}
    for leg in report.legs:
        by_id = {params.get("cliOrdId"): params for params in fakes[leg.account].sendorders}
        params = by_id[leg.result.client_order_id]
        out.setdefault(leg.account, []).append(
            {name: params[name] for name in TRADING_FIELDS if name in params})
    return out


async def test_an_open_then_a_reversal_give_equivalent_orders(
    routed: tuple[Router, dict[str, FakeKrakenFutures]]
) -> None:
    router, fakes = routed
    opened = await _route(router, {"ticker": "KRAKEN:XBTUSD.P", "action": "buy",
                                   "quantity": "0.5", "price": "50000"})
    assert opened.ok, opened.to_dict()
    sent = _sent_by_account(opened, fakes)
    assert sent["through_ccxt"] == sent["native"] == [
        {"symbol": "PF_XBTUSD", "side": "buy", "size": "0.5", "orderType": "mkt"}]

    reversed_ = await _route(router, {"ticker": "KRAKEN:XBTUSD.P", "action": "sell",
                                      "sentiment": "short", "quantity": "0.3",
                                      "price": "50000"})

    assert reversed_.ok, reversed_.to_dict()
    sent = _sent_by_account(reversed_, fakes)
    assert sent["through_ccxt"] == sent["native"]
    assert [(o["size"], o.get("reduceOnly")) for o in sent["native"]] == [
        ("0.5", "true"), ("0.3", None)]
    assert [fake.exchange.positions["PF_XBTUSD"] for fake in fakes.values()] == [
        Decimal("-0.3"), Decimal("-0.3")]
