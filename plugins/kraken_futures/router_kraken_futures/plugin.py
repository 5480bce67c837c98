"""Entry point of the kraken-futures plugin: registers the broker with alert-router."""

from __future__ import annotations

from collections.abc import Callable

from router_core import hookimpl

from .broker import KrakenFuturesBroker


@hookimpl
def router_register_brokers(register: Callable[[type], None]) -> None:
    register(KrakenFuturesBroker)
