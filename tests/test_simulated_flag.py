"""``Broker.simulated``: the broker, not a name, says whether an account's orders reach a real
market; the live-account rules (an open webhook in front of live accounts is refused,
``check-config`` asks for a passphrase) read it from the account's broker instance."""

from __future__ import annotations

import base64
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core import (
    Balance,
    Broker,
    BrokerConfig,
    BrokerContext,
    ConfigError,
    Instrument,
    InstrumentKind,
    NonceRegistry,
    OrderResult,
    OrderStatus,
    PluginError,
    Position,
    RateLimiterRegistry,
    hookimpl,
    make_plugin_manager,
)
from router_core.config import load_config
from router_core.security import WebhookSettings, live_accounts, refuse_unguarded_live

SPOT_KEYS = {"KRAKEN_API_KEY": "test-key",
             "KRAKEN_API_SECRET": base64.b64encode(b"k" * 64).decode()}


class SimConfig(BrokerConfig):
    demo: bool = False
    # names the old rules guessed from; they mean nothing now
    dry_run: bool = False
    validate_only: bool = False


class _Minimal(Broker):
    Config = SimConfig

    async def resolve(self, symbol):
        return Instrument("X", "X", "USD", InstrumentKind.SPOT, Decimal("0.01"), Decimal(1))

    async def balance(self, currency=None):
        return Balance("USD", Decimal(0), Decimal(0))

    async def position(self, instrument):
        return Position(instrument.symbol, Decimal(0))

    async def submit_order(self, order):
        return OrderResult(OrderStatus.DENIED, order.client_order_id)


class PlainBroker(_Minimal):
    name = "plain"


