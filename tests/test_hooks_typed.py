"""Every hook through the core's HookCaller: sync and async implementations, awaited results,
exactly the arguments and context keys the hookspec docstrings document, isolated observers."""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from router_paper import plugin as paper_plugin
from router_paper.broker import PaperBroker

from router_core import hookimpl, hookspecs
from router_core.errors import AlertError, PluginError
from router_core.journal import ClaimOutcome
from router_core.models import ExecutionReport, OrderResult, OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import FakeClock

HOOKS = (
    "router_register_brokers",
    "router_parse_alert",
    "router_check_plan",
    "router_submit_order",
    "router_execution_finished",
)


def spec_arguments(hook: str) -> set[str]:
    return set(inspect.signature(getattr(hookspecs, hook)).parameters)


def documented_context(hook: str) -> set[str]:
    """The keys of ``context`` as the hookspec docstring writes them (the plugin author's
    manual): ``:param context: ``{"key": Type, ...}``."""
    doc = getattr(hookspecs, hook).__doc__ or ""
    literal = re.search(r":param context: ``\{(.*?)\}``", doc, re.S)
    assert literal is not None, f"{hook}'s docstring documents no context dict"
    return set(re.findall(r'"(\w+)":', literal.group(1)))


class AsyncPaper(PaperBroker):
    """Registered by an ``async def router_register_brokers``: it exists only if awaited."""

    name = "apaper"


Seen = list[tuple[str, str, dict[str, Any]]]


class SyncHooks:
    """Every hook as a plain function, each taking every argument of its hookspec."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        self.seen.append(("router_register_brokers", "sync", {"register": register}))

    @hookimpl
    def router_parse_alert(self, raw, content_type, data):  # type: ignore[no-untyped-def]
        self.seen.append(("router_parse_alert", "sync",
                          {"raw": raw, "content_type": content_type, "data": data}))

    @hookimpl
    def router_check_plan(self, plan, context):  # type: ignore[no-untyped-def]
        self.seen.append(("router_check_plan", "sync", {"plan": plan, "context": context}))

    @hookimpl
    def router_submit_order(self, broker, order, context):  # type: ignore[no-untyped-def]
        self.seen.append(("router_submit_order", "sync",
                          {"broker": broker, "order": order, "context": context}))

    @hookimpl
    def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
        self.seen.append(("router_execution_finished", "sync", {"report": report}))


class AsyncHooks:
    """Every hook as ``async def``; what each returns only takes effect if it was awaited."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    @hookimpl
    async def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        self.seen.append(("router_register_brokers", "async", {"register": register}))
        register(AsyncPaper)

    @hookimpl
    async def router_parse_alert(self, raw, content_type, data):  # type: ignore[no-untyped-def]
        self.seen.append(("router_parse_alert", "async",
                          {"raw": raw, "content_type": content_type, "data": data}))
        if isinstance(data, dict) and "hello" in data:
            return {"ticker": data["hello"], "action": "buy", "quantity": "1", "price": "100"}
        return None

    @hookimpl
    async def router_check_plan(self, plan, context):  # type: ignore[no-untyped-def]
        self.seen.append(("router_check_plan", "async", {"plan": plan, "context": context}))
        return None  # a coroutine taken as the reason would deny every plan

    @hookimpl
    async def router_submit_order(self, broker, order, context):  # type: ignore[no-untyped-def]
        self.seen.append(("router_submit_order", "async",
                          {"broker": broker, "order": order, "context": context}))
        return None  # the core's own implementation places the order

    @hookimpl
    async def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
        self.seen.append(("router_execution_finished", "async", {"report": report}))


CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "{broker}"
fill_price = "100"
"""


async def start_router(
    tmp_path: Path, extra: Iterable[tuple[str, object]], broker: str = "paper"
) -> Router:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(broker=broker))
    plugins = make_plugin_manager([], extra=[("paper", paper_plugin), *extra])
    router = Router.from_config_file(path, plugins=plugins, clock=FakeClock())
    await router.start()
    return router


async def route(router: Router, alert: dict[str, Any]) -> ExecutionReport:
    acceptance = router.accept(json.dumps(alert).encode(), "application/json")
    assert acceptance.outcome is ClaimOutcome.NEW
    return await router.execute(acceptance.alert_id)


async def test_every_hook_sync_and_async_awaited_with_the_documented_arguments(
    tmp_path: Path,
) -> None:
    seen: Seen = []
    # the sync ones, registered last, run first: they return None, so the async ones run too
    router = await start_router(
        tmp_path, [("async", AsyncHooks(seen)), ("sync", SyncHooks(seen))], broker="apaper"
    )
    try:
        report = await route(router, {"hello": "BTCUSD"})  # only the async dialect knows it
    finally:
        await router.close()

    # awaited: the async broker exists, the async dialect parsed, the async check passed the
    # plan, the async submit let the core place the order, the async observer saw the report
    [leg] = report.legs
    assert (leg.broker, leg.result.status) == ("apaper", OrderStatus.FILLED)
    for hook in HOOKS:
        calls = [(kind, arguments) for name, kind, arguments in seen if name == hook]
        assert sorted(kind for kind, _ in calls) == ["async", "sync"], hook
        for kind, arguments in calls:
            assert set(arguments) == spec_arguments(hook), (hook, kind)
            assert not any(inspect.isawaitable(v) for v in arguments.values())
            if "context" in arguments:
                assert set(arguments["context"]) == documented_context(hook), (hook, kind)
    submitted = next(a for name, _, a in seen if name == "router_submit_order")
    assert submitted["context"]["alert_id"] == report.alert_id
    assert submitted["context"]["intent_key"] == report.intent_key
    assert submitted["context"]["leg"] is leg.purpose
    checked = next(a for name, _, a in seen if name == "router_check_plan")
    assert checked["context"]["account"].name == "alice"
    finished = [a["report"] for name, _, a in seen if name == "router_execution_finished"]
    assert finished == [report, report]


async def test_an_async_check_plan_denial_denies_the_plan_with_its_reason(
    tmp_path: Path,
) -> None:
    class Guard:
        @hookimpl
        async def router_check_plan(self, plan):  # type: ignore[no-untyped-def]
            return "no DOGE here" if plan.symbol.startswith("DOGE") else None

    router = await start_router(tmp_path, [("guard", Guard())])
    try:
        doge = await route(router, {"ticker": "DOGEUSD", "action": "buy", "quantity": "5",
                                    "price": "0.1"})
        btc = await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
        placed = router.brokers["alice"].ledger.count_orders()  # type: ignore[attr-defined]
    finally:
        await router.close()
    [denied] = doge.legs
    assert denied.result.status is OrderStatus.DENIED
    assert denied.result.reason == "risk: no DOGE here"
    # the guard's coroutine for BTC (returning None) is not a denial
    assert [leg.result.status for leg in btc.legs] == [OrderStatus.FILLED]
    assert placed == 1


async def test_a_failing_observer_does_not_hide_the_report_from_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    class Recorder:
        @hookimpl
        def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
            seen.append(report.alert_id)

    class Broken:
        @hookimpl
        def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
            raise RuntimeError("observer bug")

    class BrokenAsync:
        @hookimpl
        async def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
            raise RuntimeError("async observer bug")

    # registered last, the broken ones run first (pluggy's order)
    router = await start_router(
        tmp_path, [("recorder", Recorder()), ("broken", Broken()), ("broken-async", BrokenAsync())]
    )
    try:
        with caplog.at_level(logging.ERROR, logger="router_core.hooks"):
            report = await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
    finally:
        await router.close()
    assert seen == [report.alert_id]
    failures = [r.getMessage() for r in caplog.records if "failed on" in r.getMessage()]
    assert any("plugin broken " in m and report.alert_id in m for m in failures)
    assert any("plugin broken-async " in m for m in failures)


async def test_an_async_submit_result_is_the_outcome_and_wrappers_see_it_awaited(
    tmp_path: Path,
) -> None:
    wrapped: list[Any] = []

    class Shadow:
        @hookimpl(tryfirst=True)
        async def router_submit_order(self, order):  # type: ignore[no-untyped-def]
            return OrderResult(OrderStatus.DENIED, order.client_order_id, reason="shadow")

    class Audit:
        @hookimpl(wrapper=True)
        def router_submit_order(self, order):  # type: ignore[no-untyped-def]
            result = yield
            wrapped.append(result)
            return result

    router = await start_router(tmp_path, [("shadow", Shadow()), ("audit", Audit())])
    try:
        report = await route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
        placed = router.brokers["alice"].ledger.count_orders()  # type: ignore[attr-defined]
    finally:
        await router.close()
    [leg] = report.legs
    assert (leg.result.status, leg.result.reason) == (OrderStatus.DENIED, "shadow")
    assert wrapped == [leg.result]  # an OrderResult, not a coroutine
    assert placed == 0


def test_a_dialect_that_waits_is_refused_and_old_style_wrappers_are_refused() -> None:
    class Waits:
        @hookimpl
        async def router_parse_alert(self, data):  # type: ignore[no-untyped-def]
            import asyncio

            await asyncio.sleep(0)  # suspends: nothing can resume it outside the event loop
            return None

    plugins = make_plugin_manager([], extra=[("waits", Waits())])
    with pytest.raises(AlertError, match="must not wait"):
        plugins.calls.parse_alert("{}", "application/json", {})

    class OldStyle:
        @hookimpl(hookwrapper=True)
        def router_submit_order(self):  # type: ignore[no-untyped-def]
            yield

    with pytest.raises(PluginError, match="hookwrapper=True on router_submit_order"):
        make_plugin_manager([], extra=[("old", OldStyle())])


def test_dialects_run_in_pluggy_order_and_a_wrapper_sees_the_dict_they_return() -> None:
    """The parse hook's direct path (no wrapper) and its hook loop (a wrapper) read the same."""
    from types import MappingProxyType

    calls: list[str] = []

    class Late:
        @hookimpl(trylast=True)
        def router_parse_alert(self, data):  # type: ignore[no-untyped-def]
            calls.append("late")
            return {"ticker": "LATE", "action": "buy", "quantity": "1"}

    class First:
        @hookimpl(tryfirst=True)
        def router_parse_alert(self, content_type, raw):  # type: ignore[no-untyped-def]
            calls.append(f"first {content_type} {raw}")
            return MappingProxyType({"ticker": "FIRST"}) if raw == "first" else None

    class Listy:
        @hookimpl(tryfirst=True)
        def router_parse_alert(self, raw):  # type: ignore[no-untyped-def]
            return ["not", "a", "dict"] if raw == "listy" else None

    plugins = make_plugin_manager([], extra=[("late", Late()), ("first", First())])
    assert plugins.calls.parse_alert("first", "text/plain", None) == {"ticker": "FIRST"}
    assert type(plugins.calls.parse_alert("first", "text/plain", None)) is dict
    calls.clear()
    assert plugins.calls.parse_alert("other", "text/plain", None) == {  # native says no
        "ticker": "LATE", "action": "buy", "quantity": "1"}
    assert calls == ["first text/plain other", "late"]
    with pytest.raises(AlertError, match="a dialect returned list, not a dict"):
        make_plugin_manager([], extra=[("listy", Listy())]).calls.parse_alert(
            "listy", "text/plain", None)

    seen: list[Any] = []

    class Audit:
        @hookimpl(wrapper=True)
        def router_parse_alert(self, raw):  # type: ignore[no-untyped-def]
            result = yield
            seen.append(result)
            return {"ticker": "AUDITED"} if raw == "audit" else result

    wrapped = make_plugin_manager([], extra=[("late", Late()), ("audit", Audit())])
    assert wrapped.calls.parse_alert("audit", "text/plain", None) == {"ticker": "AUDITED"}
    assert seen == [{"ticker": "LATE", "action": "buy", "quantity": "1"}]
