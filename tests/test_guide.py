"""docs/writing-a-plugin.md: its hello-world broker is a tested file, quoted verbatim.

The example must pass BrokerContract, register through its hook, and route a real alert
through the Router; the guide must contain it character for character; the e2e plugin package
ships the same file.
"""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
import pytest_asyncio

from router_core import BrokerContext, OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.testing import BrokerContract

pytest_plugins = ["router_core.testing"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "hello_broker.py"
GUIDE = ROOT / "docs" / "writing-a-plugin.md"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("guide_hello_broker", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hello = load_example()


def test_guide_quotes_the_example_verbatim() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    block = "```python\n" + EXAMPLE.read_text(encoding="utf-8") + "```\n"
    assert block in guide, (
        "docs/writing-a-plugin.md must contain docs/examples/hello_broker.py verbatim in a "
        "```python block; copy the file into the guide again"
    )


def test_example_is_about_forty_lines() -> None:
    assert len(EXAMPLE.read_text().splitlines()) <= 60


def test_example_registers_through_its_hook() -> None:
    plugins = make_plugin_manager(enabled=[], extra=[("hello", hello)])
    assert plugins.brokers.get("hello") is hello.HelloBroker
    assert plugins.brokers.by_plugin() == {"hello": ["hello"]}


class TestHelloBrokerContract(BrokerContract):
    known_symbol = "BTCUSD"
    unknown_symbol = "NQ1!"  # a futures contract, not a currency pair

    @pytest_asyncio.fixture
    async def broker(self, broker_context: BrokerContext):  # type: ignore[no-untyped-def]
        broker = hello.HelloBroker(hello.HelloBroker.Config(), broker_context)
        await broker.start()
        return broker


@pytest.mark.asyncio
async def test_example_routes_an_alert_through_the_router(tmp_path: Path) -> None:
    from router_core.router import Router

    config = tmp_path / "cfg.toml"
    config.write_text('[router]\nstate_dir = "state"\n\n[accounts.main]\nbroker = "hello"\n')
    plugins = make_plugin_manager(enabled=[], extra=[("hello", hello)])
    router = Router.from_config_file(config, plugins=plugins)
    alert = {"ticker": "BTCUSD", "action": "buy", "quantity": "0.25", "price": "65000"}
    try:
        await router.start()
        accepted = router.accept(json.dumps(alert).encode(), "application/json", source="test")
        report = await router.execute(accepted.alert_id)
    finally:
        await router.close()
    assert report.ok, report.to_dict()
    [leg] = report.legs
    assert (leg.broker, leg.result.status) == ("hello", OrderStatus.FILLED)
    assert leg.result.quantity == Decimal("0.25")
