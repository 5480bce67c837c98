"""router_core.testing: the fixtures, the hook semantics they expose, and BrokerContract itself.

The contract is run through pytester against a small in-memory broker: a correct one passes,
and each deliberately broken variant fails with a message that says what the broker did and
what the contract expects.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core import (
    Broker,
    BrokerContext,
    ExecutionReport,
    Instrument,
    InstrumentKind,
    Leg,
    LegPurpose,
    Order,
    OrderResult,
    OrderStatus,
    Plan,
    Side,
    hookimpl,
)
from router_core.clock import Clock
from router_core.models import LegReport
from router_core.plugins import PluginSet
from router_core.ratelimit import DecayingCounter
from router_core.testing import FakeClock

pytest_plugins = ["router_core.testing", "pytester"]


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# ---- FakeClock and broker_context ---------------------------------------------------------------


def test_fake_clock_is_a_clock_that_moves_only_when_told(fake_clock: FakeClock) -> None:
    clock: Clock = fake_clock
    start_wall, start_mono = clock.time(), clock.monotonic()
    assert clock.time() == start_wall and clock.monotonic() == start_mono
    fake_clock.advance(2.5)
    assert clock.time() == start_wall + 2.5
    assert clock.monotonic() == start_mono + 2.5
    with pytest.raises(ValueError, match="cannot go back"):
        fake_clock.advance(-1)


async def test_fake_clock_sleep_returns_at_once_and_advances(fake_clock: FakeClock) -> None:
    before = fake_clock.monotonic()
    await fake_clock.sleep(3600)
    assert fake_clock.monotonic() == before + 3600
    assert fake_clock.sleeps == [3600]


async def test_broker_context_uses_tmp_state_fake_clock_and_a_plain_environ(
    broker_context: BrokerContext, fake_clock: FakeClock, tmp_path: Path
) -> None:
    assert broker_context.state_dir.is_relative_to(tmp_path)
    assert broker_context.clock is fake_clock
    assert broker_context.transport is None
    broker_context.environ["HELLO_SECRET"] = "s3cr3t-value"  # type: ignore[index]
    secret = broker_context.secret("HELLO_SECRET", key="api_secret")
    assert secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret)
    first = broker_context.nonces.for_key("public-key").next()
    assert broker_context.nonces.for_key("public-key").next() > first
    # the limiter registry runs on the fake clock: waiting for a full bucket costs no real time
    limiter = broker_context.limiters.get("k", lambda clock: DecayingCounter(2, 1, clock=clock))
    for _ in range(4):
        await limiter.acquire(1)
    assert sum(fake_clock.sleeps) == pytest.approx(2)


def test_each_test_gets_a_fresh_context(broker_context: BrokerContext) -> None:
    assert dict(broker_context.environ) == {}  # the previous test's secret is gone


# ---- plugin_manager, register_plugin and the hooks they call ------------------------------------


def _instrument() -> Instrument:
    return Instrument("HELLOUSD", "HELLO", "USD", InstrumentKind.SPOT, Decimal("0.01"),
                      Decimal("0.1"))


def _order(account: str = "main") -> Order:
    return Order("cid-1", account, _instrument(), Side.BUY, Decimal(1))


class _EchoBroker(Broker):
    name = "echo"

    async def resolve(self, symbol):  # type: ignore[no-untyped-def]
        return _instrument()

    async def balance(self, currency=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def position(self, instrument):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def submit_order(self, order: Order) -> OrderResult:
        return OrderResult(OrderStatus.FILLED, order.client_order_id, "V1", order.quantity)


def test_plugin_manager_is_fresh_and_loads_no_entry_points(plugin_manager: PluginSet) -> None:
    assert plugin_manager.brokers.names() == []
    names = {name for name, _ in plugin_manager.pm.list_name_plugin()}
    assert "router_core.builtins" in names
    assert not names & set(plugin_manager.installed)  # installed, but not loaded


def test_register_plugin_collects_router_register_brokers(
    plugin_manager: PluginSet, register_plugin: Any
) -> None:
    class Echo:
        @hookimpl
        def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
            register(_EchoBroker)

    name = register_plugin(Echo(), "echo-plugin")
    assert plugin_manager.brokers.get("echo") is _EchoBroker
    assert plugin_manager.brokers.entry("echo").plugin == name == "echo-plugin"


def test_register_plugin_rejects_a_misspelt_hook(register_plugin: Any) -> None:
    from router_core.errors import PluginError

    class Typo:
        @hookimpl
        def router_register_broker(self, register):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises((PluginError, Exception), match="router_register_broker"):
        register_plugin(Typo(), "typo")


async def test_router_submit_order_core_impl_calls_the_broker(
    plugin_manager: PluginSet, broker_context: BrokerContext
) -> None:
    broker = _EchoBroker(_EchoBroker.Config(), broker_context)
    result = await maybe_await(
        plugin_manager.hook.router_submit_order(broker=broker, order=_order(), context={})
    )
    assert result == OrderResult(OrderStatus.FILLED, "cid-1", "V1", Decimal(1))


async def test_router_submit_order_tryfirst_short_circuits_the_broker(
    plugin_manager: PluginSet, register_plugin: Any, broker_context: BrokerContext
) -> None:
    class Shadow:
        @hookimpl(tryfirst=True)
        def router_submit_order(self, order):  # type: ignore[no-untyped-def]
            if order.account == "shadow":
                return OrderResult(OrderStatus.DENIED, order.client_order_id, reason="shadow")
            return None

    register_plugin(Shadow())
    broker = _EchoBroker(_EchoBroker.Config(), broker_context)
    hook = plugin_manager.hook.router_submit_order
    shadowed = await maybe_await(hook(broker=broker, order=_order("shadow"), context={}))
    assert shadowed.status is OrderStatus.DENIED and shadowed.reason == "shadow"
    live = await maybe_await(hook(broker=broker, order=_order("main"), context={}))
    assert live.status is OrderStatus.FILLED


def test_router_parse_alert_first_dialect_that_answers_wins(
    plugin_manager: PluginSet, register_plugin: Any
) -> None:
    class Signals:
        @hookimpl(tryfirst=True)
        def router_parse_alert(self, data):  # type: ignore[no-untyped-def]
            if isinstance(data, dict) and "signal" in data:
                return {"ticker": data["pair"], "action": data["signal"]}
            return None

    register_plugin(Signals())
    data = {"signal": "buy", "pair": "BTCUSD"}
    parsed = plugin_manager.hook.router_parse_alert(raw="{}", content_type="application/json",
                                                    data=data)
    assert parsed == {"ticker": "BTCUSD", "action": "buy"}


def test_router_check_plan_collects_every_denial(
    plugin_manager: PluginSet, register_plugin: Any
) -> None:
    class NoMemes:
        @hookimpl
        def router_check_plan(self, plan):  # type: ignore[no-untyped-def]
            return "no meme coins" if plan.symbol.startswith("DOGE") else None

    register_plugin(NoMemes())
    leg = Leg(LegPurpose.OPEN, _order())
    doge = Plan("main", "echo", "DOGEUSD", (leg,))
    btc = Plan("main", "echo", "BTCUSD", (leg,))
    hook = plugin_manager.hook.router_check_plan
    assert "no meme coins" in hook(plan=doge, context={})
    assert [r for r in hook(plan=btc, context={}) if r] == []


def test_router_execution_finished_reaches_every_observer(
    plugin_manager: PluginSet, register_plugin: Any
) -> None:
    seen: list[str] = []

    class Observer:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        @hookimpl
        def router_execution_finished(self, report):  # type: ignore[no-untyped-def]
            seen.append(f"{self.tag}:{report.alert_id}:{report.ok}")

    register_plugin(Observer("a"))
    register_plugin(Observer("b"))
    result = OrderResult(OrderStatus.REJECTED, "cid-1", reason="venue said no")
    report = ExecutionReport("alert-1", "intent-1",
                             (LegReport("main", "echo", LegPurpose.OPEN, result),))
    plugin_manager.hook.router_execution_finished(report=report)
    assert sorted(seen) == ["a:alert-1:False", "b:alert-1:False"]


# ---- BrokerContract, run on an in-memory broker through pytester --------------------------------

MEMORY_BROKER = '''
import logging
from dataclasses import replace
from decimal import Decimal

import pytest
import pytest_asyncio

from router_core import (
    AmbiguousOutcome, Balance, Broker, BrokerConfig, Capabilities, Instrument, InstrumentKind,
    InvalidOrder, NotSupported, OrderNotFound, OrderResult, OrderStatus, OrderType, Position, Side,
    UnknownSymbol,
)
from router_core.testing import BrokerContract

FAULT = None
STUB = False
log = logging.getLogger("mem")


class MemConfig(BrokerConfig):
    api_secret_env: str = "MEM_SECRET"


class MemBroker(Broker):
    name = "mem"
    Config = MemConfig
    stub = STUB
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        reduce_only=True, can_short=True, net_position=True,
    )

    def __init__(self, config, context):
        super().__init__(config, context)
        self.secret = context.secret(config.api_secret_env, key="api_secret")
        self.orders = {}
        self.held = Decimal(0)
        self.drop_next_reply = False

    def __repr__(self):
        if FAULT == "repr":
            return f"<MemBroker key={self.secret.get_secret_value()}>"
        return super().__repr__()

    async def resolve(self, symbol):
        if symbol.ticker != "BTCUSD":
            extra = f" (signed with {self.secret.get_secret_value()})" if FAULT == "error" else ""
            raise UnknownSymbol(f"mem: no instrument for {symbol.ticker}{extra}")
        return Instrument("XBTUSD", "BTC", "USD", InstrumentKind.SPOT, Decimal("0.5"),
                          Decimal("0.001"))

    async def balance(self, currency=None):
        return Balance("USD", Decimal(1000), Decimal(1000))

    async def position(self, instrument):
        return Position(instrument.symbol, self.held)

    async def reference_price(self, instrument):
        return Decimal(100)

    async def submit_order(self, order):
        if STUB:
            raise NotSupported("mem: placing orders is not implemented (stub)")
        if FAULT == "log":
            log.info("signing with %s", self.secret.get_secret_value())
        if order.order_type not in self.capabilities.order_types:
            raise NotSupported(f"mem: {order.order_type} orders are not supported")
        if order.quantity <= 0 or (order.quantity % order.instrument.lot_size
                                   and FAULT != "off-step"):
            raise InvalidOrder(f"mem: quantity {order.quantity} is off the lot step")
        signed = order.quantity if order.side is Side.BUY else -order.quantity
        if order.reduce_only and (self.held == 0 or (self.held > 0) == (signed > 0)):
            raise InvalidOrder("mem: reduce-only order would not reduce", from_venue=True)
        rests = order.order_type is OrderType.LIMIT and order.limit_price < 100
        if not rests:
            self.held += signed
        status = OrderStatus.ACCEPTED if rests else OrderStatus.FILLED
        result = OrderResult(status, order.client_order_id, "V" + str(len(self.orders)),
                             quantity=order.quantity)
        self.orders[order.client_order_id] = result
        if self.drop_next_reply:
            self.drop_next_reply = False
            raise AmbiguousOutcome("mem: the reply was lost after the venue executed")
        return result

    async def find_order(self, client_order_id, instrument):
        if FAULT == "find-raises":
            raise OrderNotFound("mem: no such order", from_venue=True)
        found = self.orders.get(client_order_id)
        if found is not None and FAULT == "find_order":
            return replace(found, client_order_id="someone-else")
        return found

    async def cancel_order(self, client_order_id, instrument):
        found = self.orders.get(client_order_id)
        if found is None or found.status is not OrderStatus.ACCEPTED:
            raise InvalidOrder("mem: not an open order", from_venue=True)
        self.orders[client_order_id] = replace(found, status=OrderStatus.CANCELED)
        return self.orders[client_order_id]


class TestMemBroker(BrokerContract):
    known_symbol = "BTCUSD"
    unknown_symbol = "NOPEUSD"
    secrets = ["mem-very-secret"]

    def make(self, broker_context):
        broker_context.environ["MEM_SECRET"] = "mem-very-secret"
        return MemBroker(MemConfig(), broker_context)

    @pytest_asyncio.fixture
    async def broker(self, broker_context):
        broker = self.make(broker_context)
        await broker.start()
        return broker

    @pytest_asyncio.fixture
    async def ambiguous_broker(self, broker_context):
        broker = self.make(broker_context)
        broker.drop_next_reply = True
        return broker

    @pytest.fixture
    def venue_rejection_order(self):
        def order(instrument):
            return self.make_order(self_broker_stand_in, instrument, quantity=Decimal(1),
                                   side=Side.SELL, reduce_only=True)
        return order


class _StandIn:
    account = "test"


self_broker_stand_in = _StandIn()
'''


def _run_contract(pytester: pytest.Pytester, fault: str | None = None, *, stub: bool = False,
                  plugin_flag: bool = False) -> pytest.RunResult:
    source = MEMORY_BROKER.replace("FAULT = None", f"FAULT = {fault!r}")
    source = source.replace("STUB = False", f"STUB = {stub!r}")
    if not plugin_flag:
        source = 'pytest_plugins = ["router_core.testing"]\n' + source
    pytester.makepyfile(test_mem_contract=source)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    args = ["-p", "router_core.testing"] if plugin_flag else []
    # in-process: a subprocess pays pytest's start-up (seconds on a loaded machine) each time
    return pytester.runpytest(*args, "-q", "-rs")


@pytest.mark.slow
def test_contract_passes_a_correct_broker(pytester: pytest.Pytester) -> None:
    result = _run_contract(pytester)
    # every contract test runs and passes; only the stub and fill-stream tests are skipped
    result.assert_outcomes(passed=14, skipped=2)


@pytest.mark.slow
def test_contract_works_when_registered_with_dash_p(pytester: pytest.Pytester) -> None:
    result = _run_contract(pytester, plugin_flag=True)
    result.assert_outcomes(passed=14, skipped=2)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "failed", "message"),
    [
        ("find_order", 2,
         "mem: find_order(*) returned an order with client_order_id 'someone-else'; the "
         "contract requires the order with the id it was looked up by"),
        ("repr", 1, "mem: repr(broker) contains the secret mem...; the contract requires "
         "secrets never to appear in reprs, error messages or logs"),
        ("error", 2, "mem: the error resolve(*NOPEUSD*) raised contains the secret mem...;"),
        ("off-step", 1,
         "mem: submit_order(quantity=0.0015) sent 0.0015; the contract requires a quantity "
         "off the lot step 0.001 to be rounded down to the step or denied before sending, "
         "never sent as is"),
        ("find-raises", 3,
         "mem: find_order(*) raised OrderNotFound('mem: no such order', from the venue); the "
         "contract requires the order found by its client order id"),
    ],
    ids=["find_order-other-id", "repr-leaks", "error-leaks", "off-step-sent", "find-raises"],
)
def test_contract_explains_what_a_broken_broker_did(
    pytester: pytest.Pytester, fault: str, failed: int, message: str
) -> None:
    result = _run_contract(pytester, fault)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) + outcomes.get("error", 0) >= failed, result.stdout.str()
    result.stdout.fnmatch_lines([f"*{message}*"])


@pytest.mark.slow
def test_contract_catches_a_secret_in_a_log_record(pytester: pytest.Pytester) -> None:
    result = _run_contract(pytester, "log")
    result.stdout.fnmatch_lines(["*log record from mem contains the secret mem...; the "
                                 "contract requires secrets never to reach a log line*"])
    assert result.ret != 0


@pytest.mark.slow
def test_contract_holds_a_stub_to_its_word(pytester: pytest.Pytester) -> None:
    result = _run_contract(pytester, stub=True)
    # order tests skip for a stub; the stub test itself passes
    result.stdout.fnmatch_lines(["*mem is a stub: it places no orders*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 5
