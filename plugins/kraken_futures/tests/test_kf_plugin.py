"""Packaging: the entry point registers the broker; the config schema; the cost tables."""

from __future__ import annotations

from router_kraken_futures.broker import KrakenFuturesBroker
from router_kraken_futures.config import KrakenFuturesConfig
from router_kraken_futures.ratelimits import (
    DERIVATIVES_CAPACITY,
    DERIVATIVES_PER_SECOND,
    HISTORY_CAPACITY,
    HISTORY_PER_SECOND,
    derivatives_cost,
    history_cost,
)

from router_core import Capabilities, OrderType, TimeInForce, make_plugin_manager


def test_entry_point_registers_the_broker() -> None:
    plugins = make_plugin_manager(enabled=["kraken-futures"])
    assert plugins.brokers.get("kraken-futures") is KrakenFuturesBroker


def test_capabilities() -> None:
    caps: Capabilities = KrakenFuturesBroker.capabilities
    assert caps.order_types == frozenset(OrderType)
    assert caps.time_in_force == {TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}
    assert caps.separate_brackets and not caps.attached_brackets
    assert caps.reduce_only and caps.post_only and caps.can_short and caps.leverage
    assert caps.net_position and caps.single_order_flip and caps.find_order


def test_config_schema_documents_every_key() -> None:
    schema = KrakenFuturesConfig.model_json_schema()
    assert set(schema["properties"]) == {
        "base_url", "api_key_env", "api_secret_env", "environment", "default_contract",
        "reverse_mode", "process_before_seconds", "timeout_seconds", "ws_url",
        "stream_timeout_seconds",
    }
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reverse_mode"]["enum"] == ["two_legs", "single_order"]


def test_documented_costs() -> None:
    assert (DERIVATIVES_CAPACITY, DERIVATIVES_PER_SECOND * 10) == (500, 500)
    assert derivatives_cost("POST", "sendorder") == 10
    assert derivatives_cost("POST", "cancelorder") == 10
    assert derivatives_cost("GET", "accounts") == 2
    assert derivatives_cost("GET", "openpositions") == 2
    assert derivatives_cost("GET", "fills") == 2
    assert derivatives_cost("GET", "fills", {"lastFillTime": "x"}) == 25
    assert derivatives_cost("POST", "orders/status") == 1
    assert derivatives_cost("PUT", "leveragepreferences") == 10
    assert derivatives_cost("GET", "leveragepreferences") == 2
    assert derivatives_cost("POST", "batchorder", {"_instructions": "10"}) == 19
    assert (HISTORY_CAPACITY, round(HISTORY_PER_SECOND * 600)) == (100, 100)
    assert history_cost("/api/history/v2/orders") == 1
    assert history_cost("/api/history/v2/accountlogcsv") == 6
