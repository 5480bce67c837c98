"""One alert routed at once to a native Kraken spot account and a ccxt Kraken account through
the core's Router, against the one signature-checking Kraken fake: the two plugins send
equivalent orders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from router_kraken_spot.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKraken

from router_core import Router, make_plugin_manager
from router_core.testing import FakeClock

CONFIG = """
[router]
state_dir = "{state}"
reconcile_window_seconds = 0.05

[accounts.native]
broker = "kraken-spot"
base_url = "http://127.0.0.1:9"

[accounts.through_ccxt]
broker = "ccxt"
exchange = "kraken"
api_key_env = "KRAKEN_API_KEY"
secret_env = "KRAKEN_API_SECRET"
base_url = "http://127.0.0.1:9"
enable_rate_limit = false
"""

# What makes two AddOrder requests the same order (the rest is each client's own bookkeeping:
# nonce, client id, the native plugin's deadline).
TRADING_FIELDS = ("type", "ordertype", "volume", "price", "price2", "oflags", "timeinforce",
                  "reduce_only", "leverage")


@pytest_asyncio.fixture
async def routed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[
        tuple[Router, FakeKraken]]:
    # one key for both accounts: the core's nonce source for the key serves both plugins
    monkeypatch.setenv("KRAKEN_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("KRAKEN_API_SECRET", FAKE_API_SECRET)
    clock = FakeClock(start=1_700_000_000.0)
    fake = FakeKraken(clock=clock)
    path = tmp_path / "router.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    router = Router.from_config_file(path, clock=clock, transport=fake.transport(),
                                     plugins=make_plugin_manager(["kraken-spot", "ccxt"]))
    assert await router.start() == []
    yield router, fake
    await router.close()


async def _route(router: Router, alert: dict[str, Any]) -> Any:
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    return await router.execute(acceptance.alert_id)


def _sent_by_account(report: Any, fake: FakeKraken) -> dict[str, list[dict[str, str]]]:
    """Each account's AddOrder requests as the fake received them, found by client order id."""
    by_id = {call.fields.get("cl_ord_id"): call.fields for call in fake.calls
             if call.method == "AddOrder"}
    out: dict[str, list[dict[str, str]]] = {}
    for leg in report.legs:
        fields = by_id[leg.result.client_order_id]
        trading = {name: fields[name] for name in TRADING_FIELDS if name in fields}
        trading["pair"] = fake._pair_key(fields["pair"])
        out.setdefault(leg.account, []).append(trading)
    return out


@pytest.mark.parametrize("alert", [
    {"ticker": "KRAKEN:XBTUSD", "action": "buy", "quantity": "0.01", "price": "50000"},
    {"ticker": "BTCUSD", "action": "buy", "quantity": "0.02", "orderType": "limit",
     "limitPrice": "40000"},
], ids=["market", "limit"])
async def test_one_alert_gives_equivalent_orders_on_both_plugins(
    routed: tuple[Router, FakeKraken], alert: dict[str, Any]
) -> None:
    router, fake = routed

    report = await _route(router, alert)

    assert report.ok, report.to_dict()
    sent = _sent_by_account(report, fake)
    assert sorted(sent) == ["native", "through_ccxt"]
    assert sent["through_ccxt"] == sent["native"], sent
    assert len(sent["native"]) == 1
    assert sent["native"][0]["pair"] == "XXBTZUSD"
    assert sent["native"][0]["volume"] == alert["quantity"]


async def test_buy_then_sell_closes_what_each_account_bought(
    routed: tuple[Router, FakeKraken]
) -> None:
    router, fake = routed
    await _route(router, {"ticker": "XBTUSD", "action": "buy", "quantity": "0.01",
                          "price": "50000"})

    report = await _route(router, {"ticker": "XBTUSD", "action": "sell", "price": "50000"})

    assert report.ok, report.to_dict()
    sent = _sent_by_account(report, fake)
    assert sent["through_ccxt"] == sent["native"]
    assert [(o["type"], o["volume"]) for o in sent["native"]] == [("sell", "0.01")]
    assert all(order["status"] == "closed" for order in fake.orders.values())
