"""Capabilities per configured exchange and market type (and per linear or inverse contract),
read from ccxt's declarations, less what the router refuses there."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from router_ccxt.broker import CcxtBroker
from router_ccxt.capabilities import capabilities
from router_ccxt.config import CcxtConfig, describe

from router_core import AccountKind, Instrument, InstrumentKind, OrderType, TimeInForce
from router_core.testing import FakeClock

CONDITIONAL = {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
               OrderType.TAKE_PROFIT_LIMIT}


def _broker(tmp_path: Path, **settings: Any) -> CcxtBroker:
    """A broker built only to read its capabilities: no network, no secrets read."""
    from router_core import BrokerContext, NonceRegistry, RateLimiterRegistry

    clock = FakeClock()
    context = BrokerContext(account="c1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                            limiters=RateLimiterRegistry(clock), clock=clock, environ={})
    settings.setdefault("api_key_env", "K")
    settings.setdefault("secret_env", "S")
    return CcxtBroker(CcxtConfig(**settings), context)


@pytest.mark.parametrize(("exchange", "market_type", "present", "absent", "kind"), [
    ("kraken", "spot", {OrderType.TRAILING_STOP, *CONDITIONAL}, set(), AccountKind.CASH),
    ("krakenfutures", "swap", CONDITIONAL, {OrderType.TRAILING_STOP}, AccountKind.NET),
    ("bybit", "swap", CONDITIONAL, {OrderType.TRAILING_STOP}, AccountKind.NET),
    ("bybit", "spot", set(), {OrderType.TRAILING_STOP, *CONDITIONAL}, AccountKind.CASH),
    ("binance", "spot", CONDITIONAL, {OrderType.TRAILING_STOP}, AccountKind.CASH),
    ("binance", "swap", set(), {OrderType.TRAILING_STOP, *CONDITIONAL}, AccountKind.NET),
    ("okx", "swap", set(), {OrderType.TRAILING_STOP, *CONDITIONAL}, AccountKind.NET),
])
def test_capabilities_follow_the_exchange_and_market_type(
    tmp_path: Path, exchange: str, market_type: str, present: set[OrderType],
    absent: set[OrderType], kind: AccountKind,
) -> None:
    settings: dict[str, Any] = {"exchange": exchange, "market_type": market_type}
    if exchange == "okx":
        settings["password_env"] = "P"
    caps = _broker(tmp_path, **settings).capabilities

    assert {OrderType.MARKET, OrderType.LIMIT} | present <= caps.order_types
    assert not absent & caps.order_types
    assert caps.kind is kind
    assert caps.reduce_only is (market_type != "spot")
    assert {TimeInForce.GTC, TimeInForce.IOC} <= caps.time_in_force
    assert (TimeInForce.FOK in caps.time_in_force) is (exchange not in ("kraken",
                                                                        "krakenfutures"))
    assert caps.find_order and caps.cancel


def test_attached_brackets_where_ccxt_declares_them(tmp_path: Path) -> None:
    assert _broker(tmp_path, exchange="bybit", market_type="swap").capabilities.attached_brackets
    assert not _broker(tmp_path, exchange="kraken").capabilities.attached_brackets


def test_two_accounts_of_one_class_differ(tmp_path: Path) -> None:
    spot = _broker(tmp_path, exchange="kraken")
    futures = _broker(tmp_path, exchange="krakenfutures", market_type="swap")
    assert type(spot) is type(futures)
    assert spot.capabilities != futures.capabilities
    assert CcxtBroker.capabilities != spot.capabilities  # the class default is not read


def test_sandbox_accounts_are_simulated(tmp_path: Path) -> None:
    assert _broker(tmp_path, exchange="bybit", sandbox=True).simulated
    assert not _broker(tmp_path, exchange="bybit").simulated


def test_linear_and_inverse_contracts_may_differ() -> None:
    features = copy.deepcopy(describe("bybit")["features"])
    features["swap"]["inverse"]["createOrder"] = dict(
        features["swap"]["inverse"]["createOrder"], takeProfitPrice=False, triggerPrice=False,
        stopLossPrice=False)
    has = describe("bybit")["has"]
    linear = capabilities("bybit", has, features, "swap", "linear", finds_orders=True)
    inverse = capabilities("bybit", has, features, "swap", "inverse", finds_orders=True)
    assert OrderType.STOP in linear.order_types and OrderType.STOP not in inverse.order_types
    assert linear.kind is inverse.kind  # how the account holds positions does not vary


def test_capabilities_for_reads_the_instruments_sub_type(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    broker = _broker(tmp_path, exchange="bybit", market_type="swap")
    features = copy.deepcopy(broker._features)
    features["swap"]["inverse"]["createOrder"] = dict(
        features["swap"]["inverse"]["createOrder"], attachedStopLossTakeProfit=None)
    monkeypatch.setattr(broker, "_features", features)

    def instrument(sub_type: str) -> Instrument:
        from decimal import Decimal

        return Instrument("BTC/USD:BTC", "BTC", "USD", InstrumentKind.PERPETUAL, Decimal("0.5"),
                          Decimal(1), venue={"sub_type": sub_type, "type": "swap"})

    assert broker.capabilities_for(instrument("linear")).attached_brackets
    assert not broker.capabilities_for(instrument("inverse")).attached_brackets
