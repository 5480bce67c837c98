"""The helpers for venue plugins (router_core/sdk.py): ErrorTable, InstrumentCache and
venue_http_client, as a plugin author uses them (imported from ``router_core``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

import router_core
from router_core import (
    AiohttpTransport,
    AmbiguousOutcome,
    AuthError,
    BrokerError,
    ErrorRule,
    ErrorTable,
    InstrumentCache,
    InsufficientFunds,
    InvalidOrder,
    MarketClosed,
    RateLimited,
    RetryClass,
    UnknownSymbol,
    VenueUnavailable,
    shared_tls_context,
    venue_http_client,
)
from router_core.testing import FakeClock

# -- ErrorTable -----------------------------------------------------------------------------------

TABLE = ErrorTable("Acme", [
    ErrorRule("EOrder:Insufficient funds", InsufficientFunds, "balance too low"),
    ErrorRule("EGeneral:Invalid arguments", InvalidOrder, "malformed parameter"),
    ErrorRule("EGeneral:Invalid arguments:Index unavailable", InvalidOrder,
              "index trigger unavailable"),
    ErrorRule("EAPI:Invalid nonce", AuthError, "nonce too low", RetryClass.RETRY_READ),
    ErrorRule("EService:Throttled", RateLimited, "too many concurrent requests"),
    ErrorRule("EService:Busy", VenueUnavailable, "the engine is overloaded",
              ambiguous_for_orders=True),
])


def test_a_rule_keeps_the_error_class_retry_unless_given() -> None:
    assert TABLE["EOrder:Insufficient funds"].retry is RetryClass.FATAL
    assert TABLE["EService:Throttled"].retry is RetryClass.WAIT
    assert TABLE["EService:Busy"].retry is RetryClass.RETRY_READ
    assert TABLE["EAPI:Invalid nonce"].retry is RetryClass.RETRY_READ  # AuthError is FATAL
    assert ErrorRule("x", AuthError, "x", retry="wait").retry is RetryClass.WAIT  # type: ignore[arg-type]


def test_a_rule_needs_a_broker_error() -> None:
    with pytest.raises(TypeError, match="BrokerError subclass"):
        ErrorRule("x", ValueError, "not a broker error")  # type: ignore[arg-type]


def test_a_code_may_have_one_rule() -> None:
    with pytest.raises(ValueError, match="'dup' has two rules"):
        ErrorTable("Acme", [ErrorRule("dup", InvalidOrder, "a"), ErrorRule("dup", AuthError, "b")])


def test_the_table_is_a_read_only_mapping_of_its_exact_codes() -> None:
    assert len(TABLE) == 6 and "EService:Busy" in TABLE
    assert TABLE.get("EService:Busy:extra") is None  # the mapping is exact; match() is not
    assert dict(TABLE)["EOrder:Insufficient funds"].error is InsufficientFunds
    assert repr(TABLE) == "<ErrorTable Acme (6 codes)>"


@pytest.mark.parametrize(
    ("code", "matched"),
    [
        ("EOrder:Insufficient funds", "EOrder:Insufficient funds"),  # exact
        ("EGeneral:Invalid arguments:volume", "EGeneral:Invalid arguments"),  # prefix + ":"
        ("EService:Throttled 1700000000", "EService:Throttled"),  # prefix + " "
        ("EService:Throttled: 1700000000", "EService:Throttled"),
        # the longest documented prefix wins
        ("EGeneral:Invalid arguments:Index unavailable:x",
         "EGeneral:Invalid arguments:Index unavailable"),
        ("EService:ThrottledNow", None),  # a prefix must end where the venue's detail begins
        ("EOrder:Insufficient", None),
        ("ENothing:Like this", None),
        ("", None),
    ],
)
def test_match_is_exact_then_the_longest_prefix(code: str, matched: str | None) -> None:
    rule = TABLE.match(code)
    assert (rule.code if rule else None) == matched


def test_prefix_separators_are_chosen_per_table() -> None:
    rules = [ErrorRule("ORDER_REJECTED", InvalidOrder, "rejected")]
    exact = ErrorTable("Acme", rules, prefix_separators=())
    assert exact.match("ORDER_REJECTED:x") is None
    loose = ErrorTable("Acme", rules, prefix_separators=("",))
    assert loose.match("ORDER_REJECTED_PRICE") is rules[0]


def test_an_error_names_the_venue_the_action_the_code_and_the_reason() -> None:
    error = TABLE.error("EOrder:Insufficient funds", action="AddOrder", places_order=True)
    assert type(error) is InsufficientFunds
    assert error.from_venue is True
    assert error.venue_code == "EOrder:Insufficient funds"
    assert error.retry is RetryClass.FATAL
    assert str(error) == "Acme refused AddOrder: EOrder:Insufficient funds (balance too low)"
    assert error.message == str(error)


def test_the_code_as_it_came_is_the_venue_code() -> None:
    error = TABLE.error("EGeneral:Invalid arguments:volume", action="AddOrder")
    assert type(error) is InvalidOrder and error.venue_code == "EGeneral:Invalid arguments:volume"
    assert "(malformed parameter)" in str(error)


def test_detail_and_no_action() -> None:
    error = TABLE.error("EService:Throttled", detail="retry in 3 s")
    assert str(error) == "Acme refused: EService:Throttled (too many concurrent requests): " \
                         "retry in 3 s"
    assert error.retry is RetryClass.WAIT


def test_the_rule_retry_class_is_set_on_the_error() -> None:
    error = TABLE.error("EAPI:Invalid nonce", action="Balance")
    assert type(error) is AuthError and error.retry is RetryClass.RETRY_READ
    assert AuthError.retry is RetryClass.FATAL  # the class is untouched


def test_an_ambiguous_code_on_an_order_is_an_ambiguous_outcome() -> None:
    error = TABLE.error("EService:Busy", action="AddOrder", places_order=True)
    assert type(error) is AmbiguousOutcome and error.retry is RetryClass.AMBIGUOUS
    assert error.from_venue is True and error.venue_code == "EService:Busy"
    assert str(error) == ("Acme answered AddOrder with EService:Busy (the engine is overloaded); "
                          "the order may exist")


def test_an_ambiguous_code_on_a_read_is_the_rule_error() -> None:
    error = TABLE.error("EService:Busy", action="Balance")
    assert type(error) is VenueUnavailable and error.retry is RetryClass.RETRY_READ
    assert str(error) == "Acme refused Balance: EService:Busy (the engine is overloaded)"


def test_an_undocumented_code_is_fatal_on_a_read_and_ambiguous_on_an_order() -> None:
    read = TABLE.error("EWeird:New", action="Balance")
    assert type(read) is BrokerError and read.retry is RetryClass.FATAL
    assert read.from_venue is True and read.venue_code == "EWeird:New"
    assert str(read) == "Acme answered Balance with 'EWeird:New' (undocumented error)"
    order = TABLE.error("EWeird:New", action="AddOrder", places_order=True)
    assert type(order) is AmbiguousOutcome and order.retry is RetryClass.AMBIGUOUS
    assert str(order) == ("Acme answered AddOrder with 'EWeird:New' (undocumented error); the "
                          "order may exist")
    assert TABLE.rule_for("EWeird:New") is TABLE.default and TABLE.match("EWeird:New") is None


def test_a_default_rule_replaces_the_undocumented_one() -> None:
    table = ErrorTable("Acme", [], default=ErrorRule("*", InvalidOrder, "refused"))
    error = table.error("anything", action="sendorder", places_order=True)
    assert type(error) is InvalidOrder and error.venue_code == "anything"
    assert str(error) == "Acme answered sendorder with 'anything' (refused)"


def test_a_rule_found_elsewhere_is_applied_to_the_code() -> None:
    # e.g. a numeric code in a second table, the venue's message as the code
    numeric = ErrorTable("Acme", [ErrorRule("92", InsufficientFunds, "insufficient margin")])
    error = TABLE.error("Not enough margin", action="sendorder", rule=numeric.match("92"))
    assert type(error) is InsufficientFunds and error.venue_code == "Not enough margin"
    assert str(error) == "Acme refused sendorder: Not enough margin (insufficient margin)"


def test_a_futures_style_table_reads_an_ambiguous_code_on_a_read_as_unavailable() -> None:
    # Kraken Futures' "marketUnavailable": unknown outcome on an order, unavailable on a read
    table = ErrorTable("Kraken Futures", [
        ErrorRule("marketUnavailable", VenueUnavailable, "market unavailable",
                  ambiguous_for_orders=True),
        ErrorRule("marketSuspended", MarketClosed, "the market is suspended"),
    ], default=ErrorRule("*", BrokerError, "Kraken Futures error"))
    assert type(table.error("marketUnavailable", places_order=True)) is AmbiguousOutcome
    read = table.error("marketUnavailable")
    assert type(read) is VenueUnavailable and read.retry is RetryClass.RETRY_READ
    unknown = table.error("somethingNew", places_order=True)  # this default is never ambiguous
    assert type(unknown) is BrokerError and unknown.retry is RetryClass.FATAL


# -- InstrumentCache ------------------------------------------------------------------------------


class Venue:
    """Counts loads; ``gate`` holds a load until set; ``fail`` makes the next load raise."""

    def __init__(self) -> None:
        self.listed = {"BTC-USD"}
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def load(self) -> frozenset[str]:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            self.fail = False
            raise VenueUnavailable("instruments: HTTP 503")
        return frozenset(self.listed)


def _lookup(name: str) -> Callable[[frozenset[str]], str | None]:
    return lambda listed: name if name in listed else None


@pytest.fixture
def venue() -> Venue:
    return Venue()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_loaded_once_then_cached(venue: Venue, clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock)
    assert not cache.loaded and cache.may_refresh and cache.age == float("inf")
    assert await cache.get() == {"BTC-USD"}
    clock.advance(3600)
    assert await cache.get() == {"BTC-USD"}  # no time limit on a hit
    assert venue.loads == 1 and cache.loaded and cache.age == 3600


async def test_concurrent_first_calls_share_one_load(venue: Venue, clock: FakeClock) -> None:
    venue.gate = asyncio.Event()
    cache = InstrumentCache(venue.load, clock=clock)
    calls = [asyncio.create_task(cache.get()) for _ in range(10)]
    await asyncio.sleep(0)
    venue.gate.set()
    assert {frozenset(v) for v in await asyncio.gather(*calls)} == {frozenset({"BTC-USD"})}
    assert venue.loads == 1


async def test_a_miss_reloads_at_most_every_refresh_seconds(venue: Venue,
                                                            clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock, refresh_seconds=60)
    assert await cache.find(_lookup("BTC-USD")) == "BTC-USD"
    venue.listed.add("SOL-USD")
    assert await cache.find(_lookup("SOL-USD")) is None  # loaded just now: no reload
    clock.advance(59.9)
    assert await cache.find(_lookup("SOL-USD")) is None
    assert venue.loads == 1
    clock.advance(0.1)
    assert cache.may_refresh
    assert await cache.find(_lookup("SOL-USD")) == "SOL-USD"
    assert venue.loads == 2
    assert await cache.find(_lookup("NOPE")) is None  # the reload restarted the window
    assert venue.loads == 2


async def test_concurrent_misses_share_one_reload(venue: Venue, clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock, refresh_seconds=60)
    await cache.get()
    venue.listed.add("SOL-USD")
    clock.advance(60)
    venue.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.find(_lookup("SOL-USD"))) for _ in range(10)]
    await asyncio.sleep(0)
    venue.gate.set()
    assert await asyncio.gather(*calls) == ["SOL-USD"] * 10  # each looked again after the load
    assert venue.loads == 2


async def test_refresh_returns_the_current_value_within_the_window(venue: Venue,
                                                                   clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock, refresh_seconds=30)
    assert await cache.refresh() == {"BTC-USD"}  # never loaded: loads
    venue.listed.add("SOL-USD")
    assert await cache.refresh() == {"BTC-USD"}
    clock.advance(30)
    assert await cache.refresh() == {"BTC-USD", "SOL-USD"}
    assert venue.loads == 2


async def test_a_failed_load_changes_nothing_and_the_next_call_tries_again(
        venue: Venue, clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock, refresh_seconds=60)
    venue.fail = True
    with pytest.raises(VenueUnavailable):
        await cache.get()
    assert not cache.loaded
    assert await cache.get() == {"BTC-USD"}
    clock.advance(60)
    venue.fail = True
    with pytest.raises(VenueUnavailable):
        await cache.find(_lookup("SOL-USD"))
    assert await cache.get() == {"BTC-USD"} and cache.age == 60  # the old value stays
    venue.listed.add("SOL-USD")
    assert await cache.find(_lookup("SOL-USD")) == "SOL-USD"
    assert venue.loads == 4


async def test_put_installs_a_value_loaded_elsewhere(venue: Venue, clock: FakeClock) -> None:
    cache: InstrumentCache[frozenset[str]] = InstrumentCache(venue.load, clock=clock)
    cache.put(frozenset({"ETH-USD"}))
    assert await cache.get() == {"ETH-USD"} and venue.loads == 0
    assert not cache.may_refresh  # a put counts as a load


async def test_a_lookup_that_raises_uses_may_refresh(venue: Venue, clock: FakeClock) -> None:
    cache = InstrumentCache(venue.load, clock=clock, refresh_seconds=60)

    def resolve(listed: frozenset[str], name: str) -> str:
        if name not in listed:
            raise UnknownSymbol(f"no {name}")
        return name

    async def resolve_with_reload(name: str) -> str:
        try:
            return resolve(await cache.get(), name)
        except UnknownSymbol:
            if not cache.may_refresh:
                raise
            return resolve(await cache.refresh(), name)

    await cache.get()
    venue.listed.add("SOL-USD")
    with pytest.raises(UnknownSymbol):
        await resolve_with_reload("SOL-USD")
    clock.advance(60)
    assert await resolve_with_reload("SOL-USD") == "SOL-USD"


def test_refresh_seconds_is_not_negative(venue: Venue, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="refresh_seconds"):
        InstrumentCache(venue.load, clock=clock, refresh_seconds=-1)


# -- venue_http_client ----------------------------------------------------------------------------


def _recording_venue(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/moved"):
            return httpx.Response(302, headers={"Location": "https://elsewhere.invalid/"})
        return httpx.Response(200, json={"ok": True}, headers={"Set-Cookie": "session=abc"})

    return httpx.MockTransport(handle)


async def test_the_client_uses_the_test_transport_and_base_url() -> None:
    seen: list[httpx.Request] = []
    client = venue_http_client(
        base_url="https://api.acme.invalid/v1/", transport=_recording_venue(seen), timeout=7,
        user_agent="alert-router-acme/1.2.3", headers={"Accept": "application/json"},
    )
    try:
        assert (await client.get("orders")).json() == {"ok": True}
        await client.get("orders")
        moved = await client.get("/moved")
    finally:
        await client.aclose()
    assert str(seen[0].url) == "https://api.acme.invalid/v1/orders"
    assert seen[0].headers["User-Agent"] == "alert-router-acme/1.2.3"
    assert seen[0].headers["Accept"] == "application/json"
    assert "cookie" not in seen[1].headers  # the Set-Cookie was not kept
    assert moved.status_code == 302 and len(seen) == 3  # not followed
    assert client.timeout == httpx.Timeout(7)


async def test_timeout_and_user_agent_defaults() -> None:
    seen: list[httpx.Request] = []
    timeout = httpx.Timeout(10, connect=5)
    base = "https://api.acme.invalid"
    client = venue_http_client(base_url=base, transport=_recording_venue(seen), timeout=timeout)
    headers = {"user-agent": "from-headers/1"}
    named = venue_http_client(base_url=base, transport=_recording_venue(seen), timeout=1,
                              headers=headers)
    try:
        await client.get("/x")
        await named.get("/x")
    finally:
        await client.aclose()
        await named.aclose()
    assert client.timeout == timeout
    assert seen[0].headers["User-Agent"] == f"alert-router/{router_core.__version__}"
    assert seen[1].headers.get_list("User-Agent") == ["from-headers/1"]
    assert headers == {"user-agent": "from-headers/1"}  # the caller's dict is not changed


async def test_in_production_the_client_runs_on_the_core_transport() -> None:
    client = venue_http_client(base_url="https://api.acme.invalid", transport=None, timeout=5,
                               user_agent="alert-router-acme/1")
    try:
        transport = client._transport
        assert isinstance(transport, AiohttpTransport)
        assert transport._ssl is shared_tls_context()
    finally:
        await client.aclose()
