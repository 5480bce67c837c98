"""Bad input gets a clear refusal naming the field, and nothing is sent: an unknown exchange, a
missing passphrase, an order type or flag the exchange lacks, an amount below the minimum. And
ccxt's exception classes land on the core's errors through the one table."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from router_ccxt.config import CcxtConfig
from router_ccxt.errors import error_table, translate
from router_ccxt.orders import truncated_amount
from router_kraken_futures.fake import FakeKrakenFutures
from router_kraken_spot.fake import FakeKraken

from router_core import (
    AmbiguousOutcome,
    AuthError,
    ConfigError,
    InsufficientFunds,
    InvalidOrder,
    LegPurpose,
    NotSupported,
    Order,
    OrderType,
    PermissionDenied,
    RateLimited,
    RetryClass,
    Router,
    Side,
    UnknownSymbol,
    VenueUnavailable,
    normalize_ticker,
)


def _refusal(settings: dict[str, Any]) -> tuple[str, str]:
    """(field, message) of the one error the settings are refused with."""
    with pytest.raises(ValidationError) as refused:
        CcxtConfig(**settings)
    [error] = refused.value.errors()
    return ".".join(str(part) for part in error["loc"]), error["msg"]


def test_unknown_exchange_is_refused_with_the_closest_ids() -> None:
    field, message = _refusal({"exchange": "bynance"})
    assert field == "exchange"
    assert "'bynance' is not an exchange id ccxt knows" in message
    assert "did you mean binance" in message


def test_missing_passphrase_for_okx_names_the_field() -> None:
    field, message = _refusal({"exchange": "okx", "api_key_env": "OKX_KEY",
                               "secret_env": "OKX_SECRET"})
    assert field == "password_env"
    assert "okx requires an API passphrase" in message and "requiredCredentials.password" in (
        message)


def test_missing_key_names_the_field() -> None:
    field, message = _refusal({"exchange": "kraken", "secret_env": "KRAKEN_SECRET"})
    assert (field, "kraken requires an API key" in message) == ("api_key_env", True)


@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"exchange": "kraken", "sandbox": True}, "sandbox", "no testnet"),
    ({"exchange": "kraken", "market_type": "swap"}, "market_type", "no swap markets"),
    ({"exchange": "kraken", "base_url": "http://example.com"}, "base_url", "https://"),
    ({"exchange": "kraken", "contract": "linear"}, "contract", "not spot"),
    ({"exchange": "kraken", "options": {"maxRetriesOnFailure": 3}}, "options",
     "re-send a failed order blindly"),
    ({"exchange": "kraken", "api_key_env": "kraken key pasted here"}, "api_key_env",
     "environment variable"),
])
def test_other_settings_are_checked_against_the_exchange(
    settings: dict[str, Any], field: str, words: str
) -> None:
    settings = {"api_key_env": "K", "secret_env": "S", **settings}
    found, message = _refusal(settings)
    assert found == field and words in message


def test_a_refused_account_stops_the_config_naming_the_account_and_field(
    tmp_path: Path
) -> None:
    path = tmp_path / "router.toml"
    path.write_text('[accounts.okx_main]\nbroker = "ccxt"\nexchange = "okx"\n'
                    'api_key_env = "OKX_KEY"\nsecret_env = "OKX_SECRET"\n')
    with pytest.raises(ConfigError) as refused:
        Router.from_config_file(path)
    assert "accounts.okx_main.password_env" in str(refused.value)


async def test_unset_environment_variable_names_the_setting(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any]
) -> None:
    broker = await make_broker(kraken.transport(), start=False,
                               **dict(kraken_account, secret_env="NOT_SET_ANYWHERE"))
    with pytest.raises(ConfigError) as refused:
        await broker.start()
    assert "secret_env" in str(refused.value) and "NOT_SET_ANYWHERE" in str(refused.value)
    assert kraken.calls == []


def _order(instrument: Any, **fields: Any) -> Order:
    fields.setdefault("quantity", Decimal("0.01"))
    fields.setdefault("side", Side.BUY)
    return Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                 **fields)


async def test_order_type_the_exchange_lacks_is_denied_unsent(
    make_broker: Callable[..., Any], kraken_futures: FakeKrakenFutures,
    futures_account: dict[str, Any]
) -> None:
    broker = await make_broker(httpx.ASGITransport(app=kraken_futures), **futures_account)
    instrument = await broker.resolve(normalize_ticker("PF_XBTUSD"))
    assert OrderType.TRAILING_STOP not in broker.capabilities.order_types

    with pytest.raises(NotSupported) as refused:
        await broker.submit_order(_order(instrument, order_type=OrderType.TRAILING_STOP,
                                         trail_amount=Decimal(100)))

    assert not refused.value.from_venue
    assert "trailing_stop orders are not supported on krakenfutures swap" in str(refused.value)
    assert kraken_futures.sendorders == []


async def test_reduce_only_on_a_spot_wallet_is_denied_unsent(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any]
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize_ticker("XBTUSD"))
    with pytest.raises(NotSupported, match="reduce-only"):
        await broker.submit_order(_order(instrument, side=Side.SELL, reduce_only=True,
                                         purpose=LegPurpose.CLOSE))
    assert kraken.add_order_calls == 0


@pytest.mark.parametrize(("quantity", "words"), [
    ("0.00005", "below the minimum 0.0001"),        # Kraken's ordermin for XBTUSD
    ("0.000000001", "truncates to nothing"),       # under one lot (8 decimals)
])
async def test_amount_below_the_minimum_is_denied_unsent(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any],
    quantity: str, words: str,
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize_ticker("XBTUSD"))
    with pytest.raises(InvalidOrder, match=words) as refused:
        await broker.submit_order(_order(instrument, quantity=Decimal(quantity)))
    assert not refused.value.from_venue
    assert kraken.add_order_calls == 0


async def test_off_lot_amount_is_truncated_never_rounded_up(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any]
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize_ticker("XBTUSD"))
    exchange = broker._exchange_object()

    @given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=12))
    def truncates(wanted: Decimal) -> None:
        sent = truncated_amount(exchange, _order(instrument, quantity=wanted))
        assert sent <= wanted and sent % instrument.lot_size == 0
        assert wanted - sent < instrument.lot_size

    truncates()


def test_ambiguous_tickers_are_refused_with_the_candidates() -> None:
    from router_ccxt.markets import MarketIndex

    def market(market_id: str, symbol: str, settle: str) -> dict[str, Any]:
        return {"id": market_id, "symbol": symbol, "base": "BTC", "quote": "USD",
                "settle": settle, "type": "swap", "linear": settle == "USD",
                "inverse": settle == "BTC", "precision": {"amount": 1, "price": 0.5},
                "limits": {}, "active": True}

    index = MarketIndex.build([market("PF_XBTUSD", "BTC/USD:USD", "USD"),
                               market("PI_XBTUSD", "BTC/USD:BTC", "BTC")], "swap", 4)
    assert index.find(normalize_ticker("KRAKEN:PF_XBTUSD")) is not None
    with pytest.raises(UnknownSymbol) as refused:
        index.find(normalize_ticker("KRAKEN:XBTUSD.P"))
    assert "BTC/USD:BTC (id PI_XBTUSD), BTC/USD:USD (id PF_XBTUSD)" in str(refused.value)
    linear = MarketIndex.build([market("PF_XBTUSD", "BTC/USD:USD", "USD"),
                                market("PI_XBTUSD", "BTC/USD:BTC", "BTC")], "swap", 4,
                               contract="linear")
    found = linear.find(normalize_ticker("KRAKEN:XBTUSD.P"))
    assert found is not None and found.venue["id"] == "PF_XBTUSD"


# -- the error table ------------------------------------------------------------------------------

TABLE = error_table("kraken")


@pytest.mark.parametrize(("raised", "places_order", "expected", "retry"), [
    (ccxt_async.RateLimitExceeded, True, RateLimited, RetryClass.WAIT),
    (ccxt_async.DDoSProtection, True, RateLimited, RetryClass.WAIT),
    (ccxt_async.RequestTimeout, True, AmbiguousOutcome, RetryClass.AMBIGUOUS),
    (ccxt_async.RequestTimeout, False, VenueUnavailable, RetryClass.RETRY_READ),
    (ccxt_async.NetworkError, True, AmbiguousOutcome, RetryClass.AMBIGUOUS),
    (ccxt_async.NetworkError, False, VenueUnavailable, RetryClass.RETRY_READ),
    (ccxt_async.ExchangeNotAvailable, True, AmbiguousOutcome, RetryClass.AMBIGUOUS),
    (ccxt_async.InsufficientFunds, True, InsufficientFunds, RetryClass.FATAL),
    (ccxt_async.InvalidOrder, True, InvalidOrder, RetryClass.FATAL),
    (ccxt_async.AuthenticationError, False, AuthError, RetryClass.FATAL),
    (ccxt_async.PermissionDenied, True, PermissionDenied, RetryClass.FATAL),
    (ccxt_async.BadSymbol, False, UnknownSymbol, RetryClass.FATAL),
    (ccxt_async.InvalidNonce, True, AuthError, RetryClass.RETRY_READ),
    (ccxt_async.DuplicateOrderId, True, AmbiguousOutcome, RetryClass.AMBIGUOUS),
    (ccxt_async.ExchangeError, True, AmbiguousOutcome, RetryClass.AMBIGUOUS),
])
def test_ccxt_exceptions_map_onto_the_core_errors(
    raised: type[Exception], places_order: bool, expected: type[Exception], retry: RetryClass
) -> None:
    error = translate(TABLE, raised("kraken {\"error\":[\"E\"]}"), exchange="kraken",
                      action="create_order", places_order=places_order, sent=True)
    assert type(error) is expected and error.retry is retry and error.from_venue
    assert error.venue_code == raised.__name__


def test_an_error_ccxt_raised_before_sending_is_a_denial() -> None:
    error = translate(TABLE, ccxt_async.ArgumentsRequired("kraken needs a price"),
                      exchange="kraken", action="create_order", places_order=True, sent=False)
    assert type(error) is InvalidOrder and not error.from_venue
    assert "create_order: refused before sending: ArgumentsRequired" in str(error)


@pytest.mark.parametrize(("code", "expected"), [
    ("EOrder:Insufficient funds", InsufficientFunds),
    ("EAPI:Rate limit exceeded", RateLimited),
    ("EService:Unavailable", AmbiguousOutcome),
])
async def test_kraken_error_codes_reach_the_core_through_ccxt(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any],
    code: str, expected: type[Exception],
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize_ticker("XBTUSD"))
    kraken.fail_next("AddOrder", code)
    with pytest.raises(expected) as refused:
        await broker.submit_order(_order(instrument))
    assert refused.value.from_venue  # type: ignore[attr-defined]


def test_ccxt_is_imported_only_for_a_ccxt_account(tmp_path: Path) -> None:
    """Loading the plugin and registering its broker imports no ccxt; building a ccxt
    account does."""
    script = (
        "import sys\n"
        "from router_core import make_plugin_manager\n"
        "plugins = make_plugin_manager(['ccxt'])\n"
        "assert 'ccxt' in plugins.brokers.names(), plugins.brokers.names()\n"
        "print('before', 'ccxt' in sys.modules)\n"
        "from router_ccxt.config import CcxtConfig\n"
        "CcxtConfig(exchange='kraken', api_key_env='K', secret_env='S')\n"
        "print('after', 'ccxt' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split("\n")
    assert out[:2] == ["before False", "after True"]


@pytest.mark.parametrize("mode", ["timeout", "http502", "html", "reset"])
async def test_a_lost_answer_is_ambiguous_and_found_by_client_order_id(
    make_broker: Callable[..., Any], kraken: FakeKraken, kraken_account: dict[str, Any],
    mode: str,
) -> None:
    broker = await make_broker(kraken.transport(), **kraken_account)
    instrument = await broker.resolve(normalize_ticker("XBTUSD"))
    order = _order(instrument)
    kraken.drop_next("AddOrder", mode=mode)  # Kraken executes it, the answer is lost

    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)

    found = await broker.find_order(order.client_order_id, instrument)
    assert found is not None and found.client_order_id == order.client_order_id
    assert found.filled_quantity == Decimal("0.01")
    assert kraken.add_order_calls == 1


async def test_a_refusal_ccxt_leaves_unclassified_is_still_a_rejection(
    make_broker: Callable[..., Any], kraken_futures: FakeKrakenFutures,
    futures_account: dict[str, Any]
) -> None:
    """Kraken Futures answers a reduce-only order that would not reduce with the status
    wouldNotReducePosition, which ccxt raises as a plain ExchangeError: nothing was placed."""
    broker = await make_broker(httpx.ASGITransport(app=kraken_futures), **futures_account)
    instrument = await broker.resolve(normalize_ticker("PF_XBTUSD"))
    with pytest.raises(InvalidOrder) as refused:
        await broker.submit_order(_order(instrument, side=Side.SELL, reduce_only=True,
                                         purpose=LegPurpose.CLOSE))
    assert refused.value.from_venue and refused.value.venue_code == "wouldNotReducePosition"
    assert not isinstance(refused.value, AmbiguousOutcome)


def test_an_unclassified_error_on_an_order_stays_ambiguous() -> None:
    error = translate(error_table("krakenfutures"),
                      ccxt_async.ExchangeError("krakenfutures: createOrder failed due to x"),
                      exchange="krakenfutures", action="create_order", places_order=True,
                      sent=True)
    assert isinstance(error, AmbiguousOutcome)
