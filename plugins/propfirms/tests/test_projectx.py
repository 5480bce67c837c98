"""ProjectX against its loopback fake: tokens, contracts by search, orders, errors, positions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from router_propfirms.fake.projectx import FakeProjectX
from router_propfirms.fake.projectx_kit import clock_at, order, projectx_broker
from router_propfirms.futures import SPECS
from router_propfirms.projectx import ProjectXBroker
from router_propfirms.projectx_client import ERRORS, token_expiry

from router_core import (
    AmbiguousOutcome,
    AuthError,
    Bracket,
    ConfigError,
    InsufficientFunds,
    InvalidOrder,
    NotSupported,
    OrderStatus,
    OrderType,
    PermissionDenied,
    Side,
    UnknownSymbol,
)
from router_core import normalize_ticker as normalize
from router_core.testing import FakeClock

FRIDAY = datetime(2026, 12, 4, 16, 0)  # 10:00 in Chicago
AFTER_ROLL = datetime(2026, 12, 11, 16, 0)  # ES/NQ roll to March on the second Thursday


@pytest.fixture
def clock() -> FakeClock:
    return clock_at(FRIDAY)


@pytest.fixture
def fake(clock: FakeClock) -> FakeProjectX:
    return FakeProjectX(clock=clock)


@pytest.fixture
async def broker(tmp_path: Path, fake: FakeProjectX, clock: FakeClock) -> ProjectXBroker:
    broker = projectx_broker(tmp_path, fake, clock)
    await broker.start()
    return broker


# ---- tokens ---------------------------------------------------------------------------------

async def test_token_is_renewed_before_it_expires(broker: ProjectXBroker, fake: FakeProjectX,
                                                  clock: FakeClock) -> None:
    assert fake.logins == 1
    await broker.balance()
    clock.advance(22 * 3600)  # two hours left: still used
    await broker.balance()
    assert fake.logins == 1
    clock.advance(3600 + 1)  # less than an hour left: a new login before the call
    await broker.balance()
    assert fake.logins == 2
    assert not any(path == "/api/Auth/loginKey" for path, _ in fake.requests)  # never logged


async def test_a_401_logs_in_once_more_and_repeats_the_call(
        broker: ProjectXBroker, fake: FakeProjectX) -> None:
    fake.revoke_tokens()  # a gateway restart: the token is unknown now
    instrument = await broker.resolve(normalize("NQ1!"))
    result = await broker.submit_order(order(instrument))
    assert result.status is OrderStatus.FILLED
    assert fake.logins == 2
    assert len([o for o in fake.orders if o.custom_tag == result.client_order_id]) == 1


async def test_wrong_api_key_is_an_auth_error_without_the_key(
        tmp_path: Path, fake: FakeProjectX, clock: FakeClock) -> None:
    broker = projectx_broker(tmp_path, fake, clock)
    broker.context.environ["PROJECTX_API_KEY"] = "not-the-key-93x"  # type: ignore[index]
    with pytest.raises(AuthError) as caught:
        await broker.start()
    assert "not-the-key-93x" not in str(caught.value)


def test_token_expiry_reads_the_jwt_claim_or_assumes_a_day() -> None:
    assert token_expiry("opaque", 1000.0) == 1000.0 + 24 * 3600
    fake = FakeProjectX(clock=clock_at(FRIDAY))
    answer = fake._login({"userName": next(iter(fake.users)),
                          "apiKey": next(iter(fake.users.values()))})
    assert token_expiry(answer["token"], clock_at(FRIDAY).time()) == pytest.approx(
        clock_at(FRIDAY).time() + 24 * 3600, abs=1)


# ---- accounts -------------------------------------------------------------------------------

async def test_account_by_name_among_several(tmp_path: Path, clock: FakeClock) -> None:
    fake = FakeProjectX(clock=clock, accounts=3)
    broker = projectx_broker(tmp_path, fake, clock, account_name="EVAL-02")
    await broker.start()
    assert await broker.account_id() == fake.account("EVAL-02").id
    unnamed = projectx_broker(tmp_path, fake, clock, account="other")
    with pytest.raises(ConfigError, match=r"3 active accounts .*EVAL-01.*set account_id"):
        await unnamed.start()


# ---- contracts ------------------------------------------------------------------------------

# Every root of the shared table resolves through Contract/search: the fake spells several
# roots its own way (NQ -> ENQ, ES -> EP, CL -> CLE, GC -> GCE, ...).
@pytest.mark.parametrize("root", sorted(SPECS))
async def test_every_root_resolves_from_the_search_answer(
        broker: ProjectXBroker, fake: FakeProjectX, root: str) -> None:
    instrument = await broker.resolve(normalize(f"{root}1!"))
    listed = {row["id"]: row for row in fake.contracts()}
    row = listed[instrument.symbol]
    assert row["description"].startswith(SPECS[root].description + ":")
    assert instrument.tick_size == SPECS[root].tick_size
    assert instrument.contract_size == SPECS[root].point_value
    assert instrument.venue["root"] == root


@pytest.mark.parametrize(("moment", "ticker", "contract_id"), [
    (FRIDAY, "CME_MINI:NQ1!", "CON.F.US.ENQ.Z26"),
    (AFTER_ROLL, "NQ1!", "CON.F.US.ENQ.H27"),  # rolled on the second Thursday
    (FRIDAY, "MNQ1!", "CON.F.US.MNQ.Z26"),
    (FRIDAY, "ES1!", "CON.F.US.EP.Z26"),
    (FRIDAY, "ESH2027", "CON.F.US.EP.H27"),
    (FRIDAY, "NYMEX:CL1!", "CON.F.US.CLE.F27"),  # January's CL stops trading in December
    (FRIDAY, "MGC1!", "CON.F.US.MGC.G27"),
])
async def test_contract_month_is_rolled_by_the_shared_rule(
        tmp_path: Path, moment: datetime, ticker: str, contract_id: str) -> None:
    clock = clock_at(moment)
    broker = projectx_broker(tmp_path, FakeProjectX(clock=clock), clock)
    assert (await broker.resolve(normalize(ticker))).symbol == contract_id


async def test_unlisted_contract_is_unknown(broker: ProjectXBroker) -> None:
    with pytest.raises(UnknownSymbol, match=r"'ESZ2028'.*lists no E-mini S&P 500 contract"):
        await broker.resolve(normalize("ESZ2028"))


async def test_root_override_pins_the_venue_root(tmp_path: Path, fake: FakeProjectX,
                                                 clock: FakeClock) -> None:
    broker = projectx_broker(tmp_path, fake, clock, root_overrides={"ES": "NOPE"})
    with pytest.raises(UnknownSymbol):
        await broker.resolve(normalize("ES1!"))
    pinned = projectx_broker(tmp_path, fake, clock, account="p2", root_overrides={"ES": "EP"})
    assert (await pinned.resolve(normalize("ES1!"))).symbol == "CON.F.US.EP.Z26"


async def test_search_answers_are_cached(broker: ProjectXBroker, fake: FakeProjectX) -> None:
    await broker.resolve(normalize("NQ1!"))
    await broker.resolve(normalize("NQ1!"))
    searches = [body for path, body in fake.requests if path == "/api/Contract/search"]
    assert searches == [{"live": False, "searchText": "NQ"}]


# ---- orders ---------------------------------------------------------------------------------

async def test_market_order_carries_the_client_order_id_as_custom_tag(
        broker: ProjectXBroker, fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("MNQ1!"))
    placed = order(instrument, "3", Side.SELL)
    result = await broker.submit_order(placed)
    body = next(body for path, body in fake.requests if path == "/api/Order/place")
    assert body == {"accountId": await broker.account_id(), "contractId": "CON.F.US.MNQ.Z26",
                    "type": 2, "side": 1, "size": 3, "customTag": placed.client_order_id}
    assert (result.status, result.filled_quantity, result.average_price) == (
        OrderStatus.FILLED, Decimal(3), Decimal(21000))
    assert (await broker.position(instrument)).quantity == Decimal(-3)


async def test_limit_stop_and_trailing_orders(broker: ProjectXBroker, fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    limit = await broker.submit_order(order(instrument, "1", Side.BUY, OrderType.LIMIT,
                                            limit_price=Decimal("20990.25")))
    stop = await broker.submit_order(order(instrument, "1", Side.SELL, OrderType.STOP,
                                           stop_price=Decimal("20950")))
    trail = await broker.submit_order(order(
        instrument, "1", Side.SELL, OrderType.TRAILING_STOP, trail_amount=Decimal("25"),
        reference_price=Decimal("21000")))
    assert {r.status for r in (limit, stop, trail)} == {OrderStatus.ACCEPTED}
    bodies = [body for path, body in fake.requests if path == "/api/Order/place"]
    assert [(b["type"], b.get("limitPrice"), b.get("stopPrice"), b.get("trailPrice"))
            for b in bodies] == [(1, 20990.25, None, None), (4, None, 20950, None),
                                 (5, None, None, 20975)]
    open_ids = {r.client_order_id for r in await broker.open_orders(instrument)}
    assert open_ids == {limit.client_order_id, stop.client_order_id, trail.client_order_id}
    fake.set_price(instrument.symbol, "20990")  # the limit buy fills
    found = await broker.find_order(limit.client_order_id, instrument)
    assert found is not None and found.status is OrderStatus.FILLED


async def test_brackets_go_in_ticks_from_the_entry(broker: ProjectXBroker,
                                                   fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    await broker.submit_order(order(
        instrument, "2", Side.BUY, reference_price=Decimal("21000"),
        stop_loss=Bracket(OrderType.STOP, trigger_price=Decimal("20990")),
        take_profit=Bracket(OrderType.TAKE_PROFIT, trigger_price=Decimal("21020.5"))))
    body = next(body for path, body in fake.requests if path == "/api/Order/place")
    assert body["stopLossBracket"] == {"ticks": 40, "type": 4}
    assert body["takeProfitBracket"] == {"ticks": 82, "type": 1}
    children = sorted((o.type, o.stop_price or o.limit_price) for o in fake.orders
                      if o.linked_to is not None)
    assert children == [(1, Decimal("21020.50")), (4, Decimal("20990.00"))]


async def test_cancel_by_client_order_id(broker: ProjectXBroker, fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("ES1!"))
    placed = order(instrument, "1", Side.BUY, OrderType.LIMIT, limit_price=Decimal("5000"))
    await broker.submit_order(placed)
    cancelled = await broker.cancel_order(placed.client_order_id, instrument)
    assert (cancelled.status, cancelled.client_order_id) == (OrderStatus.CANCELED,
                                                             placed.client_order_id)
    assert await broker.open_orders(instrument) == []


async def test_close_position_and_flatten(broker: ProjectXBroker, fake: FakeProjectX) -> None:
    nq = await broker.resolve(normalize("NQ1!"))
    es = await broker.resolve(normalize("ES1!"))
    await broker.submit_order(order(nq, "2"))
    await broker.submit_order(order(es, "1", Side.SELL))
    resting = order(nq, "1", Side.SELL, OrderType.LIMIT, limit_price=Decimal("22000"))
    await broker.submit_order(resting)
    done = await broker.flatten_account(lambda tag: tag == resting.client_order_id)
    assert len(done) == 3
    assert (await broker.position(nq)).quantity == 0
    assert (await broker.position(es)).quantity == 0
    assert await broker.open_orders(nq) == []


# ---- what is refused, and by whom ----------------------------------------------------------

async def test_fractional_size_is_denied_before_sending(broker: ProjectXBroker,
                                                        fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    with pytest.raises(NotSupported) as caught:
        await broker.submit_order(order(instrument, "1.5"))
    assert caught.value.from_venue is False
    assert not any(path == "/api/Order/place" for path, _ in fake.requests)


async def test_venue_refusals_map_through_the_error_table(
        broker: ProjectXBroker, fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    with pytest.raises(InvalidOrder) as too_big:
        await broker.submit_order(order(instrument, "60"))
    assert too_big.value.from_venue and too_big.value.venue_code == "2"
    assert "exceeds the account's maximum 50" in str(too_big.value)
    fake.accounts[await broker.account_id()].can_trade = False
    with pytest.raises(PermissionDenied, match="account violation"):
        await broker.submit_order(order(instrument, "1"))
    gone = order(instrument, "1").instrument
    from dataclasses import replace
    with pytest.raises(UnknownSymbol, match="contract not found"):
        await broker.submit_order(order(replace(gone, symbol="CON.F.US.XYZ.Z26")))
    assert ERRORS["3"].error is InsufficientFunds


async def test_same_custom_tag_twice_reports_the_first_order(
        broker: ProjectXBroker, fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    placed = order(instrument, "1")
    first = await broker.submit_order(placed)
    again = await broker.submit_order(placed)
    assert again.venue_order_id == first.venue_order_id
    assert len([o for o in fake.orders if o.custom_tag == placed.client_order_id]) == 1


async def test_lost_answer_is_ambiguous_and_found_by_custom_tag(
        tmp_path: Path, fake: FakeProjectX, clock: FakeClock) -> None:
    broker = projectx_broker(tmp_path, fake, clock, timeout_seconds=0.2)
    instrument = await broker.resolve(normalize("NQ1!"))
    fake.drop_next("/api/Order/place")
    placed = order(instrument, "1")
    with pytest.raises(AmbiguousOutcome):
        await broker.submit_order(placed)
    found = await broker.find_order(placed.client_order_id, instrument)
    assert found is not None and found.status is OrderStatus.FILLED


async def test_balance_moves_with_closed_profit(broker: ProjectXBroker,
                                                fake: FakeProjectX) -> None:
    instrument = await broker.resolve(normalize("NQ1!"))
    await broker.submit_order(order(instrument, "1"))
    fake.set_price(instrument.symbol, "20990")
    await broker.submit_order(order(instrument, "1", Side.SELL))
    assert (await broker.balance()).equity == Decimal("50000") - 10 * 20
    figures = await broker.account_figures()
    assert figures.balance == Decimal(49800) and figures.positions == {}


def test_pending_and_unknown_codes_leave_an_order_unknown() -> None:
    for code in ("6", "7", "99"):  # 99: undocumented
        placing = ERRORS.error(code, action="/api/Order/place", places_order=True)
        assert isinstance(placing, AmbiguousOutcome), code
    reading = ERRORS.error("7", action="/api/Order/search")
    assert not isinstance(reading, AmbiguousOutcome) and reading.from_venue
