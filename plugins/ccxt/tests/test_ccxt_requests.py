"""Bybit, Binance and OKX: the signed requests ccxt would send for each order the ccxt broker
supports there, built offline.

No network: the markets are a fixed snapshot in ccxt's market structure
(fixtures/markets.json, loaded with ``CcxtBroker.use_markets``) and the account's transport is
an ``httpx.MockTransport`` that records each request and answers as the exchange's success
answer looks. Each test checks the exchange's own parameter names (client order id, reduce-only,
post-only, time in force, trigger prices, attached stop loss and take profit) and that the
request is signed as the exchange documents it. What "verified" means here: the request
mapping; nothing reached the exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import pytest_asyncio
from router_ccxt.broker import CcxtBroker
from router_ccxt.config import CcxtConfig
from router_ccxt.orders import core_client_id, venue_client_id

from router_core import (
    Bracket,
    BrokerContext,
    LegPurpose,
    NonceRegistry,
    NotSupported,
    Order,
    OrderStatus,
    OrderType,
    RateLimiterRegistry,
    Side,
    TimeInForce,
    normalize_ticker,
)
from router_core.testing import FakeClock

MARKETS = json.loads((Path(__file__).parent / "fixtures" / "markets.json").read_text())
API_KEY = "offline-test-key"
SECRET = "offline-test-secret"
PASSPHRASE = "offline-test-passphrase"
ENVIRON = {"EX_KEY": API_KEY, "EX_SECRET": SECRET, "EX_PASSPHRASE": PASSPHRASE}

# What each exchange answers a placed order with (enough for ccxt to parse it).
_PLACED: dict[str, Callable[[httpx.Request], Any]] = {
    "binance": lambda request: {"symbol": "BTCUSDT", "orderId": 1, "status": "NEW",
                                "clientOrderId": _sent(request).get("newClientOrderId"),
                                "transactTime": 1_700_000_000_000, "origQty": "0",
                                "executedQty": "0", "type": "LIMIT", "side": "BUY"},
    "bybit": lambda request: {"retCode": 0, "retMsg": "OK", "time": 1_700_000_000_000,
                              "result": {"orderId": "1",
                                         "orderLinkId": _sent(request).get("orderLinkId")}},
    "okx": lambda request: {"code": "0", "msg": "", "data": [
        {"ordId": "1", "clOrdId": _sent(request).get("clOrdId"), "sCode": "0", "sMsg": ""}]},
}


def _sent(request: httpx.Request) -> dict[str, Any]:
    """The order's fields as the exchange reads them: binance a form (query or body), bybit a
    JSON object, okx a JSON list of one order (batch-orders) or an object."""
    text = request.content.decode()
    if text.startswith(("{", "[")):
        body = json.loads(text)
        return dict(body[0] if isinstance(body, list) else body)
    return dict(parse_qsl(text or urlsplit(str(request.url)).query))


def _signed_as_documented(exchange: str, request: httpx.Request) -> bool:
    """Recompute the signature the exchange's API documentation prescribes."""
    headers = request.headers
    body = request.content.decode()
    if exchange == "binance":  # HMAC-SHA256 (hex) of the query string or form body
        payload, _, signature = (body or urlsplit(str(request.url)).query).rpartition(
            "&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return headers.get("X-MBX-APIKEY") == API_KEY and hmac.compare_digest(expected,
                                                                            signature)
    if exchange == "bybit":  # HMAC-SHA256 (hex) of timestamp + key + recv window + body/query
        signed = body if request.method == "POST" else urlsplit(str(request.url)).query
        payload = (headers["X-BAPI-TIMESTAMP"] + API_KEY + headers["X-BAPI-RECV-WINDOW"]
                   + signed)
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return headers.get("X-BAPI-API-KEY") == API_KEY and hmac.compare_digest(
            expected, headers["X-BAPI-SIGN"])
    # okx: base64 HMAC-SHA256 of timestamp + method + path with query + body, with passphrase
    parts = urlsplit(str(request.url))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = headers["OK-ACCESS-TIMESTAMP"] + request.method + path + body
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()).decode()
    return (headers.get("OK-ACCESS-KEY") == API_KEY
            and headers.get("OK-ACCESS-PASSPHRASE") == PASSPHRASE
            and hmac.compare_digest(expected, headers["OK-ACCESS-SIGN"]))


