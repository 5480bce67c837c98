"""alert-router's core: the public plugin API.

Everything a plugin may use is importable from here and nothing else is promised. Names are
loaded on first use, so ``import router_core`` stays cheap (the CLI's ``--help`` imports it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # plugin machinery
    "hookimpl": "router_core.plugins",
    "make_plugin_manager": "router_core.plugins",
    "PluginSet": "router_core.plugins",
    # brokers
    "Broker": "router_core.brokers",
    "BrokerConfig": "router_core.brokers",
    "BrokerContext": "router_core.brokers",
    "Capabilities": "router_core.brokers",
    "RegisterBroker": "router_core.brokers",
    "ENV_NAME_PATTERN": "router_core.brokers",
    "ENV_NAME_MAX_LENGTH": "router_core.brokers",
    # models
    "AccountKind": "router_core.models",
    "Action": "router_core.models",
    "Balance": "router_core.models",
    "Bracket": "router_core.models",
    "CanonicalSymbol": "router_core.models",
    "ExecutionReport": "router_core.models",
    "Fill": "router_core.models",
    "Instrument": "router_core.models",
    "InstrumentKind": "router_core.models",
    "Leg": "router_core.models",
    "LegReport": "router_core.models",
    "LegPurpose": "router_core.models",
    "Order": "router_core.models",
    "OrderResult": "router_core.models",
    "OrderStatus": "router_core.models",
    "OrderType": "router_core.models",
    "Plan": "router_core.models",
    "Position": "router_core.models",
    "PositionReport": "router_core.models",
    "QuantityType": "router_core.models",
    "Sentiment": "router_core.models",
    "Side": "router_core.models",
    "TimeInForce": "router_core.models",
    # errors
    "RetryClass": "router_core.errors",
    "RouterError": "router_core.errors",
    "AlertError": "router_core.errors",
    "ConfigError": "router_core.errors",
    "PluginError": "router_core.errors",
    "BrokerError": "router_core.errors",
    "AuthError": "router_core.errors",
    "PermissionDenied": "router_core.errors",
    "InsufficientFunds": "router_core.errors",
    "InvalidOrder": "router_core.errors",
    "UnknownSymbol": "router_core.errors",
    "MarketClosed": "router_core.errors",
    "RateLimited": "router_core.errors",
    "VenueUnavailable": "router_core.errors",
    "AmbiguousOutcome": "router_core.errors",
    "NotSupported": "router_core.errors",
    "OrderNotFound": "router_core.errors",
    # helpers shared by venue plugins
    "Clock": "router_core.clock",
    "SystemClock": "router_core.clock",
    "NonceSource": "router_core.nonces",
    "NonceRegistry": "router_core.nonces",
    "key_fingerprint": "router_core.nonces",
    "DecayingCounter": "router_core.ratelimit",
    "RateLimiterRegistry": "router_core.ratelimit",
    "round_down": "router_core.decimals",
    "round_to_step": "router_core.decimals",
    "decimals_step": "router_core.decimals",
    "format_decimal": "router_core.decimals",
    "to_decimal": "router_core.decimals",
    "normalize_ticker": "router_core.normalize",
    "AiohttpTransport": "router_core.http_transport",
    "NoCookies": "router_core.http_transport",
    "NOT_SENT_ERRORS": "router_core.http_transport",
    "shared_tls_context": "router_core.http_transport",
    "ErrorRule": "router_core.sdk",
    "ErrorTable": "router_core.sdk",
    "InstrumentCache": "router_core.sdk",
    "venue_http_client": "router_core.sdk",
    "VenueHttp": "router_core.venue_http",
    "VenueResponse": "router_core.venue_http",
    # the core's engine, for a plugin's end-to-end tests (config file in, reports out)
    "Router": "router_core.router",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'router_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


# The same names for type checkers and IDEs (never executed). Keep it in step with _EXPORTS:
# tests/test_public_api.py fails when the two lists differ.
if TYPE_CHECKING:
    from .brokers import (  # noqa: F401
        ENV_NAME_MAX_LENGTH,
        ENV_NAME_PATTERN,
        Broker,
        BrokerConfig,
        BrokerContext,
        Capabilities,
        RegisterBroker,
    )
    from .clock import Clock, SystemClock  # noqa: F401
    from .decimals import (  # noqa: F401
        decimals_step,
        format_decimal,
        round_down,
        round_to_step,
        to_decimal,
    )
    from .errors import (  # noqa: F401
        AlertError,
        AmbiguousOutcome,
        AuthError,
        BrokerError,
        ConfigError,
        InsufficientFunds,
        InvalidOrder,
        MarketClosed,
        NotSupported,
        OrderNotFound,
        PermissionDenied,
        PluginError,
        RateLimited,
        RetryClass,
        RouterError,
        UnknownSymbol,
        VenueUnavailable,
    )
    from .http_transport import (  # noqa: F401
        NOT_SENT_ERRORS,
        AiohttpTransport,
        NoCookies,
        shared_tls_context,
    )
    from .models import (  # noqa: F401
        AccountKind,
        Action,
        Balance,
        Bracket,
        CanonicalSymbol,
        ExecutionReport,
        Fill,
        Instrument,
        InstrumentKind,
        Leg,
        LegPurpose,
        LegReport,
        Order,
        OrderResult,
        OrderStatus,
        OrderType,
        Plan,
        Position,
        PositionReport,
        QuantityType,
        Sentiment,
        Side,
        TimeInForce,
    )
    from .nonces import NonceRegistry, NonceSource, key_fingerprint  # noqa: F401
    from .normalize import normalize_ticker  # noqa: F401
    from .plugins import PluginSet, hookimpl, make_plugin_manager  # noqa: F401
    from .ratelimit import DecayingCounter, RateLimiterRegistry  # noqa: F401
    from .router import Router  # noqa: F401
    from .sdk import ErrorRule, ErrorTable, InstrumentCache, venue_http_client  # noqa: F401
    from .venue_http import VenueHttp, VenueResponse  # noqa: F401
