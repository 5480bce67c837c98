"""Transport to Kraken spot REST: allowlist, signing, nonces in order, rate budgets, errors.

One pooled ``router_core.VenueHttp`` per broker instance, over the core's ``AiohttpTransport``
(tests inject their own transport). Every private call on one API key goes
through one ``asyncio.Lock`` held from taking the nonce until the answer is read: Kraken checks
nonces in *arrival* order, and two requests on two pooled connections can overtake each other,
so only one private request per key is in flight at a time. Rate budgets are waited for before
the lock, so a waiting call never holds up the key.

Retry policy is not decided here: this module classifies failures (see ``errors.py``) and never
re-sends anything itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from router_core import (
    NOT_SENT_ERRORS,
    AmbiguousOutcome,
    BrokerContext,
    BrokerError,
    ConfigError,
    DecayingCounter,
    NonceSource,
    RateLimited,
    RetryClass,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
    key_fingerprint,
)

from . import __version__
from .config import KrakenSpotConfig
from .endpoints import (
    REST_LIMITS,
    TRADING_LIMITS,
    Counter,
    endpoint,
)
from .errors import ORDER_ENTRY, first_error, venue_error
from .form import form_encode
from .signing import BadSecret, Signer, decode_secret

log = logging.getLogger("router_kraken_spot")

LOCKOUT_SECONDS = 15 * 60  # Kraken's temporary lockout lasts about 15 minutes
# after EAPI:Rate limit exceeded: Kraken restricts "a few seconds, longer if you keep calling"
REST_BACKOFF_SECONDS = 15.0
TRADING_BACKOFF_SECONDS = 10.0  # after EOrder:Rate limit exceeded
REFUSE_ABOVE_SECONDS = 60.0
# Invalid nonces mean another program uses the key (or a clock/state mix-up); Kraken locks keys
# that keep sending them, so the key stops itself first.
NONCE_ERRORS_LIMIT = 3
NONCE_ERRORS_WINDOW = 60.0  # a pause longer than this refuses calls instead of waiting
CLOCK_REFRESH_SECONDS = 300.0  # re-measure the offset to Kraken's clock this often
CLOCK_WARN_SECONDS = 2.0

_RATE_CODES = ("EAPI:Rate limit exceeded", "EGeneral:Too many requests",
               "EAuth:Rate limit exceeded", "EAuth:Too many requests")
_TRADING_RATE_CODES = ("EOrder:Rate limit exceeded", "EOrder:Domain rate limit exceeded")
_FORM = "application/x-www-form-urlencoded; charset=utf-8"

# One lock per API key, shared by every broker instance that uses the key in this process
# (they share the NonceSource the core's NonceRegistry hands out for the key).
_KEY_LOCKS: weakref.WeakKeyDictionary[NonceSource, asyncio.Lock] = weakref.WeakKeyDictionary()
# The reason a key's REST counter is paused for a lockout (refuse, do not wait, until it ends).
_LOCKOUTS: weakref.WeakKeyDictionary[DecayingCounter, str] = weakref.WeakKeyDictionary()
_NONCE_ERRORS: weakref.WeakKeyDictionary[DecayingCounter, list[float]] = (
    weakref.WeakKeyDictionary())


def rfc3339_milliseconds(timestamp: float) -> str:
    """``timestamp`` as ``2026-01-02T03:04:05.678Z``: exactly what
    ``datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")`` gives, with
    ``Z`` for ``+00:00``.

    The datetime form took 1.6 µs an order (mostly ``isoformat``), this one 0.5 µs: the date
    and time of day are formatted once per second, and the fraction is rounded to microseconds
    as ``fromtimestamp`` rounds it (half to even), then truncated to milliseconds.
    """
    second = math.floor(timestamp)
    microseconds = round((timestamp - second) * 1_000_000)
    if microseconds == 1_000_000:  # rounded up into the next second, as datetime does
        second, microseconds = second + 1, 0
    return f"{_utc_second(second)}.{microseconds // 1000:03d}Z"


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class KrakenSpotClient:
    def __init__(self, config: KrakenSpotConfig, context: BrokerContext) -> None:
        self._config = config
        self._context = context
        self._clock = context.clock
        self._api_key: SecretStr = context.secret(config.api_key_env, key="api_key_env")
        secret = context.secret(config.api_secret_env, key="api_secret_env")
        try:
            self._signer = Signer(decode_secret(secret.get_secret_value()))
        except BadSecret as exc:
            raise ConfigError(
                f"{exc} (environment variable {config.api_secret_env})",
                key=f"accounts.{context.account}.api_secret_env",
            ) from None
        self._otp: SecretStr | None = (
            context.secret(config.otp_env, key="otp_env") if config.otp_env else None
        )
        public_key = self._api_key.get_secret_value()
        self.key_id = key_fingerprint(public_key)
        self._nonces = context.nonces.for_key(public_key)
        self._lock = _KEY_LOCKS.setdefault(self._nonces, asyncio.Lock())
        rest_max, rest_decay = REST_LIMITS[config.tier]
        self.rest_counter = context.limiters.get(
            f"kraken-spot:rest:{self.key_id}",
            lambda clock: DecayingCounter(
                rest_max, rest_decay, clock=clock, name=f"kraken-spot REST counter {self.key_id}"
            ),
        )
        # the core's AiohttpTransport (one TLS context for every account in the process) unless
        # a test injects a transport; no cookies, no redirects
        self._http = VenueHttp(
            base_url=config.base_url,
            transport=context.transport,
            timeout=config.timeout_seconds,
            user_agent=f"alert-router-kraken-spot/{__version__}",
        )
        self._trading_counters: dict[str, DecayingCounter] = {}  # pair -> the registry's counter
        self.clock_offset: float | None = None  # Kraken server time minus our clock.time()
        self._offset_measured_at = 0.0

    def __repr__(self) -> str:
        return f"<KrakenSpotClient key={self.key_id} base_url={self._config.base_url!r}>"

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- rate budgets -------------------------------------------------------------------------

    def trading_counter(self, pair: str) -> DecayingCounter:
        counter = self._trading_counters.get(pair)
        if counter is None:  # shared through the registry with every client on this key
            threshold, decay = TRADING_LIMITS[self._config.tier]
            counter = self._trading_counters[pair] = self._context.limiters.get(
                f"kraken-spot:trading:{self.key_id}:{pair}",
                lambda clock: DecayingCounter(
                    threshold, decay, clock=clock, name=f"kraken-spot trading counter {pair}"
                ),
            )
        return counter

    def lockout(self) -> tuple[str, datetime] | None:
        """``(reason, resumes_at)`` while this key is locked out, else None.

        A lockout refuses calls until it ends; a short back-off (rate limit) is waited out.
        """
        paused = self.rest_counter.paused_for
        reason = _LOCKOUTS.get(self.rest_counter)
        if paused <= 0:
            _LOCKOUTS.pop(self.rest_counter, None)
            return None
        if reason is None and paused <= REFUSE_ABOVE_SECONDS:
            return None
        return reason or "a long rate-limit back-off", datetime.fromtimestamp(
            self._clock.time() + paused, UTC)

    def _refuse_if_locked_out(self, method: str) -> None:
        if not _LOCKOUTS and self.rest_counter.paused_for <= 0:
            return  # the usual call: no key locked out, this one not paused (as lockout() says)
        state = self.lockout()
        if state is not None:
            reason, resumes = state
            raise RateLimited(
                f"kraken-spot key {self.key_id} is paused after {reason}; {method} refused "
                f"locally, nothing sent; calls resume at {resumes.isoformat(timespec='seconds')}",
                from_venue=False,
            )

    def _after_error(self, code: str, pair: str | None) -> None:
        if code.startswith("EGeneral:Temporary lockout"):
            _LOCKOUTS[self.rest_counter] = "Kraken's EGeneral:Temporary lockout"
            self.rest_counter.pause(LOCKOUT_SECONDS)
        elif code.startswith("EAPI:Invalid nonce"):
            now = self._clock.monotonic()
            recent = [t for t in _NONCE_ERRORS.get(self.rest_counter, [])
                      if now - t < NONCE_ERRORS_WINDOW] + [now]
            _NONCE_ERRORS[self.rest_counter] = recent
            if len(recent) >= NONCE_ERRORS_LIMIT:
                _LOCKOUTS[self.rest_counter] = (
                    f"{len(recent)} EAPI:Invalid nonce answers within a minute (is another "
                    "program using this API key?)")
                self.rest_counter.pause(LOCKOUT_SECONDS)
                log.error("kraken-spot key %s halted: %s", self.key_id,
                          _LOCKOUTS[self.rest_counter])
        elif code.startswith(_RATE_CODES):
            self.rest_counter.pause(REST_BACKOFF_SECONDS)
        elif code.startswith(_TRADING_RATE_CODES) and pair is not None:
            self.trading_counter(pair).pause(TRADING_BACKOFF_SECONDS)
        elif code.startswith("EService:Throttled"):
            self.rest_counter.pause(self._throttled_for(code))

    def _throttled_for(self, code: str) -> float:
        # "EService:Throttled: <unix ts>" names when to retry, in Kraken's clock
        try:
            until = float(code.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            return REST_BACKOFF_SECONDS
        now = self._clock.time() + (self.clock_offset or 0.0)
        return min(max(until - now, 1.0), LOCKOUT_SECONDS)

    # -- Kraken's clock -----------------------------------------------------------------------

    async def measure_clock(self) -> float:
        """Measure the offset to Kraken's clock from /0/public/Time; returns it in seconds."""
        before = self._clock.time()
        result = await self.public("Time")
        after = self._clock.time()
        try:
            server = float(result["unixtime"]) + 0.5  # whole seconds, truncated
        except (KeyError, TypeError, ValueError):
            raise VenueUnavailable("Kraken's /0/public/Time answer has no unixtime") from None
        self.clock_offset = server - (before + after) / 2
        self._offset_measured_at = self._clock.monotonic()
        if abs(self.clock_offset) > CLOCK_WARN_SECONDS:
            log.warning("host clock differs from Kraken's by %.1f s; deadlines use Kraken's "
                        "clock", self.clock_offset)
        return self.clock_offset

    def _offset_is_stale(self) -> bool:
        return self._clock.monotonic() - self._offset_measured_at > CLOCK_REFRESH_SECONDS

    async def _fresh_clock(self) -> float:
        stale = self._offset_is_stale()
        if self.clock_offset is None:
            try:
                return await self.measure_clock()
            except BrokerError as exc:
                raise VenueUnavailable(
                    f"cannot read Kraken's clock for the order deadline; nothing sent ({exc})",
                    from_venue=False,
                ) from None
        if stale:
            try:
                await self.measure_clock()
            except BrokerError as exc:  # keep the last offset; it was fine five minutes ago
                log.warning("re-measuring Kraken's clock failed: %s", exc)
        return self.clock_offset

    def deadline(self) -> str:
        """RFC3339 deadline ``deadline_seconds`` after Kraken's current time."""
        server_now = self._clock.time() + (self.clock_offset or 0.0)
        return rfc3339_milliseconds(server_now + self._config.deadline_seconds)

    # -- calls --------------------------------------------------------------------------------

    async def public(self, method: str, params: Mapping[str, str] | None = None) -> Any:
        ep = endpoint(f"/0/public/{method}")
        try:
            response = await self._http.get(ep.path, params=params)
        except httpx.TransportError as exc:
            raise VenueUnavailable(
                f"Kraken {method}: {type(exc).__name__}", from_venue=False
            ) from None
        return self._parse(method, response, pair=None)

    async def private(
        self,
        method: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        pair: str | None = None,
        trading_cost: float = 0,
        deadline: bool = False,
    ) -> Any:
        """Sign and send one private call; returns Kraken's ``result``.

        ``pair`` and ``trading_cost`` charge the pair's matching-engine counter (AddOrder,
        CancelOrder); other calls charge the key's REST counter. ``deadline`` appends a
        ``deadline`` computed against Kraken's clock at the moment of signing.
        """
        path = f"/0/private/{method}"  # ep.path, which formats it again on every read
        ep = endpoint(path)  # refuses anything outside the allowlist
        self._refuse_if_locked_out(method)
        if ep.counter is Counter.REST:
            await self.rest_counter.acquire(ep.cost)
        elif pair is not None and trading_cost > 0:
            await self.trading_counter(pair).acquire(trading_cost)
        if deadline and (self.clock_offset is None or self._offset_is_stale()):
            # only then a coroutine of its own (~0.35 µs an order): the offset is measured
            # at start and again every five minutes
            await self._fresh_clock()
        order_entry = method in ORDER_ENTRY
        async with self._lock:
            self._refuse_if_locked_out(method)  # a call that waited may meet a new lockout
            fields = [("nonce", str(self._nonces.next())), *params]
            if deadline:
                fields.append(("deadline", self.deadline()))
            if self._otp is not None:
                fields.append(("otp", self._otp.get_secret_value()))
            body = form_encode(fields)
            headers = {
                "API-Key": self._api_key.get_secret_value(),
                "API-Sign": self._signer.sign(path, fields[0][1], body),
                "Content-Type": _FORM,
            }
            started = time.perf_counter()
            try:
                response = await self._http.post(path, content=body.encode(), headers=headers)
            except NOT_SENT_ERRORS as exc:
                raise VenueUnavailable(
                    f"could not connect to Kraken for {method} ({type(exc).__name__}); "
                    "nothing was sent",
                    from_venue=False,
                ) from None
            except Exception as exc:
                # The request may have been written: for an order that is "unknown", never "no".
                if order_entry:
                    raise AmbiguousOutcome(
                        f"Kraken {method}: {type(exc).__name__} after the request was sent; "
                        "the order may exist",
                        from_venue=True,
                    ) from None
                raise VenueUnavailable(
                    f"Kraken {method}: {type(exc).__name__}", from_venue=False
                ) from None
            if log.isEnabledFor(logging.DEBUG):  # the arguments alone cost 0.2 µs an order
                log.debug("kraken-spot %s -> HTTP %s in %.1f ms", method, response.status,
                          (time.perf_counter() - started) * 1000)
        return self._parse(method, response, pair=pair)

    def _parse(self, method: str, response: VenueResponse, *, pair: str | None) -> Any:
        order_entry = method in ORDER_ENTRY
        status = response.status
        if status != 200:
            if status == 429:
                self.rest_counter.pause(REST_BACKOFF_SECONDS)
            if order_entry:
                raise AmbiguousOutcome(
                    f"Kraken {method}: HTTP {status}; the order may exist",
                    venue_code=f"HTTP {status}", from_venue=True,
                )
            error = (RateLimited if status == 429 else VenueUnavailable)(
                f"Kraken {method}: HTTP {status}", venue_code=f"HTTP {status}", from_venue=True,
            )
            error.retry = RetryClass.WAIT if status == 429 else RetryClass.RETRY_READ
            raise error
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if order_entry:
                raise AmbiguousOutcome(
                    f"Kraken {method}: the answer is not JSON; the order may exist",
                    from_venue=True,
                )
            raise VenueUnavailable(f"Kraken {method}: the answer is not JSON", from_venue=True)
        code = first_error(data.get("error"))
        if code is not None:
            self._after_error(code, pair)
            raise venue_error(code, method)
        if "result" not in data:
            if order_entry:
                raise AmbiguousOutcome(
                    f"Kraken {method}: the answer has no result; the order may exist",
                    from_venue=True,
                )
            raise VenueUnavailable(f"Kraken {method}: the answer has no result", from_venue=True)
        return data["result"]
