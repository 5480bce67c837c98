"""router_submit_order with nothing but the core's own implementation calls the broker
directly (HookCaller.submit_order): the same outcome, exception and "no result" as through the
hook loop; a plugin's implementation or wrapper, registered before or after the caller was
built, still runs. ``implemented`` tells whether anyone implements a hook."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from router_core import hookimpl
from router_core.errors import NotSupported, RateLimited
from router_core.plugins import make_plugin_manager


class Broker:
    def __init__(self, answer: Any = "placed", error: Exception | None = None) -> None:
        self.answer, self.error = answer, error
        self.sent: list[Any] = []

    async def submit_order(self, order: Any) -> Any:
        self.sent.append(order)
        if self.error is not None:
            raise self.error
        return self.answer


def core_only() -> Any:
    return make_plugin_manager([]).calls


async def test_the_core_alone_sends_to_the_broker() -> None:
    broker = Broker()
    assert await core_only().submit_order(broker, "o1", {}) == "placed"  # type: ignore[arg-type]
    assert broker.sent == ["o1"]


async def test_the_core_alone_raises_the_brokers_exception() -> None:
    with pytest.raises(RateLimited):
        await core_only().submit_order(  # type: ignore[arg-type]
            Broker(error=RateLimited("slow down")), "o1", {})


async def test_a_broker_answering_none_is_no_result() -> None:
    with pytest.raises(NotSupported, match="no router_submit_order implementation"):
        await core_only().submit_order(Broker(answer=None), "o1", {})  # type: ignore[arg-type]


class Shadow:
    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Any) -> str:
        return f"shadowed {order}"


class Audit:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl(wrapper=True)
    def router_submit_order(self, order: Any) -> Generator[None, Any, Any]:
        result = yield
        self.seen.append((order, result))
        return result


async def test_a_plugin_registered_after_the_caller_still_runs() -> None:
    plugins = make_plugin_manager([])
    calls = plugins.calls
    broker = Broker()
    plugins.pm.register(Shadow(), name="shadow")
    assert await calls.submit_order(broker, "o1", {}) == "shadowed o1"  # type: ignore[arg-type]
    assert broker.sent == []


async def test_a_wrapper_still_sees_the_brokers_result() -> None:
    audit = Audit()
    plugins = make_plugin_manager([], extra=[("audit", audit)])
    broker = Broker()
    assert await plugins.calls.submit_order(broker, "o1", {}) == "placed"  # type: ignore[arg-type]
    assert broker.sent == ["o1"]
    assert audit.seen == [("o1", "placed")]


class Check:
    @hookimpl
    def router_check_plan(self) -> str:
        return "no"


def test_implemented_follows_registration() -> None:
    plugins = make_plugin_manager([])
    assert plugins.calls.implemented("router_submit_order")  # the core's own
    assert not plugins.calls.implemented("router_check_plan")
    plugins.pm.register(Check(), name="check")
    assert plugins.calls.implemented("router_check_plan")
