"""Fixtures and helpers of the plugin authors' test kit (``router_core.testing``): a clock that
moves only when told, a broker context on a temporary folder, fresh plugin managers, the paper
broker. PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from ..brokers import Broker, BrokerContext
from ..models import Order
from ..nonces import NonceRegistry
from ..plugins import PluginSet, hookimpl, make_plugin_manager
from ..ratelimit import RateLimiterRegistry


class FakeClock:
    """A ``router_core.clock.Clock`` that only moves when told; ``sleep`` returns at once.

    ``sleeps`` records every requested sleep, so a test can assert a broker backed off.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = float(start)
        self._monotonic = 1_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back {seconds} seconds")
        self._wall += seconds
        self._monotonic += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)  # still a scheduling point, like a real sleep

    def __repr__(self) -> str:
        return f"<FakeClock time={self._wall} monotonic={self._monotonic}>"


def make_broker_context(
    state_dir: Path,
    *,
    account: str = "test",
    clock: FakeClock | None = None,
    environ: dict[str, str] | None = None,
) -> BrokerContext:
    """A BrokerContext on ``state_dir`` with fresh registries; ``environ`` is a plain dict."""
    clock = clock or FakeClock()
    state_dir.mkdir(parents=True, exist_ok=True)
    return BrokerContext(
        account=account,
        state_dir=state_dir,
        nonces=NonceRegistry(state_dir),
        limiters=RateLimiterRegistry(clock),
        clock=clock,
        environ={} if environ is None else environ,
    )


class SubmitSpy:
    """A plugin that records the client order id of every order reaching the submit hook,
    before any broker sees it: register it to count submissions (a venue that dedups by
    client order id would hide a double submit)."""

    def __init__(self) -> None:
        self.orders: list[str] = []

    @hookimpl(tryfirst=True)
    def router_submit_order(self, order: Order) -> None:
        self.orders.append(order.client_order_id)


def add_plugin(plugins: PluginSet, obj: object, name: str | None = None) -> str:
    """Register a plugin object (a module, class or instance with ``@hookimpl`` functions).

    Brokers it registers through ``router_register_brokers`` are collected at once.
    """
    name = name or f"test-plugin-{uuid.uuid4().hex[:8]}"
    plugins.register(obj, name=name)
    plugins.pm.check_pending()
    plugins.collect_brokers()
    return name


@pytest.fixture
def fake_clock() -> FakeClock:
    """A FakeClock starting at 2023-11-14T22:13:20Z."""
    return FakeClock()


@pytest.fixture
def broker_context(tmp_path: Path, fake_clock: FakeClock) -> BrokerContext:
    """A BrokerContext for account ``test``: state in ``tmp_path``, the fake clock, an empty
    ``environ`` dict you may fill (``broker_context.environ["MY_SECRET"] = "..."``)."""
    return make_broker_context(tmp_path / "state", clock=fake_clock)


@pytest.fixture
def plugin_manager() -> PluginSet:
    """A fresh PluginSet: the core's built-in plugins, no entry points."""
    return make_plugin_manager(enabled=[])


@pytest.fixture
def register_plugin(plugin_manager: PluginSet) -> Callable[..., str]:
    """``register_plugin(obj, name=None)`` adds a plugin object to ``plugin_manager``."""

    def register(obj: object, name: str | None = None) -> str:
        return add_plugin(plugin_manager, obj, name)

    return register


@pytest_asyncio.fixture
async def paper_broker(broker_context: BrokerContext) -> AsyncIterator[Broker]:
    """A started broker of the ``paper`` plugin with its default config.

    Skipped when the alert-router-paper distribution (package ``router_paper``) is missing.
    """
    try:
        module = importlib.import_module("router_paper.plugin")
    except ModuleNotFoundError as exc:
        if exc.name not in ("router_paper", "router_paper.plugin"):
            raise
        pytest.skip("paper_broker needs alert-router-paper: pip install -e plugins/paper")
    plugins = make_plugin_manager(enabled=[], extra=[("paper", module)])
    cls = plugins.brokers.get("paper")
    broker = cls(cls.Config(), broker_context)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()
