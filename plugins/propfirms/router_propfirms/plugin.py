"""Entry point ``propfirms``: registers the five prop-firm stubs."""

from __future__ import annotations

from router_core import hookimpl

from .matchtrader import MatchTraderBroker
from .projectx import ProjectXBroker
from .rithmic import RithmicBroker
from .tradelocker import TradeLockerBroker
from .tradovate import TradovateBroker

BROKERS = (TradovateBroker, RithmicBroker, TradeLockerBroker, MatchTraderBroker, ProjectXBroker)


@hookimpl
def router_register_brokers(register):  # type: ignore[no-untyped-def]
    for broker in BROKERS:
        register(broker)