class Recorder:
    """The exchange on the wire: records every request, answers a placed order as the
    exchange would and a look-up with ``lookup_answer``."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.requests: list[httpx.Request] = []
        self.lookup_answer: tuple[int, Any] = (200, {})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return httpx.Response(200, json=_PLACED[self.exchange](request))
        status, body = self.lookup_answer
        return httpx.Response(status, json=body)


@pytest_asyncio.fixture
async def offline(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``offline(exchange, market_type)`` -> (broker with the snapshot's markets, recorder)."""
    made: list[CcxtBroker] = []

    def build(exchange: str, market_type: str) -> tuple[CcxtBroker, Recorder]:
        recorder = Recorder(exchange)
        clock = FakeClock()
        context = BrokerContext(
            account="c1", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
            limiters=RateLimiterRegistry(clock), clock=clock,
            transport=httpx.MockTransport(recorder), environ=dict(ENVIRON))
        settings: dict[str, Any] = {
            "exchange": exchange, "market_type": market_type, "api_key_env": "EX_KEY",
            "secret_env": "EX_SECRET", "enable_rate_limit": False}
        if exchange == "okx":
            settings["password_env"] = "EX_PASSPHRASE"
        if exchange == "bybit":  # a unified account, said up front: ccxt would ask Bybit
            settings["options"] = {"enableUnifiedAccount": True, "enableUnifiedMargin": False}
        broker = CcxtBroker(CcxtConfig(**settings), context)
        broker.use_markets(MARKETS[exchange])
        made.append(broker)
        return broker, recorder

    yield build
    for broker in made:
        await broker.close()


def _order(instrument: Any, **fields: Any) -> Order:
    fields.setdefault("quantity", Decimal("0.01"))
    return Order(client_order_id=str(uuid.uuid4()), account="c1", instrument=instrument,
                 **fields)


BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT
P = Decimal  # prices in the table read as numbers

