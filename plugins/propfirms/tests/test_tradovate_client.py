"""The Tradovate broker against FakeTradovate: tokens, penalty tickets, symbols, orders, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError
from router_propfirms.fake.tradovate import FAKE_APP_ID, FAKE_SEC, FakeTradovate
from router_propfirms.fake.tradovate_kit import ENV, futures_order, tradovate_broker
from router_propfirms.fake.transports import DropReply
from router_propfirms.tradovate import TradovateBroker, TradovateConfig
from router_propfirms.tradovate_client import ERRORS

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
    PermissionDenied,
    RateLimited,
    RateLimiterRegistry,
    Side,
    SystemClock,
    UnknownSymbol,
    normalize_ticker,
)
from router_core.testing import FakeClock, serve_fake

NOW = datetime(2026, 12, 4, 15, tzinfo=UTC)  # MNQZ6 trades until 18 December, rolls on the 10th
Build = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW.timestamp())


@pytest.fixture
def fake(clock: FakeClock) -> FakeTradovate:
    return FakeTradovate(clock=clock)


@pytest_asyncio.fixture
async def build(tmp_path: Path, fake: FakeTradovate,
                clock: FakeClock) -> AsyncIterator[Build]:
    made: list[TradovateBroker] = []

    async def make(start: bool = True, **settings: Any) -> TradovateBroker:
        broker = tradovate_broker(tmp_path, fake, clock, **settings)
        made.append(broker)
        if start:
            await broker.start()
        return broker

    yield make
    for broker in made:
        await broker.close()


async def _mnq(broker: TradovateBroker, ticker: str = "MNQ1!") -> Any:
    return await broker.resolve(normalize_ticker(ticker))


# ---- tokens -----------------------------------------------------------------------------------


async def test_token_request_carries_every_credential_and_orders_are_automated(
    build: Build, fake: FakeTradovate
) -> None:
    broker = await build()
    assert fake.token_requests == 1
    order = futures_order(await _mnq(broker))
    result = await broker.submit_order(order)
    assert result.status is OrderStatus.FILLED
    sent = fake.placed[-1]
    assert sent["isAutomated"] is True
    assert sent["clOrdId"] == order.client_order_id
    assert (sent["accountId"], sent["accountSpec"], sent["symbol"]) == (70001, "DEMO70001",
                                                                       "MNQZ6")
    assert (sent["action"], sent["orderQty"], sent["orderType"]) == ("Buy", 1, "Market")


async def test_token_is_renewed_before_it_expires_and_replaced_after(
    build: Build, fake: FakeTradovate, clock: FakeClock
) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    clock.advance(70 * 60)  # 10 minutes left: inside the 15-minute renewal window
    await broker.position(instrument)
    assert (fake.renewals, fake.token_requests) == (1, 1)
    clock.advance(3 * 3600)  # long expired: renewal is impossible, a new token is asked for
    await broker.position(instrument)
    assert (fake.renewals, fake.token_requests) == (1, 2)


async def test_a_refused_token_is_replaced_once_and_the_call_repeated(
    build: Build, fake: FakeTradovate
) -> None:
    broker = await build()
    fake.expire_tokens()  # the venue forgot the session (HTTP 401)
    result = await broker.submit_order(futures_order(await _mnq(broker)))
    assert result.status is OrderStatus.FILLED
    assert fake.token_requests == 2
    assert len(fake.placed) == 1


async def test_wrong_credentials_are_an_auth_error_without_the_secret(build: Build) -> None:
    with pytest.raises(AuthError) as caught:
        await build(environ={**ENV, "TRADOVATE_SEC": "not-the-sec"})
    assert "access token request" in str(caught.value)
    assert "not-the-sec" not in str(caught.value) and FAKE_SEC not in str(caught.value)


# ---- penalty tickets and rate limits ---------------------------------------------------------


async def test_penalty_ticket_is_rate_limited_and_the_same_body_goes_back_with_it(
    build: Build, fake: FakeTradovate
) -> None:
    broker = await build()
    order = futures_order(await _mnq(broker))
    fake.penalize("/v1/order/placeorder", 7)
    with pytest.raises(RateLimited) as caught:
        await broker.submit_order(order)
    assert caught.value.retry_after == 7
    assert caught.value.from_venue and caught.value.venue_code == "p-ticket"
    assert fake.orders == {}  # nothing was placed
    result = await broker.submit_order(order)  # the core sends the same order again
    assert result.status is OrderStatus.FILLED
    assert fake.tickets == {}  # the ticket came back and was spent
    assert "p-ticket" not in fake.placed[-1]  # the fake took it off, as the venue reads it


async def test_penalty_with_captcha_waits_about_an_hour(build: Build, fake: FakeTradovate) -> None:
    broker = await build()
    fake.penalize("/v1/position/list", 2, captcha=True)
    with pytest.raises(RateLimited) as caught:
        await broker.position(await _mnq(broker))
    assert (caught.value.venue_code, caught.value.retry_after) == ("p-captcha", 3600)


async def test_penalty_on_the_token_request_stops_start(build: Build, fake: FakeTradovate) -> None:
    fake.penalize("/v1/auth/accesstokenrequest", 5)
    with pytest.raises(RateLimited) as caught:
        await build()
    assert caught.value.retry_after == 5


# ---- symbols ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "ticker", "symbol"),
    [
        (datetime(2026, 12, 4, tzinfo=UTC), "MNQ1!", "MNQZ6"),
        (datetime(2026, 12, 11, tzinfo=UTC), "MNQ1!", "MNQH7"),  # rolled on the 10th
        (datetime(2026, 12, 4, tzinfo=UTC), "CME_MINI:MNQH2027", "MNQH7"),
        (datetime(2026, 12, 4, tzinfo=UTC), "NQ2!", "NQH7"),
        (datetime(2026, 12, 22, tzinfo=UTC), "CL1!", "CLG7"),
    ],
)
async def test_tradingview_symbols_become_root_month_and_one_digit_year(
    tmp_path: Path, day: datetime, ticker: str, symbol: str
) -> None:
    clock = FakeClock(day.timestamp())
    broker = tradovate_broker(tmp_path, FakeTradovate(clock=clock), clock)
    assert (await broker.resolve(normalize_ticker(ticker))).symbol == symbol


async def test_unknown_symbol_names_the_ticker(build: Build) -> None:
    broker = await build()
    with pytest.raises(UnknownSymbol, match=r"tradovate: 'ZZ1!'.*known roots"):
        await broker.resolve(normalize_ticker("ZZ1!"))


# ---- orders -----------------------------------------------------------------------------------


async def test_oso_brackets_rest_after_the_fill_and_cancel_each_other(
    build: Build, fake: FakeTradovate
) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    order = futures_order(
        instrument, "2",
        take_profit=Bracket(OrderType.TAKE_PROFIT, trigger_price=Decimal("21100")),
        stop_loss=Bracket(OrderType.STOP, trigger_price=Decimal("20900")),
    )
    result = await broker.submit_order(order)
    assert result.status is OrderStatus.FILLED
    body = fake.placed[-1]
    assert body["bracket1"] == {"action": "Sell", "clOrdId": f"{order.client_order_id}-tp",
                                "orderType": "Limit", "price": Decimal("21100")}
    assert body["bracket2"] == {"action": "Sell", "clOrdId": f"{order.client_order_id}-sl",
                                "orderType": "Stop", "stopPrice": Decimal("20900")}
    working = [o for o in fake.orders.values() if o.status == "Working"]
    assert sorted(o.order_type for o in working) == ["Limit", "Stop"]
    fake.set_price("MNQZ6", "21100")  # the take profit fills, the stop is cancelled
    assert fake.position_of("MNQZ6") == 0
    assert [o.status for o in working] == ["Filled", "Canceled"] or \
        [o.status for o in working] == ["Canceled", "Filled"]


async def test_a_stop_loss_alone_goes_first(build: Build, fake: FakeTradovate) -> None:
    broker = await build()
    order = futures_order(await _mnq(broker), side=Side.SELL,
                          stop_loss=Bracket(OrderType.STOP, trigger_price=Decimal("21050")))
    await broker.submit_order(order)
    assert fake.placed[-1]["bracket1"]["orderType"] == "Stop"
    assert fake.placed[-1]["bracket1"]["action"] == "Buy"
    assert "bracket2" not in fake.placed[-1]


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"quantity": Decimal("1.5")}, InvalidOrder, "whole number"),
        ({"order_type": OrderType.TRAILING_STOP, "trail_amount": Decimal(5)}, NotSupported,
         "trailing_stop"),
        ({"reduce_only": True}, NotSupported, "reduce-only"),
        ({"stop_loss": Bracket(OrderType.TRAILING_STOP, trail_amount=Decimal(5))},
         NotSupported, "trailing_stop sl bracket"),
    ],
)
async def test_what_tradovate_cannot_take_is_denied_before_sending(
    build: Build, fake: FakeTradovate, fields: dict[str, Any], error: type, words: str
) -> None:
    broker = await build()
    quantity = fields.pop("quantity", Decimal(1))
    with pytest.raises(error, match=words) as caught:
        await broker.submit_order(futures_order(await _mnq(broker), quantity, **fields))
    assert caught.value.from_venue is False
    assert fake.placed == []


async def test_position_limit_is_a_rejection(build: Build) -> None:
    broker = await build()
    with pytest.raises(InvalidOrder, match="MaxPosLimitReached") as caught:
        await broker.submit_order(futures_order(await _mnq(broker), "51"))
    assert caught.value.from_venue is True


async def test_lost_answer_is_ambiguous_and_found_by_a_fresh_broker(
    tmp_path: Path, fake: FakeTradovate, clock: FakeClock
) -> None:
    dropping = DropReply(httpx.ASGITransport(app=fake), "/v1/order/placeorder")
    broker = tradovate_broker(tmp_path, fake, clock, transport=dropping)
    await broker.start()
    order = futures_order(await _mnq(broker))
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(order)
    restarted = tradovate_broker(tmp_path, fake, clock)  # no memory of the order
    await restarted.start()
    found = await restarted.find_order(order.client_order_id, order.instrument)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.filled_quantity == 1 and found.average_price == Decimal(21000)
    assert len(fake.placed) == 1
    await broker.close()
    await restarted.close()


async def test_close_position_liquidates(build: Build, fake: FakeTradovate) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    await broker.submit_order(futures_order(instrument, "3", Side.SELL))
    assert (await broker.position(instrument)).quantity == -3
    result = await broker.close_position(instrument)
    assert result.status is OrderStatus.FILLED and result.filled_quantity == 3
    assert (await broker.position(instrument)).quantity == 0


async def test_balance_reads_net_liquidation_value(build: Build, fake: FakeTradovate) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    await broker.submit_order(futures_order(instrument, "2"))
    fake.set_price("MNQZ6", "21010")  # +10 points x 2 contracts x $2
    balance = await broker.balance()
    assert (balance.currency, balance.equity, balance.available) == (
        "USD", Decimal(50040), Decimal(50040) - 2 * 500)


# ---- errors and configuration ----------------------------------------------------------------


def test_error_table_reads_the_documented_failure_reasons() -> None:
    assert isinstance(ERRORS.error("TradingLocked", action="placeorder"), PermissionDenied)
    assert isinstance(ERRORS.error("SessionClosed"), BaseException)
    assert isinstance(ERRORS.error("UnknownReason", places_order=True), AmbiguousOutcome)
    assert isinstance(ERRORS.error("RiskCheckTimeout", places_order=True), AmbiguousOutcome)
    assert isinstance(ERRORS.error("InvalidContract"), UnknownSymbol)
    assert isinstance(ERRORS.error("p-ticket"), RateLimited)
    assert isinstance(ERRORS.error("NewUndocumentedReason", places_order=True), AmbiguousOutcome)


@pytest.mark.parametrize("missing", ["TRADOVATE_PASSWORD", "TRADOVATE_SEC", "TRADOVATE_CID"])
async def test_missing_environment_variable_names_the_setting(
    build: Build, missing: str
) -> None:
    field = {"TRADOVATE_PASSWORD": "password_env", "TRADOVATE_SEC": "sec_env",
             "TRADOVATE_CID": "cid_env"}[missing]
    environ = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError) as caught:
        await build(environ=environ)
    assert caught.value.key == f"accounts.tv.{field}"
    assert missing in str(caught.value)


async def test_cid_must_be_a_number_and_is_not_shown(build: Build) -> None:
    with pytest.raises(ConfigError, match="numeric id") as caught:
        await build(environ={**ENV, "TRADOVATE_CID": "abc-secretish"})
    assert "abc-secretish" not in str(caught.value)
    assert caught.value.key == "accounts.tv.cid_env"


async def test_unknown_account_id_names_the_setting(build: Build) -> None:
    with pytest.raises(ConfigError, match=r"12345 is not among.*70001 \(DEMO70001\)") as caught:
        await build(account_id=12345)
    assert caught.value.key == "accounts.tv.account_id"


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"base_url": "wss://demo.tradovateapi.com/v1/websocket"}, "not the WebSocket URL"),
        ({"base_url": "https://md.tradovateapi.com/v1"}, "market data"),
        ({"base_url": "http://demo.tradovateapi.com/v1"}, "https://"),
        ({"base_url": "https://live.tradovateapi.com/v1"}, "live host but environment is 'demo'"),
    ],
)
def test_wrong_base_url_is_refused_with_the_reason(settings: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        TradovateConfig.model_validate({"app_id": "a", **settings})


def test_demo_is_simulated_and_live_is_not(tmp_path: Path, fake: FakeTradovate,
                                          clock: FakeClock) -> None:
    assert tradovate_broker(tmp_path, fake, clock).simulated is True
    live = tradovate_broker(tmp_path, fake, clock, environment="live",
                            base_url="https://live.tradovateapi.com/v1")
    assert live.simulated is False


async def test_the_fake_served_on_loopback_over_real_http(tmp_path: Path) -> None:
    """What ``python -m router_propfirms.fake.tradovate`` serves, through the core's transport."""
    clock = SystemClock()
    context = BrokerContext(account="served", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                            limiters=RateLimiterRegistry(clock), clock=clock, environ=dict(ENV))
    with serve_fake("router_propfirms.fake.tradovate") as url:
        broker = TradovateBroker(TradovateConfig(app_id=FAKE_APP_ID, base_url=f"{url}/v1"),
                                 context)
        await broker.start()
        try:
            instrument = await _mnq(broker)
            order = futures_order(instrument, "2")
            assert (await broker.submit_order(order)).status is OrderStatus.FILLED
            assert (await broker.position(instrument)).quantity == 2
            found = await broker.find_order(order.client_order_id, instrument)
            assert found is not None and found.filled_quantity == 2
        finally:
            await broker.close()


