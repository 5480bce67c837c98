"""Test kit for broker plugin authors: fixtures and the ``BrokerContract`` conformance suite.

Opt in from a test module or your root ``conftest.py``::

    pytest_plugins = ["router_core.testing"]

or on the command line: ``pytest -p router_core.testing``. The kit needs pytest and
pytest-asyncio; every contract test carries ``@pytest.mark.asyncio`` so it runs in strict and in
auto mode alike. Give async fixtures ``@pytest_asyncio.fixture`` (works in both modes).

Fixtures: ``plugin_manager`` (a fresh PluginSet without entry points), ``register_plugin``
(registers extra plugin objects on it), ``fake_clock``, ``broker_context`` and ``paper_broker``.
``serve_fake(module)`` runs a fake venue on a free loopback port for a test.

``BrokerContract`` is the suite every broker plugin runs in its own tests::

    class TestMyBroker(BrokerContract):
        known_symbol = "BTCUSD"
        unknown_symbol = "NOPEUSD"
        secrets = ["my-api-secret"]

        @pytest_asyncio.fixture
        async def broker(self, broker_context):
            ...  # a started Broker talking to your fake venue

Each test is gated by the broker's declared ``Capabilities`` and ``stub`` flag, and each failure
says what the broker did and what the contract expects, so pytest's assertion rewriting is
not needed here: PYTEST_DONT_REWRITE (which also keeps pytest from warning when a test module
imports this module before its ``pytest_plugins`` line is read).
"""

from __future__ import annotations

try:
    import pytest_asyncio  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - a clear message beats an import trace
    raise ImportError(
        "router_core.testing needs pytest-asyncio: pip install pytest-asyncio"
    ) from exc

from .contract import BrokerContract
from .fixtures import (
    FakeClock,
    SubmitSpy,
    add_plugin,
    broker_context,
    fake_clock,
    make_broker_context,
    paper_broker,
    plugin_manager,
    register_plugin,
)
from .loopback import free_port, serve_fake

__all__ = [
    "BrokerContract",
    "FakeClock",
    "SubmitSpy",
    "add_plugin",
    "broker_context",
    "fake_clock",
    "free_port",
    "make_broker_context",
    "paper_broker",
    "plugin_manager",
    "register_plugin",
    "serve_fake",
]