# (exchange, market type, ticker, the order's fields, path, what the exchange must receive)
CASES: list[tuple[str, str, str, dict[str, Any], str, dict[str, Any]]] = [
    # -- binance spot: /api/v3/order, newClientOrderId
    ("binance", "spot", "BINANCE:BTCUSDT", {"side": BUY}, "/api/v3/order",
     {"type": "MARKET", "side": "BUY", "quantity": "0.01"}),
    ("binance", "spot", "BINANCE:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000), "post_only": True},
     "/api/v3/order", {"type": "LIMIT_MAKER", "price": "40000"}),
    ("binance", "spot", "BINANCE:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000),
      "time_in_force": TimeInForce.IOC}, "/api/v3/order",
     {"type": "LIMIT", "timeInForce": "IOC"}),
    ("binance", "spot", "BINANCE:BTCUSDT",
     {"side": SELL, "order_type": OrderType.STOP, "stop_price": P(45000)}, "/api/v3/order",
     {"type": "STOP_LOSS", "stopPrice": "45000"}),
    ("binance", "spot", "BINANCE:BTCUSDT",
     {"side": SELL, "order_type": OrderType.STOP_LIMIT, "stop_price": P(45000),
      "limit_price": P(44900)}, "/api/v3/order",
     {"type": "STOP_LOSS_LIMIT", "stopPrice": "45000", "price": "44900"}),
    ("binance", "spot", "BINANCE:BTCUSDT",
     {"side": SELL, "order_type": OrderType.TAKE_PROFIT, "stop_price": P(60000)},
     "/api/v3/order", {"type": "TAKE_PROFIT", "stopPrice": "60000"}),
    # -- binance USDT-margined perpetuals: /fapi/v1/order
    ("binance", "swap", "BINANCE:BTCUSDT.P", {"side": BUY}, "/fapi/v1/order",
     {"type": "MARKET", "quantity": "0.01"}),
    ("binance", "swap", "BINANCE:BTCUSDT.P",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000), "post_only": True},
     "/fapi/v1/order", {"type": "LIMIT", "timeInForce": "GTX", "price": "40000"}),
    ("binance", "swap", "BINANCE:BTCUSDT.P",
     {"side": SELL, "reduce_only": True, "purpose": LegPurpose.CLOSE}, "/fapi/v1/order",
     {"type": "MARKET", "side": "SELL", "reduceOnly": "true"}),
    # -- bybit spot: /v5/order/create, orderLinkId
    ("bybit", "spot", "BYBIT:BTCUSDT", {"side": BUY}, "/v5/order/create",
     {"category": "spot", "orderType": "Market", "side": "Buy", "qty": "0.01",
      "marketUnit": "baseCoin"}),
    ("bybit", "spot", "BYBIT:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000), "post_only": True},
     "/v5/order/create", {"orderType": "Limit", "timeInForce": "PostOnly", "price": "40000"}),
    ("bybit", "spot", "BYBIT:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000),
      "time_in_force": TimeInForce.FOK}, "/v5/order/create", {"timeInForce": "FOK"}),
    # -- bybit linear and inverse perpetuals
    ("bybit", "swap", "BYBIT:BTCUSDT.P", {"side": BUY}, "/v5/order/create",
     {"category": "linear", "orderType": "Market", "qty": "0.01"}),
    ("bybit", "swap", "BYBIT:BTCUSD.P", {"side": BUY, "quantity": P(100)},
     "/v5/order/create", {"category": "inverse", "symbol": "BTCUSD", "qty": "100"}),
    ("bybit", "swap", "BYBIT:BTCUSDT.P",
     {"side": SELL, "reduce_only": True, "purpose": LegPurpose.CLOSE}, "/v5/order/create",
     {"side": "Sell", "reduceOnly": True}),
    ("bybit", "swap", "BYBIT:BTCUSDT.P",
     {"side": BUY, "order_type": OrderType.STOP, "stop_price": P(60000)},
     "/v5/order/create", {"orderType": "Market", "triggerPrice": "60000",
                          "triggerDirection": 1}),
    ("bybit", "swap", "BYBIT:BTCUSDT.P",
     {"side": SELL, "order_type": OrderType.STOP_LIMIT, "stop_price": P(45000),
      "limit_price": P(44900)}, "/v5/order/create",
     {"orderType": "Limit", "price": "44900", "triggerPrice": "45000",
      "triggerDirection": 2}),
    ("bybit", "swap", "BYBIT:BTCUSDT.P",
     {"side": SELL, "order_type": OrderType.TAKE_PROFIT, "stop_price": P(60000)},
     "/v5/order/create", {"triggerPrice": "60000", "triggerDirection": 1,
                          "reduceOnly": True}),
    ("bybit", "swap", "BYBIT:BTCUSDT.P",
     {"side": BUY, "stop_loss": Bracket(OrderType.STOP, trigger_price=P(45000)),
      "take_profit": Bracket(OrderType.TAKE_PROFIT, trigger_price=P(55000))},
     "/v5/order/create", {"stopLoss": "45000", "takeProfit": "55000"}),
    # -- okx: /api/v5/trade/batch-orders (ccxt's default), clOrdId of 32 letters and digits
    ("okx", "spot", "OKX:BTCUSDT", {"side": BUY}, "/api/v5/trade/batch-orders",
     {"instId": "BTC-USDT", "ordType": "market", "tdMode": "cash", "sz": "0.01",
      "tgtCcy": "base_ccy"}),
    ("okx", "spot", "OKX:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000), "post_only": True},
     "/api/v5/trade/batch-orders", {"ordType": "post_only", "px": "40000"}),
    ("okx", "spot", "OKX:BTCUSDT",
     {"side": BUY, "order_type": LIMIT, "limit_price": P(40000),
      "time_in_force": TimeInForce.IOC}, "/api/v5/trade/batch-orders", {"ordType": "ioc"}),
    ("okx", "swap", "OKX:BTCUSDT.P",
     {"side": SELL, "quantity": P(3), "reduce_only": True, "purpose": LegPurpose.CLOSE},
     "/api/v5/trade/batch-orders",
     {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "sz": "3", "reduceOnly": True}),
    ("okx", "swap", "OKX:BTCUSDT.P",
     {"side": BUY, "stop_loss": Bracket(OrderType.STOP, trigger_price=P(45000)),
      "take_profit": Bracket(OrderType.TAKE_PROFIT, trigger_price=P(55000))},
     "/api/v5/trade/batch-orders",
     {"attachAlgoOrds": [{"slTriggerPx": "45000", "slOrdPx": "-1", "slTriggerPxType": "last",
                          "tpTriggerPx": "55000", "tpOrdPx": "-1",
                          "tpTriggerPxType": "last"}]}),
]

# The client order id's parameter name per exchange (and for binance's derivatives the same).
CLIENT_ID_PARAM = {"binance": "newClientOrderId", "bybit": "orderLinkId", "okx": "clOrdId"}


