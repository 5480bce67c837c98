"""Helpers for venue plugins: the parts every plugin needs and the core can own.

* ``ErrorTable`` / ``ErrorRule``: a declarative table from a venue's error codes to the core's
  typed errors (``InsufficientFunds``, ``RateLimited``, ``AmbiguousOutcome``...);
* ``InstrumentCache``: the venue's instruments loaded once, cached, reloaded at most every N
  seconds when a symbol is not found, one load at a time;
* ``venue_http_client``: the ``httpx.AsyncClient`` a plugin talks to its venue with (or
  ``VenueHttp``, in ``venue_http.py``: the same guarantees without httpx.AsyncClient's CPU per
  request, what the Kraken plugins use).

All three are optional: a plugin with needs of its own keeps its own code. They are exported
from ``router_core`` (``from router_core import ErrorTable``); this module's name is not part of
the public API. docs/writing-a-plugin.md, "Helpers for venue plugins", shows them together.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from .errors import AmbiguousOutcome, BrokerError, RetryClass

if TYPE_CHECKING:
    import httpx

    from .clock import Clock

T = TypeVar("T")
R = TypeVar("R")

# -- error table ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class ErrorRule:
    """One venue error code and what it means in the core's terms; a row of an ``ErrorTable``.

    :param code: the venue's error code or string, exactly as the venue sends it
        (``"EOrder:Insufficient funds"``, ``"insufficient_funds"``, ``"10"`` for a number).
    :param error: the core's error class to raise: ``InsufficientFunds``, ``InvalidOrder``,
        ``RateLimited``... (a ``BrokerError`` subclass taking ``message``, ``venue_code=`` and
        ``from_venue=``, as every core error does).
    :param reason: what the code means, for a human; it ends up in the error's message.
    :param retry: the ``RetryClass`` the raised error carries. Leave it out to keep the error
        class's own (``FATAL`` for most, ``WAIT`` for ``RateLimited``, ``RETRY_READ`` for
        ``VenueUnavailable``); give it when the venue's code means otherwise (an invalid nonce
        that may be re-signed and sent again: ``AuthError`` with ``RETRY_READ``).
    :param ambiguous_for_orders: ``True`` when the venue does not promise that a request that
        places an order and is answered with this code placed nothing (an internal error, a
        busy engine, a deadline that passed while the order was queued). Answering an order
        with it raises ``AmbiguousOutcome``, so the core looks the order up before anything is
        sent again; answering any other request raises ``error`` as usual. Mind the core's
        retries when placing: it sends an order again after a ``VenueUnavailable`` or a
        ``RateLimited`` (``RetryClass.RETRY_READ`` / ``WAIT``), so map a code to those only
        when the venue promises that nothing was done, and mark it ambiguous otherwise.

    ``retry`` always reads as a ``RetryClass``: the one given or the error class's.

    Example::

        ErrorRule("insufficient_funds", InsufficientFunds, "not enough balance or margin")
        ErrorRule("engine_busy", VenueUnavailable, "the matching engine is overloaded",
                  ambiguous_for_orders=True)
    """

    code: str
    error: type[BrokerError]
    reason: str
    retry: RetryClass
    ambiguous_for_orders: bool

    def __init__(
        self,
        code: str,
        error: type[BrokerError],
        reason: str,
        retry: RetryClass | None = None,
        *,
        ambiguous_for_orders: bool = False,
    ) -> None:
        if not (isinstance(error, type) and issubclass(error, BrokerError)):
            raise TypeError(f"ErrorRule {code!r}: error must be a BrokerError subclass, "
                            f"not {error!r}")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "retry", error.retry if retry is None else RetryClass(retry))
        object.__setattr__(self, "ambiguous_for_orders", ambiguous_for_orders)


UNDOCUMENTED = ErrorRule("*", BrokerError, "undocumented error", ambiguous_for_orders=True)


class ErrorTable(Mapping[str, ErrorRule]):
    """A venue's error codes -> the core's typed errors, in one declarative table.

    :param venue: the venue's name as messages start with it (``"Kraken"``, ``"mybroker"``).
    :param rules: the ``ErrorRule`` of every documented code; a code may appear once.
    :param default: the rule for a code no rule matches (its ``code`` is not matched: ``"*"``
        reads well). Without one, an undocumented code raises a plain ``BrokerError``
        (``FATAL``), and ``AmbiguousOutcome`` when it answered a request that places an order:
        a code the venue does not document is no proof that nothing was placed.
    :param prefix_separators: how a code longer than a documented one still matches it. Venues
        append details (``"EGeneral:Invalid arguments:volume"``, ``"EService:Throttled:
        1700000000"``): a code matches the longest rule whose code it starts with, followed by
        one of these strings. ``()`` turns prefix matching off; ``("",)`` accepts any prefix.

    Look-ups: exact first, then the longest prefix, then ``default``. The table is a read-only
    ``Mapping`` from each rule's code to the rule (exact codes only), so tests can walk it.

    Use it in the client, where the venue's answer is read::

        ERRORS = ErrorTable("mybroker", [
            ErrorRule("bad_signature", AuthError, "the venue refused the key or signature"),
            ErrorRule("insufficient_funds", InsufficientFunds, "not enough balance or margin"),
            ErrorRule("rate_limited", RateLimited, "the key's rate limit was hit"),
            ErrorRule("engine_busy", VenueUnavailable, "the engine is overloaded",
                      ambiguous_for_orders=True),
        ])

        code = answer["error"]["code"]
        raise ERRORS.error(code, action="POST /orders", places_order=True)
        # InsufficientFunds("mybroker refused POST /orders: insufficient_funds (not enough
        # balance or margin)", venue_code="insufficient_funds", from_venue=True)
    """

    def __init__(
        self,
        venue: str,
        rules: Iterable[ErrorRule],
        *,
        default: ErrorRule | None = None,
        prefix_separators: Sequence[str] = (":", " "),
    ) -> None:
        self.venue = venue
        self.default = UNDOCUMENTED if default is None else default
        self.prefix_separators = tuple(prefix_separators)
        self._rules: dict[str, ErrorRule] = {}
        for rule in rules:
            if rule.code in self._rules:
                raise ValueError(f"ErrorTable {venue!r}: code {rule.code!r} has two rules")
            self._rules[rule.code] = rule
        self._longest_first = sorted(self._rules.values(), key=lambda r: len(r.code),
                                     reverse=True)

    def __getitem__(self, code: str) -> ErrorRule:
        return self._rules[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"<ErrorTable {self.venue} ({len(self._rules)} codes)>"

    def match(self, code: str) -> ErrorRule | None:
        """The rule for ``code``: the exact one, else the longest documented prefix, else
        ``None`` (``default`` is not consulted: see ``rule_for``)."""
        rule = self._rules.get(code)
        if rule is not None:
            return rule
        for candidate in self._longest_first:
            for separator in self.prefix_separators:
                if code.startswith(candidate.code + separator):
                    return candidate
        return None

    def rule_for(self, code: str) -> ErrorRule:
        """The rule ``error`` applies to ``code``: ``match(code)``, else ``default``."""
        rule = self.match(code)
        return self.default if rule is None else rule

    def error(
        self,
        code: str,
        *,
        action: str = "",
        places_order: bool = False,
        detail: str = "",
        rule: ErrorRule | None = None,
    ) -> BrokerError:
        """The typed error for the venue answering ``code``; ``raise`` it.

        :param code: the venue's code or string, as it came (it becomes ``venue_code``).
        :param action: what was being done, for the message: the venue's method or
            ``"POST /orders"``.
        :param places_order: ``True`` for a request that may create an order; a rule with
            ``ambiguous_for_orders`` (and, without a ``default``, an undocumented code) then
            gives ``AmbiguousOutcome``.
        :param detail: the venue's own words, when it sent any (a ``message`` field); appended.
        :param rule: the rule to apply instead of looking ``code`` up, for a code found some
            other way (a numeric code in another table, a status field).

        The error has ``from_venue=True`` (the venue answered: a *rejection*), ``venue_code``
        set to ``code``, and ``retry`` set to the rule's ``RetryClass`` (``AMBIGUOUS`` for
        ``AmbiguousOutcome``). Its message names the venue, the action, the code and the
        rule's reason: ``"Kraken refused AddOrder: EOrder:Insufficient funds (balance too
        low)"``; ``"Kraken answered AddOrder with EService:Busy (Kraken is overloaded); the
        order may exist"``; for an undocumented code ``"Kraken answered BalanceEx with
        'EWeird:New' (undocumented error)"``.
        """
        if rule is None:
            rule = self.match(code)
        documented = rule is not None
        if rule is None:
            rule = self.default
        where = f" {action}" if action else ""
        said = f": {detail}" if detail else ""
        # an undocumented code is quoted, so an empty or odd one shows as it came
        shown = code if documented else repr(code)
        answered = f"{self.venue} answered{where} with {shown} ({rule.reason}){said}"
        if rule.ambiguous_for_orders and places_order:
            ambiguous: BrokerError = AmbiguousOutcome(
                f"{answered}; the order may exist", venue_code=code, from_venue=True)
            ambiguous.retry = RetryClass.AMBIGUOUS
            return ambiguous
        message = (f"{self.venue} refused{where}: {code} ({rule.reason}){said}" if documented
                   else answered)
        error = rule.error(message, venue_code=code, from_venue=True)
        error.retry = rule.retry  # the table's class wins over the error type's default
        return error


# -- instrument cache -----------------------------------------------------------------------------


class InstrumentCache(Generic[T]):
    """The venue's instruments, loaded once and cached; a miss reloads them, at most every
    ``refresh_seconds``, and only one load runs at a time.

    :param load: an async function returning what the broker looks symbols up in: a dict of
        ``Instrument`` by symbol, or an index of the plugin's own (``T``). It raises when the
        venue cannot be read (``VenueUnavailable``); a failed load changes nothing and the
        next call tries again.
    :param clock: ``context.clock``, so tests move time by hand (``router_core.testing
        .FakeClock``).
    :param refresh_seconds: the least time between two loads caused by misses, so a stream of
        alerts for a symbol the venue does not list cannot hammer its instruments endpoint.

    Calls:

    ``await cache.get()``
        the cached value; the first call loads it (``Broker.start`` is a good place).
    ``await cache.find(lookup)``
        ``lookup(value)``, a function returning the instrument or ``None``; on ``None`` the
        value is reloaded when it is older than ``refresh_seconds`` and ``lookup`` runs on the
        new one. Returns ``None`` when the symbol is still unknown: raise ``UnknownSymbol``.
    ``await cache.refresh()``
        reload unless the value is younger than ``refresh_seconds``; returns the current value
        (perhaps loaded by a concurrent caller). For a lookup that raises instead of returning
        ``None``: ``if cache.may_refresh: value = await cache.refresh()``.
    ``cache.put(value)``
        install a value loaded some other way (a start-up health check that already read the
        instruments); it counts as a load.

    Concurrent callers share one load: a caller that finds a load running waits for it and
    uses its result. Example, in a broker::

        def __init__(self, config, context):
            super().__init__(config, context)
            self._instruments = InstrumentCache(self._load_instruments, clock=context.clock)

        async def _load_instruments(self) -> dict[str, Instrument]:
            rows = (await self.client.request("GET", "/instruments"))["instruments"]
            return {row["symbol"]: to_instrument(row) for row in rows}

        async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
            found = await self._instruments.find(lambda table: table.get(symbol.ticker))
            if found is None:
                raise UnknownSymbol(f"mybroker has no instrument {symbol.raw!r}")
            return found
    """

    def __init__(
        self, load: Callable[[], Awaitable[T]], *, clock: Clock, refresh_seconds: float = 60.0
    ) -> None:
        if refresh_seconds < 0:
            raise ValueError(f"refresh_seconds must be 0 or more, not {refresh_seconds}")
        self._load = load
        self._clock = clock
        self.refresh_seconds = refresh_seconds
        self._box: tuple[T] | None = None  # the value, once loaded (T may itself allow None)
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = f"loaded {self.age:.0f} s ago" if self.loaded else "not loaded"
        return f"<InstrumentCache {state}>"

    @property
    def loaded(self) -> bool:
        """Whether a value was loaded (or put) yet."""
        return self._box is not None

    @property
    def age(self) -> float:
        """Seconds since the last load (``inf`` before the first)."""
        return self._clock.monotonic() - self._loaded_at

    @property
    def may_refresh(self) -> bool:
        """Whether a miss may reload now: never loaded, or loaded ``refresh_seconds`` ago."""
        return not self.loaded or self.age >= self.refresh_seconds

    async def get(self) -> T:
        """The cached value, loaded on the first call."""
        if not self.loaded:
            async with self._lock:
                if not self.loaded:
                    await self._reload()
        return self._current()

    async def refresh(self) -> T:
        """Reload unless the value is younger than ``refresh_seconds``; the current value."""
        async with self._lock:
            if self.may_refresh:
                await self._reload()
        return self._current()

    async def find(self, lookup: Callable[[T], R | None]) -> R | None:
        """``lookup`` on the cached value; on ``None``, once more after a ``refresh`` when the
        value may be reloaded. ``None`` when the second look finds nothing either."""
        found = lookup(await self.get())
        if found is None and self.may_refresh:
            found = lookup(await self.refresh())
        return found

    def put(self, value: T) -> None:
        """Install ``value`` as if just loaded."""
        self._box = (value,)
        self._loaded_at = self._clock.monotonic()

    async def _reload(self) -> None:
        self.put(await self._load())

    def _current(self) -> T:
        assert self._box is not None
        return self._box[0]


# -- HTTP client ----------------------------------------------------------------------------------


def venue_http_client(
    *,
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float | httpx.Timeout,
    user_agent: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` a venue plugin sends its requests with. Close it with
    ``await client.aclose()`` in ``Broker.close``.

    ``router_core.VenueHttp`` is the preferred path: the same arguments and guarantees for
    about half the CPU per request, and what every first-party venue client uses (Kraken spot
    and Futures, Tradovate, ProjectX, TradeLocker) except ccxt's. This client stays for a
    plugin that needs an ``httpx.Response`` (ccxt reads its reason phrase and charset) or
    streams an answer.

    :param base_url: the venue's API root (``config.base_url``); requests then name a path.
    :param transport: ``context.transport``, always. Tests put a fake venue there
        (``httpx.MockTransport``, an ASGI app); in production it is ``None`` and the client
        runs on the core's ``AiohttpTransport`` with the process's one verifying TLS context
        (``shared_tls_context``). That transport raises ``httpx.ConnectError`` /
        ``ConnectTimeout`` (``NOT_SENT_ERRORS``) only when nothing was written, so a client
        may treat those as "not sent" and anything else on an order as ambiguous.
    :param timeout: seconds for each phase (connect, write, each read, pool wait), or an
        ``httpx.Timeout`` to set them apart (``httpx.Timeout(10, connect=5)``).
    :param user_agent: the ``User-Agent`` header; name the plugin and its version
        (``"alert-router-mybroker/0.1.0"``). Default: the one in ``headers``, else
        ``alert-router/<core version>``.
    :param headers: further headers sent with every request (``{"Accept":
        "application/json"}``); never a secret, which belongs in the signed request.

    The client keeps no cookies (``NoCookies``: venues authenticate each request, and parsing
    Set-Cookie costs CPU on every answer) and never follows redirects (a venue API that
    redirects is misconfigured, and a signed POST must not be replayed elsewhere).
    ``router_core.VenueHttp`` takes the same arguments and keeps the same guarantees for about
    half the CPU per request. Example::

        self._http = venue_http_client(
            base_url=config.base_url, transport=context.transport,
            timeout=config.timeout_seconds, user_agent=f"alert-router-mybroker/{__version__}",
        )
    """
    import httpx

    from . import __version__
    from .http_transport import AiohttpTransport, NoCookies, shared_tls_context

    given = dict(headers or {})
    named = [given.pop(name) for name in list(given) if name.lower() == "user-agent"]
    sent = {**given, "User-Agent": user_agent or (named[-1] if named else
                                                  f"alert-router/{__version__}")}
    return httpx.AsyncClient(
        base_url=base_url,
        transport=(transport if transport is not None
                   else AiohttpTransport(ssl=shared_tls_context())),
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        headers=sent,
        follow_redirects=False,
        cookies=NoCookies(),
    )


__all__ = ["ErrorRule", "ErrorTable", "InstrumentCache", "venue_http_client"]
