"""Entry point ``propfirms``: registers the five prop-firm brokers and the prop-firm rules
(``rules``: ``router_check_plan``, and the flatten watcher on ``router_startup``)."""

from __future__ import annotations

from collections.abc import Callable

from router_core import Broker, hookimpl

from .matchtrader import MatchTraderBroker
from .projectx import ProjectXBroker
from .rithmic import RithmicBroker
from .rules import router_check_plan, router_shutdown, router_startup
from .tradelocker import TradeLockerBroker
from .tradovate import TradovateBroker

BROKERS: tuple[type[Broker], ...] = (
    TradovateBroker, RithmicBroker, TradeLockerBroker, MatchTraderBroker, ProjectXBroker,
)


__all__ = ["BROKERS", "router_check_plan", "router_register_brokers", "router_shutdown",
           "router_startup"]


@hookimpl
def router_register_brokers(register: Callable[[type[Broker]], None]) -> None:
    for broker in BROKERS:
        register(broker)
