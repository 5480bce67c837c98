"""Entry point ``kraken-spot`` (group ``router_core.plugins``): registers the broker.

The broker module (and httpx with it) is imported only when brokers are collected, so listing
plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from router_core import hookimpl


@hookimpl
def router_register_brokers(register: Any) -> None:
    from .broker import KrakenSpotBroker

    register(KrakenSpotBroker)