class DemoSwitchBroker(_Minimal):
    """Live by default; ``demo = true`` in the account's section makes it a demo account."""

    name = "demo-switch"
    built = 0
    closed = 0

    def __init__(self, config: SimConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        type(self).built += 1
        self.simulated = config.demo

    async def close(self) -> None:
        type(self).closed += 1


class SimulatorBroker(_Minimal):
    """A simulator by class; ``demo = false`` turns an instance live (a replay on real keys)."""

    name = "simulator"
    simulated = True

    def __init__(self, config: SimConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        if "demo" in config.model_fields_set and not config.demo:
            self.simulated = False


class UnbuildableBroker(_Minimal):
    name = "unbuildable"
    simulated = True

    def __init__(self, config: SimConfig, context: BrokerContext) -> None:
        raise ConfigError("environment variable UNBUILDABLE_KEY is not set")


class PaperImpostor(_Minimal):
    name = "paper"  # the name the old rules trusted


def _plugins(*classes: type[Broker]) -> Any:
    plugin = types.SimpleNamespace(
        router_register_brokers=hookimpl(lambda register: [register(c) for c in classes]))
    return make_plugin_manager(enabled=[], extra=[("sim-test", plugin)])


def _config(tmp_path: Path, plugins: Any, accounts: str) -> Any:
    path = tmp_path / "router.toml"
    path.write_text(f'[router]\nstate_dir = "state"\n\n{accounts}')
    return load_config(path, plugins.brokers)


def _context(tmp_path: Path, environ: dict[str, str] | None = None) -> BrokerContext:
    return BrokerContext(account="a", state_dir=tmp_path, nonces=NonceRegistry(None),
                         limiters=RateLimiterRegistry(), environ=environ or {})


# -- the flag on the contract and on the first-party brokers ---------------------------------------


def test_a_broker_is_live_unless_it_says_otherwise(tmp_path: Path) -> None:
    assert Broker.simulated is False
    assert PlainBroker.simulated is False
    assert PlainBroker(SimConfig(), _context(tmp_path)).simulated is False


def test_an_instance_overrides_the_class_default(tmp_path: Path) -> None:
    demo = DemoSwitchBroker(SimConfig(demo=True), _context(tmp_path))
    live = DemoSwitchBroker(SimConfig(), _context(tmp_path))
    assert (demo.simulated, live.simulated, DemoSwitchBroker.simulated) == (True, False, False)


def test_the_registry_refuses_a_flag_that_is_not_a_bool() -> None:
    class Vague(PlainBroker):
        name = "vague"
        simulated = "yes"  # type: ignore[assignment]

    with pytest.raises(PluginError, match=r"Vague\.simulated must be True or False"):
        _plugins(Vague)


def test_paper_is_simulated(tmp_path: Path) -> None:
    from router_paper.broker import PaperBroker

    assert PaperBroker.simulated is True
    assert PaperBroker(PaperBroker.Config(), _context(tmp_path)).simulated is True


@pytest.mark.parametrize(("settings", "simulated"), [
    ({}, False),
    ({"environment": "live"}, False),
    ({"environment": "demo"}, True),
    ({"base_url": "https://demo-futures.kraken.com/"}, True),
    ({"base_url": "https://demo-futures.kraken.com/derivatives/api/v3"}, True),
    # the host decides: "demo" in front of the live host (or a proxy, a fake) is not a demo
    ({"environment": "demo", "base_url": "https://futures.kraken.com"}, False),
    ({"environment": "demo", "base_url": "http://127.0.0.1:9"}, False),
])
def test_kraken_futures_is_simulated_on_its_demo_host_only(
    tmp_path: Path, settings: dict[str, str], simulated: bool
) -> None:
    from router_kraken_futures.broker import KrakenFuturesBroker

    config = KrakenFuturesBroker.Config.model_validate(settings)
    broker = KrakenFuturesBroker(config, _context(tmp_path))
    assert broker.simulated is simulated
    assert KrakenFuturesBroker.simulated is False


@pytest.mark.parametrize("validate", [False, True])
def test_kraken_spot_is_live_even_when_it_only_validates(tmp_path: Path, validate: bool) -> None:
    from router_kraken_spot.broker import KrakenSpotBroker

    config = KrakenSpotBroker.Config.model_validate({"validate": validate})
    broker = KrakenSpotBroker(config, _context(tmp_path, SPOT_KEYS))
    assert broker.simulated is False  # validate=true runs on live keys


# -- the live-account rules -----------------------------------------------------------------------


ACCOUNTS = """
[accounts.paper]
broker = "paper"

[accounts.demo]
broker = "kraken-futures"
environment = "demo"

[accounts.futures]
broker = "kraken-futures"

[accounts.validating]
broker = "kraken-spot"
validate = true

[accounts.off]
broker = "kraken-futures"
enabled = false

[accounts.stub]
broker = "tradovate"
app_id = "router"
"""


def test_live_accounts_are_those_whose_broker_is_not_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SPOT_KEYS.items():
        monkeypatch.setenv(name, value)
    plugins = make_plugin_manager(["paper", "kraken-futures", "kraken-spot", "propfirms"])
    config = _config(tmp_path, plugins, ACCOUNTS)
    # paper and the demo host are simulated, a stub and a disabled account place nothing
    assert live_accounts(config, plugins) == ["futures", "validating"]


def test_names_decide_nothing(tmp_path: Path) -> None:
    plugins = _plugins(PaperImpostor, PlainBroker)
    config = _config(tmp_path, plugins, '[accounts.p]\nbroker = "paper"\n\n'
                     '[accounts.dry]\nbroker = "plain"\ndry_run = true\nvalidate_only = true\n')
    assert live_accounts(config, plugins) == ["p", "dry"]


def test_the_flag_is_read_from_the_accounts_instance(tmp_path: Path) -> None:
    plugins = _plugins(DemoSwitchBroker, SimulatorBroker)
    config = _config(tmp_path, plugins,
                     '[accounts.demo]\nbroker = "demo-switch"\ndemo = true\n\n'
                     '[accounts.live]\nbroker = "demo-switch"\n\n'
                     '[accounts.sim]\nbroker = "simulator"\n\n'
                     '[accounts.replay]\nbroker = "simulator"\ndemo = false\n')
    built, closed = DemoSwitchBroker.built, DemoSwitchBroker.closed
    assert live_accounts(config, plugins) == ["live", "replay"]
    # each probe instance was closed again
    assert DemoSwitchBroker.built - built == DemoSwitchBroker.closed - closed == 2


def test_running_brokers_are_asked_instead_of_built(tmp_path: Path) -> None:
    plugins = _plugins(DemoSwitchBroker)
    config = _config(tmp_path, plugins, '[accounts.a]\nbroker = "demo-switch"\n\n'
                     '[accounts.b]\nbroker = "demo-switch"\n')
    running = DemoSwitchBroker(SimConfig(demo=True), _context(tmp_path))
    built = DemoSwitchBroker.built
    # a: the running instance says demo; b has none and is built to be asked
    assert live_accounts(config, plugins, {"a": running}) == ["b"]
    assert DemoSwitchBroker.built - built == 1


def test_a_broker_that_cannot_be_built_answers_with_its_class(tmp_path: Path) -> None:
    plugins = _plugins(UnbuildableBroker, PlainBroker)
    config = _config(tmp_path, plugins, '[accounts.u]\nbroker = "unbuildable"\n\n'
                     '[accounts.p]\nbroker = "plain"\n')
    assert live_accounts(config, plugins) == ["p"]


async def test_live_accounts_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    plugins = _plugins(DemoSwitchBroker)
    config = _config(tmp_path, plugins, '[accounts.d]\nbroker = "demo-switch"\ndemo = true\n\n'
                     '[accounts.l]\nbroker = "demo-switch"\n')
    assert live_accounts(config, plugins) == ["l"]


def test_an_open_webhook_may_front_demo_accounts_but_not_live_ones(tmp_path: Path) -> None:
    plugins = _plugins(DemoSwitchBroker)
    demo = _config(tmp_path, plugins, '[accounts.d]\nbroker = "demo-switch"\ndemo = true\n')
    refuse_unguarded_live(demo, plugins, WebhookSettings())
    live = _config(tmp_path, plugins, '[accounts.l]\nbroker = "demo-switch"\n')
    with pytest.raises(ConfigError, match="account\\(s\\) l trade live"):
        refuse_unguarded_live(live, plugins, WebhookSettings())
    # with instances at hand (a running router's), they are asked
    running = {"l": DemoSwitchBroker(SimConfig(demo=True), _context(tmp_path))}
    refuse_unguarded_live(live, plugins, WebhookSettings(), running)
