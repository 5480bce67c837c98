"""What one exchange and market type can do, read from ccxt's own declarations.

ccxt declares per exchange ``has`` (which unified calls exist) and ``features`` (per market type
and linear/inverse sub-type: trigger, stop-loss and take-profit prices, trailing, time in force,
post-only, attached stop loss and take profit, hedged positions). The capabilities are derived
from those, so the planner and the conformance kit see what that exchange really does through
ccxt, and an order type it lacks is denied before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router_core import AccountKind, Capabilities, OrderType, TimeInForce

from .quirks import refused, refused_time_in_force

# ccxt's timeInForce words for the core's (GTD and DAY are not offered: see README)
TIME_IN_FORCE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


def create_order_features(features: Mapping[str, Any], market_type: str,
                          sub_type: str | None) -> Mapping[str, Any]:
    """ccxt's ``features[market_type][sub_type]['createOrder']`` (spot has no sub-type); an
    empty mapping when ccxt declares none."""
    section = features.get(market_type) or {}
    if market_type != "spot":
        if sub_type is None:  # the account's default: linear where the exchange has it
            sub_type = "linear" if section.get("linear") else "inverse"
        section = section.get(sub_type) or {}
    found = section.get("createOrder") if isinstance(section, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def order_types(create: Mapping[str, Any]) -> frozenset[OrderType]:
    """The order types ccxt can send on a market with these ``createOrder`` features."""
    types = {OrderType.MARKET, OrderType.LIMIT}
    if create.get("triggerPrice") or create.get("stopLossPrice"):
        types |= {OrderType.STOP, OrderType.STOP_LIMIT}
    if create.get("takeProfitPrice"):
        types |= {OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}
    if create.get("trailing"):
        types.add(OrderType.TRAILING_STOP)
    return frozenset(types)


def capabilities(exchange: str, has: Mapping[str, Any], features: Mapping[str, Any],
                 market_type: str, sub_type: str | None = None, *,
                 finds_orders: bool) -> Capabilities:
    """The Capabilities of an account of ``market_type`` (and of one instrument, with its
    ``sub_type``) on ``exchange``, which has these ``has`` and ``features``, less what the
    router refuses there (``quirks``); ``finds_orders`` says whether an order can be looked up
    by its client order id (see ``lookup``)."""
    create = create_order_features(features, market_type, sub_type)
    declared_tif = create.get("timeInForce") or {}
    time_in_force = frozenset(
        {TimeInForce.GTC} | {ours for ours, theirs in TIME_IN_FORCE.items()
                             if declared_tif.get(theirs)}
    ) - refused_time_in_force(exchange, market_type).keys()
    derivatives = market_type != "spot"
    return Capabilities(
        order_types=order_types(create) - refused(exchange, market_type).keys(),
        time_in_force=time_in_force,
        # reduce-only is a contract's flag: a spot wallet has no position to reduce
        reduce_only=derivatives,
        post_only=bool(declared_tif.get("PO")),
        attached_brackets=create.get("attachedStopLossTakeProfit") is not None,
        can_short=derivatives,
        net_position=derivatives,
        cancel=bool(has.get("cancelOrder")),
        find_order=finds_orders,
        account_kind=AccountKind.NET if derivatives else AccountKind.CASH,
    )
