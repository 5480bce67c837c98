"""Whatever arrives, intake answers with an Alert or an AlertError: never another exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router_core.alert import alert_errors
from router_core.dialects import pickmytrade, tradingview
from router_core.errors import AlertError
from router_core.intake import parse_alert
from router_core.plugins import make_plugin_manager

PLUGINS = make_plugin_manager(enabled=[])

TV_KEYS = sorted({*tradingview.MARKERS, "ticker", "action", "price", "exchange", "tv_exchange",
                  "tv_instrument", "trigger_price", "order_id", "orderId", "timenow",
                  "timestamp", "comment", "order", "sentiment", "quantity", "time"})
PMT_KEYS = sorted(pickmytrade.KNOWN)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.integers(), st.text(max_size=12),
    st.sampled_from(["buy", "sell", "close", "long", "short", "flat", "0", "1", "-1", "1e400",
                     "NaN", "{{ticker}}", "2024-05-01T13:30:00Z", "LMT", "MKT", "true"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=4)


def check(body: object) -> None:
    raw = json.dumps(body).encode()
    try:
        parse_alert(raw, "application/json", PLUGINS)
    except AlertError as exc:
        errors = alert_errors(exc)
        assert errors and all("\n" not in str(e) for e in errors)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(TV_KEYS), values, min_size=1, max_size=8))
def test_tradingview_like_bodies(body: dict) -> None:
    check({"market_position": "long", **body})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(PMT_KEYS), values, max_size=10),
       st.lists(st.dictionaries(st.sampled_from(sorted(pickmytrade.ACCOUNT_KEYS)), values,
                                max_size=4), max_size=2))
def test_pickmytrade_like_bodies(body: dict, accounts: list) -> None:
    check({"symbol": "NQ1!", "data": "buy", **body, "multiple_accounts": accounts})


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    try:
        parse_alert(raw, "text/plain", PLUGINS)
    except AlertError:
        pass
