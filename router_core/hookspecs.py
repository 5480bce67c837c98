"""The hooks a plugin can implement. Each docstring is the plugin author's manual.

Implement a hook with ``@router_core.hookimpl`` on a function of the same name in the module
your entry point names (group ``router_core.plugins``). Take only the arguments you need:
pluggy passes them by keyword. Implementations may be ``async def``; the core awaits them
(``router_parse_alert`` and ``router_register_brokers`` run outside the event loop: an async one
must not wait on I/O). A ``wrapper=True`` implementation (a generator, ``result = yield``) gets
the awaited result; old-style ``hookwrapper=True`` is refused at registration.
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

    Called once while plugins load, before any account is built (an ``async def``
    implementation must not wait). Call ``register`` once per ``Broker`` subclass; the core
    checks the name, the ``Config`` model, the ``capabilities`` and that every abstract method
    is implemented, and refuses two brokers with one name. An exception stops start-up with a
    message naming the plugin.

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
    sender as is. The native dialect is tried last. Parsing runs before the webhook answers,
    outside the event loop: an ``async def`` dialect is run to its end at once and must not
    wait on I/O (one that does is refused).

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

    Called once per account and alert (dry runs included) when the plan is sized and the
    built-in limits passed, before anything is journaled for sending. Every implementation
    runs (async ones awaited); the first non-empty reason, in pluggy's order, denies the whole
    plan: nothing is placed and every leg is reported ``denied`` with ``risk: <reason>``.
    Return ``None`` to let it pass. An exception fails the account's plan (nothing is sent).

    :param plan: the ``Plan`` with its legs, sized and rounded; ``plan.symbol``,
        ``plan.account``, ``plan.legs`` (each with its ``order``).
    :param context: ``{"account": AccountConfig, "position": Position}``: the account's
        settings (``name``, ``risk``, ...) and the net position the plan starts from (a zero
        placeholder when the plan did not need to read it; ``plan.position_before`` is then
        ``None``).

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

    Called once per leg, after the leg's intent is durably journaled, and again for each
    re-send of that leg with the same order and context: after ``VenueUnavailable``, after a
    ``RetryClass.WAIT`` refusal such as ``RateLimited``, or after a lost answer once lookups
    proved the order absent. The core's own implementation runs last (``trylast``) and calls
    ``broker.submit_order(order)``. Implement it with ``tryfirst=True`` to short-circuit (a
    shadow or approval mode; return ``None`` to let the order through) or with
    ``wrapper=True`` to observe the outcome (audit: ``result = yield`` receives the awaited
    result). Raising a ``BrokerError`` has the same effect as the broker raising it.

    :param broker: the account's Broker instance.
    :param order: the ``Order`` with its deterministic ``client_order_id``.
    :param context: ``{"alert_id": str, "intent_key": str, "leg": LegPurpose}``: the alert's
        id in the journal, its intent key, and the leg's purpose (``open``, ``close``, ...).

    Example::

        @hookimpl(tryfirst=True)
        def router_submit_order(order):
            if order.account == "shadow":
                return OrderResult(OrderStatus.DENIED, order.client_order_id, reason="shadow")
    """


@hookspec
def router_execution_finished(report: ExecutionReport) -> None:
    """Observe the final report of one alert: notify, count, export.

    Called once per alert after every leg has an outcome (or is ``unknown``), and for an
    alert refused as a whole (``report.refused``). Each implementation runs isolated: an
    exception is logged with the plugin's name and does not reach the others or the sender.
    Do slow work in the background; the core awaits async implementations.

    :param report: the ``ExecutionReport``; ``report.to_dict()`` is JSON-ready.

    Example::

        @hookimpl
        def router_execution_finished(report):
            if not report.ok:
                print("alert", report.alert_id, "needs attention")
    """
