"""Every call the core makes into plugins, in one typed place: one method per hook.

pluggy is synchronous. Called through ``pm.hook``, a firstresult hook stops at the first
``async def`` implementation (its coroutine is not ``None``) and a collecting hook hands back
coroutines nobody awaits. So ``HookCaller`` runs the implementations itself, the way pluggy's
``_multicall`` does: in pluggy's order, passing each only the arguments it declares
(``impl.argnames``), awaiting what it returns (datasette's ``await_me_maybe``), and letting
new-style wrappers (``wrapper=True``) see the awaited result. The context dicts are built here
as TypedDicts, so what a plugin receives is what its hookspec docstring documents.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Generator, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

import pluggy

from .errors import AlertError, ConfigError, NotSupported, PluginError

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from .brokers import Broker, RegisterBroker
    from .clock import Clock
    from .config import AccountConfig
    from .models import ExecutionReport, Fill, LegPurpose, Order, OrderResult, Plan, Position

log = logging.getLogger("router_core.hooks")

T = TypeVar("T")

_IS_WRAPPER = attrgetter("wrapper")


class SubmitContext(TypedDict):
    """``context`` of ``router_submit_order`` (see its hookspec)."""

    alert_id: str
    intent_key: str
    leg: LegPurpose


class PlanContext(TypedDict):
    """``context`` of ``router_check_plan`` (see its hookspec)."""

    account: AccountConfig
    position: Position


class StartupContext(TypedDict):
    """``context`` of ``router_startup`` (see its hookspec)."""

    clock: Clock
    state_dir: Path


class FillContext(TypedDict):
    """``context`` of ``router_fill_recorded`` (see its hookspec); the leg's keys are
    ``None`` for a foreign fill."""

    account: str
    symbol: str
    client_order_id: str | None
    purpose: str | None
    alert_id: str | None
    leg_status: str | None
    source: str


async def await_maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class _Waited(RuntimeError):
    """An implementation run outside the event loop awaited something that waits."""


def _run_now(coro: Coroutine[Any, Any, T], hook: str) -> T:
    """Run ``coro`` to its end here, without an event loop (its caller is synchronous). An
    ``async def`` implementation that never waits completes on the first step; one that waits
    on I/O cannot be resumed here, so it is closed and refused."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise _Waited(f"an async {hook} implementation waited on I/O; {hook} must not wait "
                  "(it runs outside the event loop)")


