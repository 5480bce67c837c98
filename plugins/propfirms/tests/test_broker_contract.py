"""The stubs through router_core.testing's BrokerContract (gated by capabilities and stub).

Order tests skip for a stub; the stub test requires submit_order to be denied with "(stub)".
The forex/CFD stubs refuse to resolve (they would have to guess lot and tick sizes), so the
contract falls back to its own instrument for them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest_asyncio
from router_propfirms.matchtrader import MatchTraderBroker
from router_propfirms.rithmic import RithmicBroker

from router_core import Broker, BrokerContext
from router_core.testing import BrokerContract

pytest_plugins = ["router_core.testing"]

SECRETS = {"TEST_USER": "trader-7731", "TEST_PASSWORD": "pw-Zq81-never-logged", "TEST_KEY": "k-1"}


class StubContract(BrokerContract):
    cls: ClassVar[type[Broker]]
    settings: ClassVar[dict[str, Any]] = {}
    known_symbol = "NQ1!"
    unknown_symbol = "NOPEUSD"
    secrets: ClassVar[list[str]] = list(SECRETS.values())

    @pytest_asyncio.fixture
    async def broker(self, broker_context: BrokerContext) -> Broker:
        broker_context.environ.update(SECRETS)  # type: ignore[attr-defined]
        broker = self.cls(self.cls.Config.model_validate(self.settings), broker_context)
        await broker.start()
        return broker


class TestRithmicContract(StubContract):
    cls = RithmicBroker
    settings: ClassVar[dict[str, Any]] = {
        "gateway_url": "wss://rithmic.example/gateway", "system_name": "Rithmic Test",
        "app_name": "alert-router", "username_env": "TEST_USER", "password_env": "TEST_PASSWORD",
    }


class TestMatchTraderContract(StubContract):
    cls = MatchTraderBroker
    known_symbol = "FX:EURUSD"
    unknown_symbol = "NQ1!"
    settings: ClassVar[dict[str, Any]] = {
        "broker_id": "0", "email_env": "TEST_USER", "password_env": "TEST_PASSWORD",
    }
