"""The host health check (the retired demo) and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from router_kraken_futures.broker import KrakenFuturesBroker
from router_kraken_futures.config import HOSTS, KrakenFuturesConfig
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET

from router_core import AuthError, ConfigError, VenueUnavailable
from router_core import normalize_ticker as normalize


@pytest.mark.parametrize(("mode", "words"), [("redirect", "redirect (HTTP 302 to https://www"),
                                              ("html", "an HTML page")])
async def test_demo_host_that_is_no_api_fails_plainly(
    make_broker: Callable[..., Any], fake: Any, mode: str, words: str
) -> None:
    fake.mode = mode
    broker = await make_broker(start=False, environment="demo", base_url=None)
    assert broker.config.host == HOSTS["demo"]
    with pytest.raises(ConfigError) as info:
        await broker.start()
    message = str(info.value)
    assert words in message
    assert "https://demo-futures.kraken.com/derivatives/api/v3/instruments" in message
    assert "demo environment" in message and "reported retired" in message
    assert "accounts.f1.environment" in message


async def test_base_url_host_that_is_no_api_names_base_url(
    make_broker: Callable[..., Any], fake: Any
) -> None:
    fake.mode = "html"
    broker = await make_broker(start=False)
    with pytest.raises(ConfigError, match=r"accounts\.f1\.base_url") as info:
        await broker.check_host()
    assert "demo environment" not in str(info.value)


async def test_server_error_is_unavailable_not_config(
    make_broker: Callable[..., Any], fake: Any
) -> None:
    broker = await make_broker(start=False)

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"down"})

    import httpx

    broker._http()._http.transport = httpx.ASGITransport(app=broken)
    with pytest.raises(VenueUnavailable, match="HTTP 503"):
        await broker.check_host()


def test_config_hosts_and_base_url() -> None:
    assert KrakenFuturesConfig().host == "https://futures.kraken.com"
    assert KrakenFuturesConfig(environment="demo").host == "https://demo-futures.kraken.com"
    config = KrakenFuturesConfig(base_url="http://127.0.0.1:8787/derivatives/api/v3/")
    assert config.host == "http://127.0.0.1:8787"
    with pytest.raises(ValueError, match="base_url"):
        KrakenFuturesConfig(base_url="futures.kraken.com")
    with pytest.raises(ValueError):
        KrakenFuturesConfig(environment="testnet")


async def test_missing_secret_names_the_variable_not_a_value(
    make_broker: Callable[..., Any], context: Any
) -> None:
    del context.environ["KRAKEN_FUTURES_API_SECRET"]
    with pytest.raises(ConfigError) as info:
        await make_broker()
    assert "KRAKEN_FUTURES_API_SECRET is not set" in str(info.value)


async def test_secret_that_is_not_base64_is_a_config_error_without_the_value(
    make_broker: Callable[..., Any], context: Any
) -> None:
    context.environ["KRAKEN_FUTURES_API_SECRET"] = "not*base64*at*all"
    with pytest.raises(ConfigError) as info:
        await make_broker()
    assert "not valid base64" in str(info.value)
    assert "not*base64" not in str(info.value)


async def test_secrets_never_in_reprs_errors_or_logs(
    make_broker: Callable[..., Any], fake: Any, new_order: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    broker: KrakenFuturesBroker = await make_broker()
    inst = await broker.resolve(normalize("XBTUSD.P"))
    await broker.submit_order(new_order(inst, "0.001"))
    fake.keys = {FAKE_API_KEY: "b3RoZXIgc2VjcmV0"}  # the venue no longer takes our signature
    with pytest.raises(AuthError) as info:
        await broker.balance()
    texts = [repr(broker), repr(broker.config), str(broker.config.model_dump()),
             repr(broker._http()), str(vars(broker._http())), str(info.value), repr(info.value),
             str(vars(info.value)), caplog.text]
    authents = [r for r in fake.requests if r.api_key]
    assert authents
    for text in texts:
        assert FAKE_API_SECRET not in text
        assert FAKE_API_KEY not in text
        assert "fake kraken futures secret" not in text  # the decoded secret either
    assert "Authent" not in caplog.text and "APIKey" not in caplog.text
