"""Hostile and random bodies: 4xx, never 5xx, nothing journaled, nothing placed.

Hand-picked malformed bodies, Hypothesis bytes through the raw-body path, and Schemathesis
against the app's own OpenAPI document (which embeds the native alert schema, so many
generated bodies are valid alerts that really execute on the paper venue).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app
from router_core.testing import SubmitSpy

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "fuzz-passphrase-0123"
CONFIG = """
[router]
state_dir = "state"
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def _app(root: Path, passphrase: str | None) -> tuple[Any, Router, SubmitSpy]:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "router.toml"
    path.write_text(CONFIG)
    spy = SubmitSpy()
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"],
                                                                       extra=[("spy", spy)]))
    webhook = WebhookSettings(passphrase=SecretStr(passphrase) if passphrase else None)
    return create_app(router, webhook), router, spy


Post = Callable[..., httpx.Response]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Post, Router,
                                                                           SubmitSpy]]:
    """A started app on an event loop in a thread, so sync Hypothesis tests can call it."""
    app, router, spy = _app(tmp_path_factory.mktemp("fuzz"), PASSPHRASE)
    with start_blocking_portal() as portal:
        lifespan = app.router.lifespan_context(app)
        portal.call(lifespan.__aenter__)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        client = httpx.AsyncClient(transport=transport, base_url="http://router")

        def post(url: str, **kwargs: Any) -> httpx.Response:
            return portal.call(functools.partial(client.post, url, **kwargs))

        try:
            yield post, router, spy
        finally:
            portal.call(client.aclose)
            portal.call(lifespan.__aexit__, None, None, None)


def _deep(levels: int) -> bytes:
    return (b'{"a":' * levels) + b"1" + (b"}" * levels)


MALFORMED: dict[str, bytes] = {
    "truncated JSON": b'{"ticker": "BTCUSD", "action": "buy", "quantity": ',
    "empty": b"",
    "whitespace": b"   \n ",
    "null": b"null",
    "array": b"[1, 2, 3]",
    "string": b'"buy BTCUSD"',
    "number": b"42",
    "huge exponent": b'{"ticker":"BTCUSD","action":"buy","quantity":1e999999,"id":"h1"}',
    "huge integer": b'{"ticker":"BTCUSD","action":"buy","quantity":' + b"9" * 5000 + b"}",
    "NaN": b'{"ticker":"BTCUSD","action":"buy","quantity":NaN}',
    "Infinity": b'{"ticker":"BTCUSD","action":"buy","quantity":Infinity}',
    "negative quantity": b'{"ticker":"BTCUSD","action":"buy","quantity":-1}',
    "deep nesting 5000": _deep(5000),
    "deep nesting 40": _deep(40),
    "invalid UTF-8": b'{"ticker":"BTC\xff\xfeUSD","action":"buy"}',
    "lone surrogate": b'{"ticker":"\\ud800","action":"buy","quantity":1}',
    "NUL bytes": b'{"ticker":"BTC\x00USD","action":"buy","quantity":1}',
    "BOM only": b"\xef\xbb\xbf",
    "unknown field": b'{"ticker":"BTCUSD","action":"buy","quantity":1,"rm -rf":true}',
    "long ticker": b'{"ticker":"' + b"A" * 20000 + b'","action":"buy","quantity":1}',
    "duplicate keys": b'{"ticker":"BTCUSD","ticker":"ETHUSD","action":"buy","quantity":1}',
    "wrong types": b'{"ticker":["BTCUSD"],"action":{"x":1},"quantity":true}',
    "plain text": b"buy 1 BTCUSD now please",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_malformed_bodies_get_4xx_and_place_nothing(
    guarded: tuple[Post, Router, SubmitSpy], body: bytes, content_type: str
) -> None:
    post, router, spy = guarded
    response = post("/webhook?wait=true", content=body,
                           headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert PASSPHRASE not in response.text
    assert spy.orders == []
    assert router.journal.recent_alerts(5) == []


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.one_of(
    st.binary(max_size=512),
    st.text(max_size=256).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                 max_leaves=20).map(lambda v: json.dumps(v).encode()),
), content_type=st.sampled_from(["application/json", "text/plain", "text/plain; charset=utf-8"]))
def test_random_bodies_never_5xx(
    guarded: tuple[Post, Router, SubmitSpy], body: bytes, content_type: str
) -> None:
    post, router, spy = guarded
    before = len(router.journal.recent_alerts(1000)), len(spy.orders)
    response = post("/webhook", content=body, headers={"Content-Type": content_type})
    assert response.status_code < 500, response.text
    assert response.status_code in (401, 413, 415, 422), response.text  # no passphrase: no 200
    assert (len(router.journal.recent_alerts(1000)), len(spy.orders)) == before
    assert PASSPHRASE not in response.text


# -- Schemathesis ---------------------------------------------------------------------------------

schemathesis = pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """No passphrase (paper only): generated alerts get past auth and really execute."""
    app, _router, _spy = _app(tmp_path_factory.mktemp("schemathesis"), None)
    return app


@pytest.fixture(scope="module")
def api_schema(open_app: Any) -> Any:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", open_app)
    # The coverage phase enumerates ~1000 boundary cases regardless of max_examples; the
    # fuzzing phase (max_examples per operation) keeps this test bounded.
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_openapi_fuzz_finds_no_server_error(case: Any) -> None:
    from schemathesis.checks import not_a_server_error

    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    if case.path.startswith("/webhook") and response.status_code == 200:
        # an execution that crashed would still be a 200 (the alert was journaled): fail it here
        assert "execution failed" not in response.text, response.text
