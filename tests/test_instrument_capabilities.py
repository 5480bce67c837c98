"""Capabilities per instrument: a venue that takes limit orders on one market and only market
orders on another says so through ``capabilities_for``, and the core plans each alert by it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from router_paper.broker import PaperBroker

from router_core import Capabilities, Instrument, OrderStatus, OrderType, hookimpl
from router_core import make_plugin_manager as plugins_with
from router_core.router import Router


class PickyBroker(PaperBroker):
    """The paper venue, where ETH trades at market only."""

    name = "picky"

    def capabilities_for(self, instrument: Instrument) -> Capabilities:
        if instrument.base == "ETH":
            return dataclasses.replace(self.capabilities,
                                       order_types=frozenset({OrderType.MARKET}))
        return self.capabilities


class Plugin:
    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register(PickyBroker)


async def test_the_core_plans_by_the_instruments_capabilities(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text('[accounts.picky]\nbroker = "picky"\nfill_price = "100"\n')
    router = Router.from_config_file(
        config, plugins=plugins_with(["paper"], extra=[("picky", Plugin())]))
    await router.start()
    try:
        reports = {}
        for n, ticker in enumerate(("BTCUSD", "ETHUSD")):
            body = {"ticker": ticker, "action": "buy", "quantity": "1", "orderType": "limit",
                    "limitPrice": "90", "id": str(n)}
            acceptance = router.accept(json.dumps(body).encode(), "application/json")
            reports[ticker] = await router.execute(acceptance.alert_id)
        assert reports["BTCUSD"].legs[0].result.status is OrderStatus.FILLED
        eth = reports["ETHUSD"].legs[0].result
        assert eth.status is OrderStatus.DENIED
        assert "does not support limit orders" in (eth.reason or "")
    finally:
        await router.close()
