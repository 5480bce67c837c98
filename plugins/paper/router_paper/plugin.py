"""Entry point of the paper plugin."""

from __future__ import annotations

from router_core import RegisterBroker, hookimpl

from .broker import PaperBroker


@hookimpl
def router_register_brokers(register: RegisterBroker) -> None:
    register(PaperBroker)