@pytest.mark.parametrize(
    ("exchange", "market_type", "ticker", "fields", "path", "expected"), CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
async def test_order_request_as_the_exchange_documents_it(
    offline: Callable[..., Any], exchange: str, market_type: str, ticker: str,
    fields: dict[str, Any], path: str, expected: dict[str, Any],
) -> None:
    broker, recorder = offline(exchange, market_type)
    instrument = await broker.resolve(normalize_ticker(ticker))
    order = _order(instrument, **fields)

    result = await broker.submit_order(order)

    assert result.status is OrderStatus.ACCEPTED
    assert result.client_order_id == order.client_order_id
    [request] = recorder.requests
    assert (request.method, urlsplit(str(request.url)).path) == ("POST", path)
    sent = _sent(request)
    assert sent[CLIENT_ID_PARAM[exchange]] == venue_client_id(exchange, order.client_order_id)
    assert {name: sent.get(name) for name in expected} == expected
    assert _signed_as_documented(exchange, request)


def test_okx_client_order_id_is_the_uuid_without_dashes() -> None:
    cid = "6d1b345e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    assert venue_client_id("okx", cid) == "6d1b345e1c2d4e5f8a9b0c1d2e3f4a5b"
    assert venue_client_id("bybit", cid) == cid  # 36 characters are fine elsewhere
    long_id = "x" * 40
    assert len(venue_client_id("okx", long_id)) == 32  # a hash when dashes are not enough
    # an order the exchange lists is recognised as the router's own again
    assert core_client_id("okx", venue_client_id("okx", cid)) == cid
    assert core_client_id("okx", "web3f62864") == "web3f62864"


# (exchange, market type, ticker, an order type ccxt's features claim but the router refuses)
REFUSED = [
    ("bybit", "swap", "BYBIT:BTCUSDT.P", OrderType.TRAILING_STOP, "trading-stop"),
    ("bybit", "spot", "BYBIT:BTCUSDT", OrderType.STOP, "orderFilter"),
    ("binance", "swap", "BINANCE:BTCUSDT.P", OrderType.STOP, "algo-order"),
    ("binance", "swap", "BINANCE:BTCUSDT.P", OrderType.TRAILING_STOP, "algo-order"),
    ("okx", "swap", "OKX:BTCUSDT.P", OrderType.TAKE_PROFIT, "order-algo"),
    ("binance", "spot", "BINANCE:BTCUSDT", OrderType.TRAILING_STOP, "declares none"),
]


@pytest.mark.parametrize(("exchange", "market_type", "ticker", "order_type", "why"), REFUSED)
async def test_order_types_the_router_cannot_track_are_denied_unsent(
    offline: Callable[..., Any], exchange: str, market_type: str, ticker: str,
    order_type: OrderType, why: str,
) -> None:
    broker, recorder = offline(exchange, market_type)
    instrument = await broker.resolve(normalize_ticker(ticker))
    assert order_type not in broker.capabilities_for(instrument).order_types
    order = _order(instrument, side=Side.SELL, order_type=order_type, stop_price=P(45000),
                   trail_amount=P(500))

    with pytest.raises(NotSupported) as refused:
        await broker.submit_order(order)

    assert refused.value.from_venue is False
    assert order_type.value in str(refused.value) and why in str(refused.value)
    assert recorder.requests == []


# How each exchange is asked for an order by client order id: (method, path, query parameter)
LOOKUPS = [
    ("binance", "spot", "BINANCE:BTCUSDT", "/api/v3/order", "origClientOrderId",
     (400, {"code": -2013, "msg": "Order does not exist."})),
    ("okx", "spot", "OKX:BTCUSDT", "/api/v5/trade/order", "clOrdId",
     (200, {"code": "51603", "msg": "Order does not exist", "data": []})),
    ("bybit", "swap", "BYBIT:BTCUSDT.P", "/v5/order/realtime", "orderLinkId",
     (200, {"retCode": 0, "retMsg": "OK", "result": {"list": [], "category": "linear"},
            "time": 1_700_000_000_000})),
]


@pytest.mark.parametrize(("exchange", "market_type", "ticker", "path", "param", "answer"),
                         LOOKUPS)
async def test_lookup_by_client_order_id(
    offline: Callable[..., Any], exchange: str, market_type: str, ticker: str, path: str,
    param: str, answer: tuple[int, Any],
) -> None:
    broker, recorder = offline(exchange, market_type)
    recorder.lookup_answer = answer
    instrument = await broker.resolve(normalize_ticker(ticker))
    cid = str(uuid.uuid4())

    assert await broker.find_order(cid, instrument) is None

    first = recorder.requests[0]
    assert (first.method, urlsplit(str(first.url)).path) == ("GET", path)
    assert dict(parse_qsl(urlsplit(str(first.url)).query))[param] == venue_client_id(exchange,
                                                                                       cid)
    assert _signed_as_documented(exchange, first)
