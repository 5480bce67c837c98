"""The hooks a plugin can implement. Each docstring is the plugin author's manual.

Implement a hook with ``@router_core.hookimpl`` on a function of the same name in the module
your entry point names (group ``router_core.plugins``). Take only the arguments you need:
pluggy passes them by keyword. Implementations may be ``async def``; the core awaits them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .brokers import Broker, RegisterBroker
    from .models import ExecutionReport, Order, OrderResult, Plan

PROJECT = "router_core"
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def router_register_brokers(register: RegisterBroker) -> None:
    """Register the Broker classes this plugin provides.

    Called once while plugins load, before any account is built. Call ``register`` once per
    ``Broker`` subclass; the core checks the name, the ``Config`` model, the ``capabilities``
    and that every abstract method is implemented, and refuses two brokers with one name.

    :param register: ``register(BrokerClass)``.

    Example::

        @hookimpl
        def router_register_brokers(register):
            register(HelloBroker)
    """


@hookspec(firstresult=True)
def router_parse_alert(raw: str, content_type: str, data: Any) -> dict[str, Any] | None:
    """Turn a webhook body in your dialect into a native alert dict (``schemas/alert.v1``).

    Called for every incoming body, before validation; the first implementation that returns a
    dict wins. Return ``None`` when the body is not yours, so the next dialect is tried. Raise
    ``AlertError(field, reason)`` when it *is* yours but is wrong; that refusal reaches the
    sender as is. The native dialect is tried last.

    :param raw: the body decoded as UTF-8.
    :param content_type: the media type without parameters, e.g. ``"text/plain"``.
    :param data: the body parsed as JSON when it is JSON, else ``None``.

    Example::

        @hookimpl
        def router_parse_alert(data):
            if isinstance(data, dict) and "signal" in data:
                return {"ticker": data["pair"], "action": data["signal"]}
            return None
    """


@hookspec
def router_check_plan(plan: Plan, context: dict[str, Any]) -> str | None:
    """Extra risk checks on one account's plan, after the built-in limits.

    Called once per account and alert, before anything is journaled for sending. Return a
    reason string to deny the whole plan (nothing is placed, the reason is reported and
    journaled), or ``None`` to let it pass.

    :param plan: the ``Plan`` with its legs, sized and rounded.
    :param context: ``{"alert": Alert, "account": AccountConfig, "position": Position,
        "balance": Balance | None}``.

    Example::

        @hookimpl
        def router_check_plan(plan):
            if plan.symbol.startswith("DOGE"):
                return "no meme coins on this account"
    """


@hookspec(firstresult=True)
def router_submit_order(
    broker: Broker, order: Order, context: dict[str, Any]
) -> OrderResult | None:
    """Send one order; the first non-``None`` result is the outcome of the leg.

    Called once per leg, after the leg's intent is durably journaled. The core's own
    implementation runs last (``trylast``) and calls ``broker.submit_order(order)``. Implement
    it with ``tryfirst=True`` to short-circuit (a shadow or approval mode) or with
    ``wrapper=True`` to observe (audit). Raising a ``BrokerError`` has the same effect as the
    broker raising it.

    :param broker: the account's Broker instance.
    :param order: the ``Order`` with its deterministic ``client_order_id``.
    :param context: ``{"alert_id": str, "intent_key": str, "leg": LegPurpose}``.

    Example::

        @hookimpl(tryfirst=True)
        def router_submit_order(order):
            if order.account == "shadow":
                return OrderResult(OrderStatus.DENIED, order.client_order_id, reason="shadow")
    """


@hookspec
def router_execution_finished(report: ExecutionReport) -> None:
    """Observe the final report of one alert: notify, count, export.

    Called once per alert after every leg has an outcome (or is ``unknown``). Each
    implementation runs isolated: an exception is logged and does not reach the others or the
    sender. Do slow work in the background; the core awaits async implementations.

    :param report: the ``ExecutionReport``; ``report.to_dict()`` is JSON-ready.

    Example::

        @hookimpl
        def router_execution_finished(report):
            if not report.ok:
                print("alert", report.alert_id, "needs attention")
    """
