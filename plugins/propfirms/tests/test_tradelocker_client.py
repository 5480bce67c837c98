"""The TradeLocker broker against FakeTradeLocker: tokens, accNum, routes, orders, positions."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError
from router_propfirms.fake.tradelocker import FAKE_PASSWORD, FAKE_SERVER, PREFIX, FakeTradeLocker
from router_propfirms.fake.tradelocker_kit import ENV, lots_order, tradelocker_broker
from router_propfirms.fake.transports import DropReply
from router_propfirms.tradelocker import TradeLockerBroker, TradeLockerConfig, strategy_tag

from router_core import (
    AmbiguousOutcome,
    AuthError,
    Bracket,
    BrokerContext,
    ConfigError,
    InvalidOrder,
    NonceRegistry,
    NotSupported,
    OrderStatus,
    OrderType,
    RateLimited,
    RateLimiterRegistry,
    Side,
    SystemClock,
    TimeInForce,
    UnknownSymbol,
    normalize_ticker,
)
from router_core.testing import FakeClock, serve_fake

ORDERS = "/backend-api/trade/accounts/812345/orders"
Build = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakeTradeLocker:
    return FakeTradeLocker(clock=clock)


@pytest_asyncio.fixture
async def build(tmp_path: Path, fake: FakeTradeLocker,
                clock: FakeClock) -> AsyncIterator[Build]:
    made: list[TradeLockerBroker] = []

    async def make(start: bool = True, **settings: Any) -> TradeLockerBroker:
        broker = tradelocker_broker(tmp_path, fake, clock, **settings)
        made.append(broker)
        if start:
            await broker.start()
        return broker

    yield make
    for broker in made:
        await broker.close()


async def _eurusd(broker: TradeLockerBroker) -> Any:
    return await broker.resolve(normalize_ticker("FX:EURUSD"))


def _count(fake: FakeTradeLocker, method: str, suffix: str) -> int:
    return sum(1 for m, p, _ in fake.requests if m == method and p.endswith(suffix))


# ---- login, tokens, account ------------------------------------------------------------------


async def test_access_token_is_refreshed_before_expiry_and_login_repeated_after_a_401(
    build: Build, fake: FakeTradeLocker, clock: FakeClock
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    assert fake.logins == 1
    clock.advance(55 * 60)  # five minutes left on the hour-long access token
    await broker.position(instrument)
    assert (fake.refreshes, fake.logins) == (1, 1)
    fake.expire_tokens()  # refused with HTTP 401: log in again, then repeat the call
    await broker.position(instrument)
    assert fake.logins == 2
    clock.advance(8 * 24 * 3600)  # the refresh token has expired too: a fresh login
    await broker.position(instrument)
    assert fake.logins == 3


async def test_wrong_password_is_an_auth_error_naming_the_server_only(build: Build) -> None:
    with pytest.raises(AuthError) as caught:
        await build(environ={**ENV, "TRADELOCKER_PASSWORD": "wrong-pass-123"})
    assert FAKE_SERVER in str(caught.value)
    assert "wrong-pass-123" not in str(caught.value) and FAKE_PASSWORD not in str(caught.value)


async def test_trade_calls_carry_acc_num_and_the_fake_refuses_them_without(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    assert broker.client is not None and broker.client.acc_num == 1
    assert broker.account_id == 812345
    token = next(t for t, (kind, _) in fake.tokens.items() if kind == "access")
    status, answer = fake.handle("GET", "/backend-api/trade/accounts/812345/positions",
                                 {"authorization": f"Bearer {token}"}, {}, b"")
    assert (status, answer["errmsg"]) == (400, "accNum header is required")


async def test_unknown_account_names_the_setting(build: Build) -> None:
    with pytest.raises(ConfigError, match=r"999 is not among.*accNum 1") as caught:
        await build(acc_num=999)
    assert caught.value.key == "accounts.tl.acc_num"


async def test_missing_environment_variable_names_the_setting(build: Build) -> None:
    with pytest.raises(ConfigError) as caught:
        await build(environ={"TRADELOCKER_PASSWORD": FAKE_PASSWORD})
    assert caught.value.key == "accounts.tl.email_env"
    assert "TRADELOCKER_EMAIL" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"base_url": "wss://demo.tradelocker.com/streams"}, "not the WebSocket URL"),
        ({"base_url": "ftp://demo.tradelocker.com"}, "https://"),
        ({"base_url": "https://live.tradelocker.com/backend-api"},
         "live host but environment is 'demo'"),
    ],
)
def test_wrong_base_url_is_refused(settings: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TradeLockerConfig.model_validate({"server": "S", **settings})


# ---- instruments ------------------------------------------------------------------------------


async def test_instruments_are_loaded_once_and_carry_ids_routes_and_sizes(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    first = await _eurusd(broker)
    await _eurusd(broker)
    await broker.resolve(normalize_ticker("OANDA:XAUUSD"))
    assert _count(fake, "GET", "/instruments") == 1
    assert dict(first.venue) == {"tradableInstrumentId": 278, "routeId": 2782,
                                 "infoRouteId": 2781, "quantity_unit": "lots"}
    assert (first.lot_size, first.min_quantity, first.tick_size, first.contract_size) == (
        Decimal("0.01"), Decimal("0.01"), Decimal("0.00001"), Decimal(100000))
    assert await broker.reference_price(first) == Decimal("1.08000")


async def test_unknown_instrument_reloads_the_list_at_most_once_a_minute(
    build: Build, fake: FakeTradeLocker, clock: FakeClock
) -> None:
    broker = await build()
    clock.advance(61)  # the list loaded at start is a minute old: one miss may reload it
    for _ in range(3):
        with pytest.raises(UnknownSymbol, match=r"'FX:EURXYZ' is EURXYZ"):
            await broker.resolve(normalize_ticker("FX:EURXYZ"))
    assert _count(fake, "GET", "/instruments") == 2  # start, then one reload


async def test_symbol_override_maps_a_futures_ticker_to_a_cfd(build: Build) -> None:
    broker = await build(symbol_overrides={"NQ1!": "NAS100"})
    instrument = await broker.resolve(normalize_ticker("NQ1!"))
    assert (instrument.symbol, instrument.lot_size) == ("NAS100", Decimal("0.1"))


# ---- orders -----------------------------------------------------------------------------------


async def test_order_body_uses_the_trade_route_validity_and_a_short_tag(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    market = lots_order(instrument, "0.05")
    assert (await broker.submit_order(market)).status is OrderStatus.FILLED
    limit = lots_order(instrument, "0.05", order_type=OrderType.LIMIT,
                       limit_price=Decimal("1.05"))
    assert (await broker.submit_order(limit)).status is OrderStatus.ACCEPTED
    sent_market, sent_limit = fake.placed
    assert (sent_market["routeId"], sent_market["validity"], sent_market["price"]) == (
        2782, "IOC", 0)
    assert (sent_limit["validity"], sent_limit["price"], sent_limit["type"]) == (
        "GTC", Decimal("1.05"), "limit")
    assert sent_market["strategyId"] == strategy_tag(market.client_order_id)
    assert len(sent_market["strategyId"]) == 31 and sent_market["qty"] == Decimal("0.05")


def test_strategy_tag_is_the_id_when_short_and_a_stable_digest_when_long() -> None:
    assert strategy_tag("ar-1f2e3d-open") == "ar-1f2e3d-open"
    long_id = "6f6d1f57-3b51-4c47-9a7e-2f1c0b1e8a11"
    assert strategy_tag(long_id) == strategy_tag(long_id) != strategy_tag(long_id[:-1] + "2")
    assert len(strategy_tag(long_id)) == 31


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"time_in_force": TimeInForce.GTC}, InvalidOrder, "market orders take validity IOC"),
        ({"order_type": OrderType.LIMIT, "limit_price": Decimal("1.05"),
          "time_in_force": TimeInForce.IOC}, InvalidOrder, "validity GTC"),
        ({"quantity": "0.015"}, InvalidOrder, "lot step 0.01"),
        ({"order_type": OrderType.STOP_LIMIT}, NotSupported, "stop_limit"),
        ({"reduce_only": True, "order_type": OrderType.LIMIT, "limit_price": Decimal("1.1")},
         NotSupported, "reduce-only order closes positions at market"),
    ],
)
async def test_what_tradelocker_refuses_is_denied_before_sending(
    build: Build, fake: FakeTradeLocker, fields: dict[str, Any], error: type, words: str
) -> None:
    broker = await build()
    quantity = fields.pop("quantity", "0.01")
    with pytest.raises(error, match=words) as caught:
        await broker.submit_order(lots_order(await _eurusd(broker), quantity, **fields))
    assert caught.value.from_venue is False
    assert fake.placed == []


async def test_the_info_route_is_refused_by_the_venue(build: Build) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    wrong = dataclasses.replace(instrument, venue={**instrument.venue, "routeId": 2781})
    with pytest.raises(InvalidOrder, match="not the TRADE route") as caught:
        await broker.submit_order(lots_order(wrong))
    assert caught.value.from_venue is True


async def test_stop_loss_and_take_profit_ride_on_the_order_and_close_the_position(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    order = lots_order(instrument, "0.1",
                       stop_loss=Bracket(OrderType.STOP, trigger_price=Decimal("1.07")),
                       take_profit=Bracket(OrderType.TAKE_PROFIT, trigger_price=Decimal("1.09")))
    await broker.submit_order(order)
    sent = fake.placed[-1]
    assert (sent["stopLoss"], sent["stopLossType"], sent["takeProfit"], sent["takeProfitType"]
            ) == (Decimal("1.07"), "absolute", Decimal("1.09"), "absolute")
    assert (await broker.position(instrument)).quantity == Decimal("0.1")
    fake.set_price("EURUSD", "1.06990")  # through the stop: the position is closed
    assert (await broker.position(instrument)).quantity == 0
    assert [o.status for o in fake.orders.values() if o.closes] == ["Filled", "Cancelled"]


async def test_reduce_only_closes_positions_and_never_opens_one(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    await broker.submit_order(lots_order(instrument, "0.02"))
    await broker.submit_order(lots_order(instrument, "0.03"))
    close = lots_order(instrument, "0.04", Side.SELL, reduce_only=True)
    result = await broker.submit_order(close)
    assert (result.status, result.filled_quantity) == (OrderStatus.FILLED, Decimal("0.04"))
    assert (await broker.position(instrument)).quantity == Decimal("0.01")
    assert _count(fake, "DELETE", "") == 2  # the oldest position whole, then part of the next
    again = lots_order(instrument, "0.04", Side.SELL, reduce_only=True)
    assert (await broker.submit_order(again)).filled_quantity == Decimal("0.01")
    with pytest.raises(InvalidOrder, match="no buy position") as caught:
        await broker.submit_order(lots_order(instrument, "0.01", Side.SELL, reduce_only=True))
    assert caught.value.from_venue is False
    assert fake.positions == {}


async def test_a_plain_sell_while_long_opens_a_position_beside_it(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    await broker.submit_order(lots_order(instrument, "0.02"))
    await broker.submit_order(lots_order(instrument, "0.02", Side.SELL))
    assert len(fake.positions) == 2  # TradeLocker does not net
    assert (await broker.position(instrument)).quantity == 0
    result = await broker.close_position(instrument)
    assert result.status is OrderStatus.FILLED and fake.positions == {}


async def test_lost_answer_is_ambiguous_and_the_tag_finds_it_after_a_restart(
    tmp_path: Path, fake: FakeTradeLocker, clock: FakeClock
) -> None:
    dropping = DropReply(httpx.ASGITransport(app=fake), ORDERS)
    broker = tradelocker_broker(tmp_path, fake, clock, transport=dropping)
    await broker.start()
    order = lots_order(await _eurusd(broker))
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)
    restarted = tradelocker_broker(tmp_path, fake, clock)
    await restarted.start()
    found = await restarted.find_order(order.client_order_id, order.instrument)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == Decimal("0.01") and found.average_price == Decimal("1.08001")
    assert len(fake.placed) == 1
    await broker.close()
    await restarted.close()


async def test_rate_limit_is_rate_limited_with_the_advised_wait(
    tmp_path: Path, fake: FakeTradeLocker, clock: FakeClock
) -> None:
    inner = httpx.ASGITransport(app=fake)

    async def throttled(request: httpx.Request) -> httpx.Response:
        if request.url.path == ORDERS:
            return httpx.Response(429, headers={"Retry-After": "3"})
        return await inner.handle_async_request(request)

    broker = tradelocker_broker(tmp_path, fake, clock, transport=httpx.MockTransport(throttled))
    await broker.start()
    with pytest.raises(RateLimited) as caught:
        await broker.submit_order(lots_order(await _eurusd(broker)))
    assert caught.value.retry_after == 3 and caught.value.from_venue
    await broker.close()


async def test_balance_reads_the_account_state(build: Build, fake: FakeTradeLocker) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    await broker.submit_order(lots_order(instrument, "1"))  # bought at 1.08001
    fake.set_price("EURUSD", "1.08101")  # bid 1.08100: +99 pips x 100 000
    balance = await broker.balance()
    assert balance.currency == "USD"
    assert balance.equity == Decimal("100099.00000")
    assert balance.available == balance.equity - Decimal("1081.01")


def test_demo_is_simulated_and_live_is_not(tmp_path: Path, fake: FakeTradeLocker,
                                          clock: FakeClock) -> None:
    assert tradelocker_broker(tmp_path, fake, clock).simulated is True
    live = tradelocker_broker(tmp_path, fake, clock, environment="live",
                              base_url="https://live.tradelocker.com/backend-api")
    assert live.simulated is False


async def test_the_fake_served_on_loopback_over_real_http(tmp_path: Path) -> None:
    """What ``python -m router_propfirms.fake.tradelocker`` serves, through the core's
    transport."""
    clock = SystemClock()
    context = BrokerContext(account="served", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                            limiters=RateLimiterRegistry(clock), clock=clock, environ=dict(ENV))
    with serve_fake("router_propfirms.fake.tradelocker") as url:
        config = TradeLockerConfig(server=FAKE_SERVER, base_url=f"{url}{PREFIX}")
        broker = TradeLockerBroker(config, context)
        await broker.start()
        try:
            instrument = await _eurusd(broker)
            order = lots_order(instrument, "0.1")
            assert (await broker.submit_order(order)).status is OrderStatus.FILLED
            assert (await broker.position(instrument)).quantity == Decimal("0.1")
            found = await broker.find_order(order.client_order_id, instrument)
            assert found is not None and found.status is OrderStatus.FILLED
        finally:
            await broker.close()


async def test_open_orders_name_this_sessions_orders_only(
    build: Build, fake: FakeTradeLocker
) -> None:
    broker = await build()
    instrument = await _eurusd(broker)
    resting = lots_order(instrument, order_type=OrderType.LIMIT, limit_price=Decimal("1.05"))
    await broker.submit_order(resting)
    (listed,) = await broker.open_orders(instrument)
    assert (listed.client_order_id, listed.status) == (resting.client_order_id,
                                                       OrderStatus.ACCEPTED)
    restarted = await build()  # the tag is a digest: a new session cannot read the id back
    (again,) = await restarted.open_orders(instrument)
    assert (again.client_order_id, again.venue_order_id) == ("", listed.venue_order_id)
    assert (await restarted.find_order(resting.client_order_id, instrument)) is not None


async def test_orders_keep_to_the_place_order_limit_of_the_config(
    build: Build, fake: FakeTradeLocker, clock: FakeClock
) -> None:
    broker = await build()  # the fake's /trade/config: PLACE_ORDER, 10 a second
    instrument = await _eurusd(broker)
    for _ in range(10):
        await broker.submit_order(lots_order(instrument))
    assert clock.sleeps == []  # the first ten fit
    await broker.submit_order(lots_order(instrument))
    assert clock.sleeps and sum(clock.sleeps) > 0  # the eleventh waited for the route
    assert len(fake.placed) == 11


async def test_an_unstarted_broker_starts_when_its_balance_is_read(build: Build) -> None:
    # check-config --online reads the balance of a broker it never started
    good = await build(start=False)
    assert (await good.balance()).currency == "USD"
    bad = await build(start=False, environ={**ENV, "TRADELOCKER_PASSWORD": "wrong"})
    with pytest.raises(AuthError):  # a rejected key, in the check's words
        await bad.balance()
