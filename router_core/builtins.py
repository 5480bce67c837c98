"""The core's own hook implementations; a plugin like any other, registered first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .plugins import hookimpl

if TYPE_CHECKING:
    from .brokers import Broker
    from .models import Order, OrderResult


@hookimpl(trylast=True)
async def router_submit_order(broker: Broker, order: Order, context: dict[str, Any]) -> OrderResult:
    return await broker.submit_order(order)
