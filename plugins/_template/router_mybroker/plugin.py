"""Entry point of the mybroker plugin: the module ``router_core.plugins`` names."""

from __future__ import annotations

from router_core import hookimpl

from .broker import MyBroker


@hookimpl
def router_register_brokers(register):  # type: ignore[no-untyped-def]
    register(MyBroker)