async def test_open_orders_list_the_working_ones_with_their_clordid(
    build: Build, fake: FakeTradovate
) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    await broker.submit_order(futures_order(instrument))  # fills: not listed
    resting = futures_order(instrument, order_type=OrderType.LIMIT, limit_price=Decimal(20000))
    await broker.submit_order(resting)
    (listed,) = await broker.open_orders(instrument)
    assert (listed.client_order_id, listed.status) == (resting.client_order_id,
                                                       OrderStatus.ACCEPTED)
    assert listed.venue_order_id is not None
    cancelled = await broker.cancel_venue_order(listed.venue_order_id, instrument)
    assert cancelled.status is OrderStatus.CANCELED
    assert await broker.open_orders(instrument) == []


async def test_a_refused_renewal_starts_a_new_session(
    build: Build, fake: FakeTradovate, clock: FakeClock
) -> None:
    broker = await build()
    instrument = await _mnq(broker)
    fake.expire_tokens()  # the venue dropped the session before the renewal window
    clock.advance(70 * 60)
    await broker.position(instrument)
    assert (fake.renewals, fake.token_requests) == (0, 2)


async def test_an_unstarted_broker_starts_when_its_balance_is_read(
    build: Build, fake: FakeTradovate
) -> None:
    # check-config --online reads the balance of a broker it never started
    good = await build(start=False)
    assert (await good.balance()).currency == "USD"
    bad = await build(start=False, environ={**ENV, "TRADOVATE_PASSWORD": "wrong"})
    with pytest.raises(AuthError):  # a rejected key, in the check's words
        await bad.balance()