class HookCaller:
    """The typed facade over ``pm.hook``: the core calls plugins through these methods only."""

    def __init__(self, relay: pluggy.HookRelay) -> None:
        self._relay = relay
        # The core's own router_submit_order (``builtins``), which only forwards to the broker.
        # Looked up here, not at import: that module imports this one through ``plugins``.
        from .builtins import router_submit_order

        self._core_submit: Callable[..., Any] = router_submit_order

    async def submit_order(
        self, broker: Broker, order: Order, context: SubmitContext
    ) -> OrderResult:
        """``router_submit_order``: the first non-``None`` result is the leg's outcome."""
        impls = self._impls("router_submit_order")
        if len(impls) == 1 and impls[0].function is self._core_submit:
            # Nothing but the core's own implementation, which forwards to the broker: the
            # broker is called here, without the hook loop's and the forwarder's coroutines
            # (about 1.5 µs a leg). Any plugin's implementation or wrapper takes the loop.
            result = await broker.submit_order(order)
            results = [] if result is None else [result]
        else:
            results = await self._call(
                "router_submit_order",
                {"broker": broker, "order": order, "context": context},
                firstresult=True,
            )
        if not results:
            raise NotSupported("no router_submit_order implementation returned a result")
        return results[0]

    async def check_plan(self, plan: Plan, context: PlanContext) -> str | None:
        """``router_check_plan``: every implementation runs; the first non-empty reason, in
        pluggy's order, denies the plan."""
        reasons = await self._call("router_check_plan", {"plan": plan, "context": context})
        if not reasons:  # no check installed, or none said anything (every plan, every leg)
            return None
        return next((str(reason) for reason in reasons if reason), None)

    async def execution_finished(self, report: ExecutionReport) -> None:
        """``router_execution_finished``: each observer isolated; a failure is logged with the
        plugin's name and never hides the report from the others."""
        await self._call("router_execution_finished", {"report": report},
                         isolate=f"alert {report.alert_id}")

    async def fill_recorded(self, fill: Fill, context: FillContext) -> None:
        """``router_fill_recorded``: each observer isolated, like ``execution_finished``; a
        failure is logged with the plugin's name and never stops the fill stream."""
        await self._call("router_fill_recorded", {"fill": fill, "context": context},
                         isolate=f"fill {fill.trade_id} of account {context['account']}")

    def parse_alert(self, raw: str, content_type: str, data: Any) -> dict[str, Any] | None:
        """``router_parse_alert``: the first dialect that returns a dict. Synchronous because
        the webhook parses before it answers; ``async def`` dialects that do not wait work."""
        impls = self._impls("router_parse_alert")
        if not any(map(_IS_WRAPPER, impls)):
            return self._first_dialect(impls, raw, content_type, data)
        chain = self._call(
            "router_parse_alert",
            {"raw": raw, "content_type": content_type, "data": data},
            firstresult=True,
        )
        try:
            results = _run_now(chain, "router_parse_alert")
        except _Waited as exc:
            raise AlertError("body", str(exc)) from None
        if not results:
            return None
        if not isinstance(results[0], Mapping):
            raise AlertError("body", f"a dialect returned {type(results[0]).__name__}, not a dict")
        return dict(results[0])

    @staticmethod
    def _first_dialect(impls: list[pluggy.HookImpl], raw: str, content_type: str,
                       data: Any) -> dict[str, Any] | None:
        """``parse_alert`` without wrappers (the usual case, once per delivery): the dialects
        called here in pluggy's order, without the hook loop's coroutine (3.7 -> 1.8 µs a
        delivery). An ``async def`` dialect's coroutine is run as ``_call`` would."""
        pick = {"raw": raw, "content_type": content_type, "data": data}.__getitem__
        for impl in reversed(impls):
            result = impl.function(*map(pick, impl.argnames))  # by position, as pluggy passes
            if result is None:
                continue
            if type(result) is dict:  # what a dialect returns: no awaitable or Mapping check
                return dict(result)
            if inspect.isawaitable(result):
                try:
                    result = _run_now(await_maybe(result), "router_parse_alert")
                except _Waited as exc:
                    raise AlertError("body", str(exc)) from None
            if result is None:
                continue
            if not isinstance(result, Mapping):
                raise AlertError("body", f"a dialect returned {type(result).__name__}, not a dict")
            return dict(result)
        return None

    def register_brokers(self, register_for: Callable[[str], RegisterBroker]) -> None:
        """``router_register_brokers``: each implementation gets ``register_for(plugin_name)``,
        so every broker is registered under the plugin that provides it. Runs while plugins
        load, in registration order; a failure is a ``PluginError`` naming the plugin."""
        for impl in self._impls("router_register_brokers"):
            try:
                register = register_for(impl.plugin_name)
                result = impl.function(**_arguments(impl, {"register": register}))
                if inspect.iscoroutine(result):
                    _run_now(result, "router_register_brokers")
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"router_register_brokers failed: {type(exc).__name__}: {exc}",
                    plugin=impl.plugin_name,
                ) from exc

    def settings_models(self) -> dict[str, type[BaseModel]]:
        """``router_plugin_settings``: each plugin's settings model by plugin name (the name
        of its ``[plugins.NAME]`` table). A result that is not a pydantic model class is a
        ``PluginError`` naming the plugin."""
        from pydantic import BaseModel

        models: dict[str, type[BaseModel]] = {}
        for impl in self._impls("router_plugin_settings"):
            try:
                model = impl.function(**_arguments(impl, {}))
            except Exception as exc:
                raise PluginError(f"router_plugin_settings failed: {type(exc).__name__}: {exc}",
                                  plugin=impl.plugin_name) from exc
            if model is None:
                continue
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise PluginError(f"router_plugin_settings returned {model!r}, not a pydantic "
                                  "model class", plugin=impl.plugin_name)
            models[impl.plugin_name] = model
        return models

    async def startup(self, settings: Mapping[str, BaseModel], context: StartupContext, *,
                      file: str | None = None) -> None:
        """``router_startup``: each implementation in pluggy's order, awaited, with its own
        plugin's validated settings. A ``ConfigError`` it raises gets the config ``file`` and
        the plugin's table as its key (``plugins.NAME.field``); any other failure is a
        ``PluginError`` naming the plugin."""
        for impl in reversed(self._impls("router_startup")):
            if impl.wrapper:
                raise PluginError("wrapper=True is not supported on router_startup",
                                  plugin=impl.plugin_name)
            arguments = {"settings": settings.get(impl.plugin_name), "context": context}
            try:
                await await_maybe(impl.function(**_arguments(impl, arguments)))
            except ConfigError as exc:
                table = f"plugins.{impl.plugin_name}"
                key = f"{table}.{exc.key}" if exc.key else table
                raise ConfigError(exc.reason, file=exc.file or file, key=key) from None
            except Exception as exc:
                raise PluginError(f"router_startup failed: {type(exc).__name__}: {exc}",
                                  plugin=impl.plugin_name) from exc

    async def shutdown(self) -> None:
        """``router_shutdown``: each implementation isolated; a failure is logged with the
        plugin's name and the others still run."""
        await self._call("router_shutdown", {}, isolate="shutdown")

    def implemented(self, name: str) -> bool:
        """Whether any plugin implements hook ``name``: a caller can then skip building the
        arguments of a hook nobody implements (``router_check_plan`` runs for every leg)."""
        return bool(self._impls(name))

    def _impls(self, name: str) -> list[pluggy.HookImpl]:
        return getattr(self._relay, name).get_hookimpls()

    async def _call(
        self, name: str, kwargs: dict[str, Any], *, firstresult: bool = False,
        isolate: str | None = None,
    ) -> list[Any]:
        """pluggy's ``_multicall`` with awaiting: wrappers and implementations in pluggy's order
        (last registered and ``tryfirst`` first), results that are not ``None`` collected
        (only the first with ``firstresult``), then each wrapper's teardown in reverse.

        With ``isolate`` (what the call is about, for the log) an implementation's exception
        is logged with its plugin's name and the others still run."""
        impls = self._impls(name)
        if not impls:
            return []
        if len(impls) == 1 and not impls[0].wrapper and isolate is None:
            # The common case on the order path (the core's own submit_order, one plan
            # check): the loop below with one implementation and nothing to tear down.
            only = impls[0]
            result = only.function(*[kwargs[argname] for argname in only.argnames])
            if inspect.isawaitable(result):
                result = await result
            return [] if result is None else [result]
        results: list[Any] = []
        teardowns: list[Generator[None, Any, Any]] = []
        error: BaseException | None = None
        try:
            for impl in reversed(impls):
                # by position, in the order it declares them, as pluggy's ``_multicall`` does
                arguments = [kwargs[argname] for argname in impl.argnames]
                if impl.wrapper:
                    teardown = cast("Generator[None, Any, Any]", impl.function(*arguments))
                    next(teardown)  # the wrapper's code before its ``yield``
                    teardowns.append(teardown)
                    continue
                try:
                    result = impl.function(*arguments)
                    if inspect.isawaitable(result):  # await_maybe, without its frame: per leg
                        result = await result
                except Exception:
                    if isolate is None:
                        raise
                    log.exception("%s of plugin %s failed on %s; the others still run",
                                  name, impl.plugin_name, isolate)
                    continue
                if result is not None:
                    results.append(result)
                    if firstresult:
                        break
        except BaseException as exc:  # thrown into the wrappers, re-raised after them (pluggy)
            error = exc
        outcome: Any = (results[0] if results else None) if firstresult else results
        for teardown in reversed(teardowns):
            try:
                if error is not None:
                    teardown.throw(error)
                else:
                    teardown.send(outcome)
            except StopIteration as done:
                outcome, error = done.value, None
            except BaseException as exc:
                error = exc
            else:
                teardown.close()
                error = RuntimeError(f"a {name} wrapper yielded twice")
        if error is not None:
            raise error
        if firstresult:
            return [] if outcome is None else [outcome]
        return list(outcome)


def hook_caller(hooks: HookCaller | pluggy.HookRelay) -> HookCaller:
    """``hooks`` as a HookCaller; the router hands its runner and planner ``PluginSet.hook``."""
    return hooks if isinstance(hooks, HookCaller) else HookCaller(hooks)


def _arguments(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the implementation declares, as pluggy passes it (opt-in arguments)."""
    return {name: kwargs[name] for name in impl.argnames}
