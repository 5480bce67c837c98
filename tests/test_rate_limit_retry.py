"""RetryClass.WAIT when placing: the order was not taken, so the core sends it again after the
venue's advised wait (or 1 s, 2 s, 4 s), a few times within a bound, on the router's clock.
Ambiguous outcomes are untouched: looked up, never re-sent blindly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from router_paper.broker import PaperBroker

from router_core import hookimpl
from router_core.errors import (
    AmbiguousOutcome,
    BrokerError,
    MarketClosed,
    RateLimited,
    RetryClass,
)
from router_core.journal import ClaimOutcome
from router_core.models import Order, OrderResult, OrderStatus
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import FakeClock


class LimitedBroker(PaperBroker):
    """A paper venue that refuses the next orders with the errors in ``refusals``."""

    name = "limited"

    def __init__(self, config, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self.refusals: list[BrokerError] = []
        self.attempts: list[str] = []  # client order id of every order that reached the venue
        self.place_then_lose_answer = False

    async def submit_order(self, order: Order) -> OrderResult:
        self.attempts.append(order.client_order_id)
        if self.place_then_lose_answer:  # placed, but the answer is lost on the way back
            self.place_then_lose_answer = False
            await super().submit_order(order)
            raise AmbiguousOutcome("limited: timeout after the request was written",
                                   from_venue=True)
        if self.refusals:
            raise self.refusals.pop(0)
        return await super().submit_order(order)


class LimitedPlugin:
    @hookimpl
    def router_register_brokers(self, register):  # type: ignore[no-untyped-def]
        register(LimitedBroker)


CONFIG = """
[router]
reconcile_window_seconds = 0.05

[accounts.alice]
broker = "limited"
fill_price = "100"
"""


def limited(retry_after: float | None = None) -> RateLimited:
    return RateLimited("limited: rate limit exceeded", venue_code="429", from_venue=True,
                       retry_after=retry_after)


class Venue:
    def __init__(self, router: Router, clock: FakeClock) -> None:
        self.router, self.clock = router, clock
        self.broker: LimitedBroker = router.brokers["alice"]  # type: ignore[assignment]
        self.alerts = 0

    async def buy(self) -> OrderResult:
        self.alerts += 1
        body = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "id": f"buy-{self.alerts}"}
        acceptance = self.router.accept(json.dumps(body).encode(), "application/json")
        assert acceptance.outcome is ClaimOutcome.NEW
        report = await self.router.execute(acceptance.alert_id)
        [leg] = report.legs
        return leg.result


@pytest.fixture
async def venue(tmp_path: Path) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    clock = FakeClock()
    plugins = make_plugin_manager(["paper"], extra=[("limited", LimitedPlugin())])
    router = Router.from_config_file(path, plugins=plugins, clock=clock)
    await router.start()
    try:
        yield Venue(router, clock)
    finally:
        await router.close()


async def test_a_rate_limited_order_is_sent_again_after_the_advised_wait(venue: Venue) -> None:
    venue.broker.refusals = [limited(retry_after=0.5), limited()]
    result = await venue.buy()
    assert result.status is OrderStatus.FILLED
    assert venue.clock.sleeps == [0.5, 2.0]  # as advised, then the default for a second wait
    assert len(venue.broker.attempts) == 3
    assert len(set(venue.broker.attempts)) == 1  # the same client order id every time
    assert venue.broker.ledger.count_orders() == 1


async def test_rate_limited_every_time_gives_up_after_three_resends_in_bound(
    venue: Venue,
) -> None:
    venue.broker.refusals = [limited() for _ in range(10)]
    result = await venue.buy()
    assert result.status is OrderStatus.REJECTED
    assert venue.clock.sleeps == [1.0, 2.0, 4.0]  # growing, 7 s: within the 10 s bound
    assert len(venue.broker.attempts) == 4
    assert result.venue_code == "429"
    assert result.reason == ("limited: rate limit exceeded; still refused after 3 re-sends "
                             "over 7 s")
    assert venue.broker.ledger.count_orders() == 0


@pytest.mark.parametrize(
    ("advised", "sleeps"),
    [([30.0], []), ([6.0, 6.0], [6.0])],
    ids=["one-wait-past-the-bound", "waits-adding-up-past-the-bound"],
)
async def test_an_advised_wait_past_the_bound_is_not_waited(
    venue: Venue, advised: list[float], sleeps: list[float]
) -> None:
    venue.broker.refusals = [limited(retry_after=seconds) for seconds in advised]
    result = await venue.buy()
    assert result.status is OrderStatus.REJECTED
    assert venue.clock.sleeps == sleeps
    assert len(venue.broker.attempts) == len(sleeps) + 1
    assert result.reason == (f"limited: rate limit exceeded; not re-sent: waiting "
                             f"{advised[-1]:g} s more would pass the 10 s the router waits "
                             "in all")


async def test_the_retry_class_decides_not_the_error_type(venue: Venue) -> None:
    fatal = limited()
    fatal.retry = RetryClass.FATAL  # a venue table may say this refusal will not pass
    venue.broker.refusals = [fatal]
    refused = await venue.buy()
    assert refused.status is OrderStatus.REJECTED and venue.clock.sleeps == []
    assert refused.reason == "limited: rate limit exceeded"

    throttled = MarketClosed("limited: market in post-only mode", from_venue=True)
    throttled.retry = RetryClass.WAIT
    venue.broker.refusals = [throttled]
    placed = await venue.buy()
    assert placed.status is OrderStatus.FILLED and venue.clock.sleeps == [1.0]


async def test_an_ambiguous_outcome_is_still_looked_up_not_sent_again(venue: Venue) -> None:
    venue.broker.place_then_lose_answer = True
    result = await venue.buy()
    assert result.status is OrderStatus.FILLED  # found by its client order id
    assert len(venue.broker.attempts) == 1
    assert venue.broker.ledger.count_orders() == 1
