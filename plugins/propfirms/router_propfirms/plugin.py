"""Entry point ``propfirms``: registers the five prop-firm stubs."""

from __future__ import annotations

from collections.abc import Callable

from router_core import Broker, hookimpl

from .matchtrader import MatchTraderBroker
from .projectx import ProjectXBroker
from .rithmic import RithmicBroker
from .tradelocker import TradeLockerBroker
from .tradovate import TradovateBroker

BROKERS: tuple[type[Broker], ...] = (
    TradovateBroker, RithmicBroker, TradeLockerBroker, MatchTraderBroker, ProjectXBroker,
)


@hookimpl
def router_register_brokers(register: Callable[[type[Broker]], None]) -> None:
    for broker in BROKERS:
        register(broker)
