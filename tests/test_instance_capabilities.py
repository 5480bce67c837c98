"""Capabilities per instance: a broker may replace ``self.capabilities`` in ``__init__`` from
the account's settings, and the core plans, sizes and attaches brackets by the instance's
declaration, never the class's (two accounts on one broker class, configured differently)."""

from __future__ import annotations

import dataclasses
import json
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core import (
    AccountKind,
    Balance,
    Broker,
    BrokerConfig,
    BrokerContext,
    Capabilities,
    Instrument,
    NotSupported,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    Router,
    Side,
    hookimpl,
    make_plugin_manager,
)


class ShiftyConfig(BrokerConfig):
    shorts: bool = False
    brackets: bool = False


class ShiftyBroker(Broker):
    """A spot wallet by class (no shorts, no brackets); an account may switch either on."""

    name = "shifty"
    Config = ShiftyConfig
    capabilities = Capabilities(order_types=frozenset({OrderType.MARKET}))

    def __init__(self, config: ShiftyConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        if config.shorts:
            self.capabilities = dataclasses.replace(
                type(self).capabilities, can_short=True, net_position=True,
                account_kind=AccountKind.NET)
        if config.brackets:
            self.capabilities = dataclasses.replace(self.capabilities, attached_brackets=True)
        self.held: dict[str, Decimal] = {}
        self.orders: dict[str, OrderResult] = {}
        self.sent: list[Any] = []

    async def resolve(self, symbol):
        return Instrument(f"{symbol.base}{symbol.quote}", symbol.base or "", symbol.quote or "",
                          symbol.kind, tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))

    async def balance(self, currency=None):
        return Balance("USD", Decimal(100_000), Decimal(100_000))

    async def position(self, instrument):
        return Position(instrument.symbol, self.held.get(instrument.symbol, Decimal(0)))

    async def submit_order(self, order):
        caps = self.capabilities
        if order.side is Side.SELL and not caps.can_short:
            held = self.held.get(order.instrument.symbol, Decimal(0))
            if order.quantity > held:
                raise NotSupported("shifty: this account cannot short")
        if (order.take_profit or order.stop_loss) and not caps.attached_brackets:
            raise NotSupported("shifty: this account takes no brackets")
        self.sent.append(order)
        signed = order.quantity if order.side is Side.BUY else -order.quantity
        symbol = order.instrument.symbol
        self.held[symbol] = self.held.get(symbol, Decimal(0)) + signed
        result = OrderResult(OrderStatus.FILLED, order.client_order_id, quantity=order.quantity,
                             filled_quantity=order.quantity, price=order.reference_price)
        self.orders[order.client_order_id] = result
        return result

    async def find_order(self, client_order_id, instrument):
        return self.orders.get(client_order_id)


CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.05

[accounts.wallet]
broker = "shifty"

[accounts.margin]
broker = "shifty"
shorts = true
brackets = true
"""


@pytest.fixture
async def router(tmp_path: Path) -> Any:
    plugin = types.SimpleNamespace(
        router_register_brokers=hookimpl(lambda register: register(ShiftyBroker)))
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(
        path, plugins=make_plugin_manager(enabled=[], extra=[("shifty", plugin)]))
    await router.start()
    yield router
    await router.close()


async def _route(router: Router, alert: dict[str, Any]) -> Any:
    accepted = router.accept(json.dumps(alert).encode(), "application/json")
    return await router.execute(accepted.alert_id)


def _legs(report: Any) -> dict[str, list[tuple[str, str, str]]]:
    legs: dict[str, list[tuple[str, str, str]]] = {}
    for leg in report.legs:
        legs.setdefault(leg.account, []).append(
            (leg.purpose.value, leg.side.value if leg.side else "", leg.result.status.value))
    return legs


def test_the_instances_differ_from_the_class(tmp_path: Path) -> None:
    from router_core import NonceRegistry, RateLimiterRegistry

    context = BrokerContext(account="a", state_dir=tmp_path, nonces=NonceRegistry(None),
                            limiters=RateLimiterRegistry())
    broker = ShiftyBroker(ShiftyConfig(shorts=True, brackets=True), context)
    assert broker.capabilities.kind is AccountKind.NET and broker.capabilities.attached_brackets
    assert ShiftyBroker.capabilities.kind is AccountKind.CASH
    assert not ShiftyBroker.capabilities.attached_brackets


async def test_a_sell_while_flat_opens_a_short_only_where_the_instance_can_short(
    router: Router,
) -> None:
    report = await _route(router, {"ticker": "BTCUSD", "action": "sell", "quantity": "0.5",
                                   "price": "100"})
    legs = _legs(report)
    assert legs["margin"] == [("open", "sell", "filled")]
    # the wallet (the class's capabilities: a cash account) never shorts: denied, not sent
    assert legs["wallet"] == [("open", "sell", "denied")]
    [wallet_leg] = [leg for leg in report.legs if leg.account == "wallet"]
    assert "spot cash cannot short" in (wallet_leg.result.reason or "")
    assert router.brokers["wallet"].sent == []  # type: ignore[attr-defined]
    assert router.brokers["margin"].sent[0].quantity == Decimal("0.5")  # type: ignore[attr-defined]


async def test_brackets_are_attached_only_where_the_instance_declares_them(
    router: Router,
) -> None:
    report = await _route(router, {"ticker": "BTCUSD", "action": "buy", "quantity": "0.5",
                                   "price": "100", "takeProfit": {"limitPrice": "120"},
                                   "stopLoss": {"stopPrice": "90"}})
    legs = _legs(report)
    assert legs["margin"] == [("open", "buy", "filled")]
    [sent] = router.brokers["margin"].sent  # type: ignore[attr-defined]
    assert sent.take_profit is not None and sent.stop_loss is not None
    # the wallet's class-level capabilities take no brackets: denied before sending
    assert [status for _, _, status in legs["wallet"]] == ["denied"]
    assert router.brokers["wallet"].sent == []  # type: ignore[attr-defined]
