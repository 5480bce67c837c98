"""One intent never becomes two orders: intent first, lookups before any re-send."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from router_core import (
    AmbiguousOutcome,
    Balance,
    Broker,
    Instrument,
    InstrumentKind,
    InsufficientFunds,
    OrderResult,
    OrderStatus,
    Position,
    VenueUnavailable,
    hookimpl,
)
from router_core.journal import LEG_PENDING
from router_core.plugins import make_plugin_manager
from router_core.router import Router

CONFIG = """
[router]
reconcile_attempts = 3
reconcile_window_seconds = 0.03

[accounts.v]
broker = "flaky"
"""


class FlakyVenue:
    """The venue's side: what it holds, and how the next request goes wrong."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderResult] = {}
        self.submits = 0
        self.script: list[
            str
        ] = []  # per submit: "ok", "drop_after", "drop_before", "fatal", "refused"
        self.journal = None
        self.pending_seen: list[bool] = []
        self.position_reads = 0
        self.lookup_failures = 0  # find_order raises an unclassified error this many times


VENUE = FlakyVenue()


class FlakyBroker(Broker):
    name = "flaky"

    async def resolve(self, symbol):
        return Instrument(
            symbol.ticker,
            symbol.base or "X",
            symbol.quote or "USD",
            InstrumentKind.SPOT,
            Decimal("0.01"),
            Decimal("0.001"),
        )

    async def balance(self, currency=None):
        return Balance("USD", Decimal(1000), Decimal(1000))

    async def position(self, instrument):
        VENUE.position_reads += 1
        return Position(instrument.symbol, Decimal(0))

    async def submit_order(self, order):
        VENUE.submits += 1
        leg = VENUE.journal.get_leg(order.client_order_id)
        VENUE.pending_seen.append(leg is not None and leg.status in (LEG_PENDING, "unknown"))
        step = VENUE.script.pop(0) if VENUE.script else "ok"
        if step == "refused":
            raise VenueUnavailable("connection refused")
        if step == "fatal":
            raise InsufficientFunds(
                "EOrder:Insufficient funds", venue_code="EOrder:Insufficient funds", from_venue=True
            )
        if step == "drop_before":
            raise AmbiguousOutcome("read timeout")
        if step == "plugin_bug_before":
            raise KeyError("a plugin bug before the request")
        result = OrderResult(
            OrderStatus.FILLED,
            order.client_order_id,
            f"V{VENUE.submits}",
            quantity=order.quantity,
            filled_quantity=order.quantity,
        )
        if order.client_order_id in VENUE.orders:
            raise AssertionError("the same client order id was placed twice")
        VENUE.orders[order.client_order_id] = result
        if step == "drop_after":
            raise AmbiguousOutcome("connection reset after the request was written")
        if step == "plugin_bug_after":
            raise ValueError("a plugin bug reading the answer")
        return result

    async def find_order(self, client_order_id, instrument):
        if VENUE.lookup_failures:
            VENUE.lookup_failures -= 1
            raise RuntimeError("a plugin bug in find_order")
        return VENUE.orders.get(client_order_id)


class FlakyPlugin:
    @hookimpl
    def router_register_brokers(self, register):
        register(FlakyBroker)


@pytest.fixture
async def router(tmp_path):
    global VENUE
    VENUE = FlakyVenue()
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    router = Router.from_config_file(
        path, plugins=make_plugin_manager([], extra=[("flaky", FlakyPlugin())])
    )
    VENUE.journal = router.journal
    await router.start()
    yield router
    await router.close()


async def send(router, **alert):
    body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", **alert}
    acceptance = router.accept(json.dumps(body).encode(), None)
    return (await router.execute(acceptance.alert_id)).legs[0].result


async def test_intent_is_committed_before_the_venue_is_called(router):
    await send(router)
    assert VENUE.pending_seen == [True]


async def test_execute_then_drop_is_found_not_resent(router):
    VENUE.script = ["drop_after"]
    result = await send(router)
    assert (result.status, result.venue_order_id, VENUE.submits) == (OrderStatus.FILLED, "V1", 1)
    assert len(VENUE.orders) == 1
    assert router.journal.get_leg(result.client_order_id).status == "filled"


async def test_lost_before_the_venue_is_resent_once_with_the_same_id(router):
    VENUE.script = ["drop_before", "ok"]
    result = await send(router)
    assert result.status is OrderStatus.FILLED and VENUE.submits == 2
    assert list(VENUE.orders) == [result.client_order_id]


async def test_never_resolved_stays_unknown_and_is_flagged(router):
    VENUE.script = ["drop_before", "drop_before", "drop_before"]
    result = await send(router)
    assert result.status is OrderStatus.UNKNOWN and "not re-sent again" in result.reason
    assert VENUE.submits == 2  # the first send and one re-send after proven absence
    assert router.journal.get_leg(result.client_order_id).status == "absent_given_up"


async def test_an_unclassified_plugin_failure_after_the_send_is_looked_up_not_resent(router):
    VENUE.script = ["plugin_bug_after"]
    result = await send(router)
    assert (result.status, result.venue_order_id, VENUE.submits) == (OrderStatus.FILLED, "V1", 1)
    assert router.journal.get_leg(result.client_order_id).status == "filled"


async def test_a_lookup_that_fails_unexpectedly_is_tried_again_not_taken_as_absent(router):
    VENUE.script = ["drop_after"]
    VENUE.lookup_failures = 1
    result = await send(router)
    assert (result.status, VENUE.submits) == (OrderStatus.FILLED, 1)


async def test_an_unclassified_plugin_failure_is_unknown_until_proven_absent(router):
    VENUE.script = ["plugin_bug_before", "plugin_bug_before", "plugin_bug_before"]
    result = await send(router)
    assert result.status is OrderStatus.UNKNOWN
    assert "flaky failed with KeyError while placing the order" in result.reason
    assert VENUE.submits == 2  # looked up, proven absent, re-sent once, never a third time


async def test_venue_rejection_is_sent_exactly_once(router):
    VENUE.script = ["fatal"]
    result = await send(router)
    assert (result.status, result.venue_code, VENUE.submits) == (
        OrderStatus.REJECTED,
        "EOrder:Insufficient funds",
        1,
    )


async def test_connect_failure_is_retried_because_nothing_was_sent(router):
    VENUE.script = ["refused", "refused", "ok"]
    result = await send(router)
    assert result.status is OrderStatus.FILLED and VENUE.submits == 3


async def test_journal_failure_before_sending_places_nothing(router, monkeypatch):
    async def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(router.journal, "record_intent_async", broken)
    with pytest.raises(OSError):
        await send(router)
    assert VENUE.submits == 0


async def test_pending_leg_from_a_crash_is_looked_up_at_start(tmp_path, router):
    VENUE.script = ["drop_after"]
    # simulate a crash: intent committed and the venue has the order, outcome never written
    VENUE.journal = router.journal
    result = await send(router)
    router.journal.record_outcome(result.client_order_id, {"status": LEG_PENDING})
    submits = VENUE.submits
    await router.recover()
    assert router.journal.get_leg(result.client_order_id).status == "filled"
    assert VENUE.submits == submits


async def test_a_plain_buy_on_a_cash_venue_skips_the_position_read(router):
    await send(router)
    assert VENUE.position_reads == 0
    await send(router, action="sell", quantity="1")  # a sell may close: it needs the position
    assert VENUE.position_reads == 1
