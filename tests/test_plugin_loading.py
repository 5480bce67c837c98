"""Plugin discovery: failures stop start-up with a message naming plugin, module, distribution."""

from __future__ import annotations

import pytest

from router_core.errors import PluginError
from router_core.plugins import make_plugin_manager

GOOD = """
from router_core import Broker, Balance, Position, hookimpl, Instrument, InstrumentKind
from decimal import Decimal

class Echo(Broker):
    name = "echo"
    async def resolve(self, symbol):
        return Instrument(symbol.ticker, symbol.base or "X", symbol.quote or "USD",
                          InstrumentKind.SPOT, Decimal("0.01"), Decimal("1"))
    async def balance(self, currency=None):
        return Balance("USD", Decimal(0), Decimal(0))
    async def position(self, instrument):
        return Position(instrument.symbol, Decimal(0))
    async def submit_order(self, order):
        raise NotImplementedError

@hookimpl
def router_register_brokers(register):
    register(Echo)
"""


def test_enabled_plugin_loads_and_registers_its_broker(fake_distribution):
    fake_distribution("fakeplug-good", {"good": "fakeplug_good"}, {"fakeplug_good": GOOD})
    plugins = make_plugin_manager(["good"])
    assert "echo" in plugins.brokers
    assert plugins.brokers.entry("echo").plugin == "good"


def test_only_enabled_names_are_imported(fake_distribution):
    fake_distribution(
        "fakeplug-boom",
        {"boom": "fakeplug_boom"},
        {"fakeplug_boom": "raise RuntimeError('imported!')"},
    )
    make_plugin_manager([])  # boom is installed but not enabled: never imported


def test_broken_plugin_names_plugin_module_and_distribution(fake_distribution):
    fake_distribution(
        "fakeplug-broken",
        {"broken": "fakeplug_broken"},
        {"fakeplug_broken": "import not_a_module_anywhere"},
    )
    with pytest.raises(PluginError) as info:
        make_plugin_manager(["broken"])
    message = str(info.value)
    assert "'broken'" in message
    assert "fakeplug_broken" in message
    assert "fakeplug-broken" in message
    assert "not_a_module_anywhere" in message


def test_enabled_but_not_installed(fake_distribution):
    with pytest.raises(PluginError, match="enabled but not installed: nope"):
        make_plugin_manager(["nope"])


def test_same_plugin_name_from_two_distributions(fake_distribution):
    fake_distribution("fakeplug-one", {"twin": "fakeplug_one"}, {"fakeplug_one": GOOD})
    fake_distribution("fakeplug-two", {"twin": "fakeplug_two"}, {"fakeplug_two": GOOD})
    with pytest.raises(PluginError) as info:
        make_plugin_manager(["twin"])
    assert "fakeplug-one" in str(info.value) and "fakeplug-two" in str(info.value)


def test_two_plugins_registering_one_broker_name(fake_distribution):
    fake_distribution("fakeplug-a", {"a": "fakeplug_a"}, {"fakeplug_a": GOOD})
    fake_distribution("fakeplug-b", {"b": "fakeplug_b"}, {"fakeplug_b": GOOD})
    with pytest.raises(PluginError, match="registered twice: by plugin 'a' and by plugin 'b'"):
        make_plugin_manager(["a", "b"])


def test_misspelt_hook_is_caught(fake_distribution):
    code = (
        "from router_core import hookimpl\n"
        "@hookimpl\ndef router_register_broker(register):\n    pass\n"
    )
    fake_distribution("fakeplug-typo", {"typo": "fakeplug_typo"}, {"fakeplug_typo": code})
    with pytest.raises(PluginError) as info:
        make_plugin_manager(["typo"])
    assert "router_register_broker" in str(info.value) and "'typo'" in str(info.value)


def test_incomplete_broker_is_refused(fake_distribution):
    code = GOOD.replace(
        "    async def submit_order(self, order):\n        raise NotImplementedError\n", ""
    )
    fake_distribution("fakeplug-half", {"half": "fakeplug_half"}, {"fakeplug_half": code})
    with pytest.raises(PluginError, match="does not implement submit_order"):
        make_plugin_manager(["half"])


def test_each_manager_is_fresh():
    first = make_plugin_manager([])
    second = make_plugin_manager([])
    assert first.pm is not second.pm
    assert first.brokers is not second.brokers
