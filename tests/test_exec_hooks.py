"""The order path's hook calls with one implementation (the common case, taken without the
general loop): each implementation still gets exactly its declared arguments, by name, its
result awaited, its exception raised, and a second implementation or a wrapper is still run."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy
import pytest

from router_core import hookimpl, hookspecs
from router_core.errors import NotSupported
from router_core.hooks import HookCaller


def caller(*plugins: object) -> HookCaller:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for n, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{n}")
    return HookCaller(pm.hook)


class Reversed:
    """Declares two of the three arguments, in another order than the hookspec."""

    def __init__(self) -> None:
        self.got: list[tuple[Any, Any]] = []

    @hookimpl
    async def router_submit_order(self, order: Any, broker: Any) -> str:
        self.got.append((order, broker))
        return "placed"


async def test_one_implementation_gets_its_arguments_by_name() -> None:
    plugin = Reversed()
    result = await caller(plugin).submit_order("the-broker", "the-order", {})  # type: ignore[arg-type]
    assert result == "placed"
    assert plugin.got == [("the-order", "the-broker")]


class Nothing:
    @hookimpl
    def router_submit_order(self, order: Any) -> None:
        return None


async def test_one_implementation_answering_none_is_no_result() -> None:
    with pytest.raises(NotSupported):
        await caller(Nothing()).submit_order("b", "o", {})  # type: ignore[arg-type]


class Fails:
    @hookimpl
    async def router_check_plan(self, plan: Any) -> str:
        raise ValueError(f"bad plan {plan}")


async def test_one_implementation_raising_raises_its_exception() -> None:
    with pytest.raises(ValueError, match="bad plan p1"):
        await caller(Fails()).check_plan("p1", {})  # type: ignore[arg-type]


class Denies:
    @hookimpl
    def router_check_plan(self) -> str:
        return "denied by the second check"


class Passes:
    @hookimpl
    async def router_check_plan(self, context: Any) -> None:
        return None


async def test_every_check_runs_when_there_are_two() -> None:
    assert await caller(Denies(), Passes()).check_plan("p", {}) == (  # type: ignore[arg-type]
        "denied by the second check")
    assert await caller(Passes()).check_plan("p", {}) is None  # type: ignore[arg-type]
    assert await caller().check_plan("p", {}) is None  # type: ignore[arg-type]


class Wrapper:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl(wrapper=True)
    def router_submit_order(self, order: Any) -> Generator[None, Any, Any]:
        result = yield
        self.seen.append((order, result))
        return f"wrapped {result}"


async def test_a_wrapper_alone_still_sees_the_awaited_result() -> None:
    wrapper = Wrapper()
    assert await caller(Reversed(), wrapper).submit_order(
        "b", "o", {}) == "wrapped placed"  # type: ignore[arg-type]
    assert wrapper.seen == [("o", "placed")]
