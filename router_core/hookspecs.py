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
    from pydantic import BaseModel

    from .brokers import Broker, RegisterBroker
    from .models import ExecutionReport, Fill, Order, OrderResult, Plan

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


@hookspec
def router_fill_recorded(fill: Fill, context: dict[str, Any]) -> None:
    """Observe one execution the journal has just recorded: notify, count, export.

    Called under ``serve`` once per fill the journal records as new, from an account's fill
    stream or its REST catch-up after a reconnect (a fill that executed while disconnected);
    never for a trade id already recorded (the same fill seen again on the stream or through
    REST), so each execution is observed once per router. It runs after the fill and its leg
    are journaled, inside the account's stream: each implementation runs isolated (an
    exception is logged with the plugin's name, the stream and the other observers go on),
    and the core awaits async ones, so only enqueue here and send from a task of your own.
    Fills of orders the router did not place (by hand, another bot) are observed too.

    :param fill: the ``Fill``: ``trade_id``, ``symbol`` (the venue's name), ``side``,
        ``quantity``, ``price``, ``fee``, ``fee_currency``, ``time``; ``client_order_id`` is
        empty when the venue did not report one.
    :param context: ``{"account": str, "symbol": str, "client_order_id": str | None,
        "purpose": str | None, "alert_id": str | None, "leg_status": str | None,
        "source": str}``: the account; the symbol as the journal keeps it (the leg's, else
        the venue's); for a fill of one of the router's legs its client order id, purpose
        (``open``, ``close``, ...), alert id and the leg's status after this fill, all
        ``None`` for a foreign fill; and ``"stream"`` or ``"rest"``.

    Example::

        @hookimpl
        def router_fill_recorded(fill, context):
            owner = "router" if context["client_order_id"] else "foreign"
            print(context["account"], fill.side.value, fill.quantity, "@", fill.price, owner)
    """


@hookspec
def router_plugin_settings() -> type[BaseModel] | None:
    """Declare the pydantic model of this plugin's ``[plugins.NAME]`` table in the config file.

    Called when the router starts, before ``router_startup``; ``NAME`` is the plugin's name
    (its entry-point name, as ``alert-router plugins`` lists it). The core validates the table
    with the model (``{}`` when the file has no table, so give every field a default you can
    live with) and hands the instance to your ``router_startup``. A mistake is reported like
    an account's: file, key (``plugins.NAME.field``) and reason, never the value. Use
    ``model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)`` so a typo is
    an error and a pasted secret is not echoed. Secrets never sit in the table: name the
    environment variable that holds them (``*_env`` keys) and read it in ``router_startup``.
    A table for a plugin that is not loaded, or that declares no model, is an error.

    Example::

        from pydantic import BaseModel, ConfigDict

        class HelloSettings(BaseModel):
            model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
            greeting: str = "hello"

        @hookimpl
        def router_plugin_settings():
            return HelloSettings
    """


@hookspec
def router_startup(settings: BaseModel | None, context: dict[str, Any]) -> None:
    """Start what the plugin runs beside the router (a notifier's queue, a connection).

    Called once by ``Router.start`` (``serve``, ``send``), after the brokers started and
    before unfinished alerts are resumed, so a notifier already sees their reports. Async
    implementations are awaited in turn: start background work with
    ``asyncio.create_task`` and return, never wait on the network here. Raise
    ``ConfigError(reason, key="field")`` for a setting that cannot work (an environment
    variable that is not set): the core names the file and ``plugins.NAME.field`` and the
    router does not start. Any other exception also stops start-up, naming the plugin.

    :param settings: this plugin's own ``[plugins.NAME]`` table, validated by the model
        ``router_plugin_settings`` returned (an instance of it), or ``None`` when the plugin
        declares no model.
    :param context: ``{"clock": Clock, "state_dir": Path}``: the router's clock (use it for
        times and backoff sleeps, so tests can move it) and the directory of its state files.

    Example::

        @hookimpl
        async def router_startup(settings, context):
            print(settings.greeting, "at", context["clock"].time())
    """


@hookspec
def router_shutdown() -> None:
    """Stop what ``router_startup`` started: flush a queue within a bound, close clients.

    Called once by ``Router.close`` after the alerts in flight finished (their reports have
    reached ``router_execution_finished``) and before the brokers and the journal close; only
    when ``router_startup`` was called. Each implementation runs isolated: an exception is
    logged with the plugin's name and the others still run. Do not wait long (a stopping
    router is waiting): give pending work a few seconds, then drop it.

    Example::

        @hookimpl
        async def router_shutdown():
            print("closing")
    """
