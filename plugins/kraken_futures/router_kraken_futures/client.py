"""The Kraken Futures REST client: URL encoding, signing, nonces, rate budget, transport errors.

One client per account; the nonce source, the per-key lock and the rate budget are shared by
every account that uses the same API key. Private calls on one key take their nonce and arrive
in nonce order: a per-key lock is held from signing until the answer arrives. Releasing it once
the request is written is not enough: requests on different pooled connections can still be
read by the venue out of order (the loopback server test saw it). The budget (5 orders a second
sustained) is tighter than one call per round trip, so the lock costs little.

Retry policy lives here only where Kraken documents that a request was refused before it was
processed (nonce refusals; rate-limit refusals on reads). An order whose outcome is unknown is
never sent again by the client: it raises ``AmbiguousOutcome`` and the core looks it up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

import httpx
from pydantic import SecretBytes, SecretStr

from router_core import (
    NOT_SENT_ERRORS,
    AmbiguousOutcome,
    AuthError,
    BrokerError,
    Clock,
    InvalidOrder,
    NonceSource,
    PermissionDenied,
    RateLimited,
    RateLimiterRegistry,
    RetryClass,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
)

from .config import API_PATH
from .errors import NUMERIC, Rule, top_level_rule, venue_error
from .ratelimits import DERIVATIVES_PAUSE, derivatives_budget, derivatives_cost
from .signing import Authenticator, sign_challenge

logger = logging.getLogger("router_kraken_futures.client")

Params = Mapping[str, str | Sequence[str]]

# Locks by nonce source: accounts sharing a key share its source, hence its lock.
_KEY_LOCKS: WeakKeyDictionary[NonceSource, asyncio.Lock] = WeakKeyDictionary()

# Raised only before anything was written (the core's NOT_SENT_ERRORS; ProxyError comes from
# httpx's own transport when a proxy refuses the tunnel). Every other failure may come after
# the venue read the request.
_CONNECT_PHASE_ERRORS: tuple[type[Exception], ...] = (*NOT_SENT_ERRORS, httpx.ProxyError)
# DecodingError: an answer that came back but does not decompress (the order may exist)
_AFTER_WRITE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError, httpx.DecodingError, asyncio.TimeoutError
)
_ANY_TRANSPORT_ERROR = (*_CONNECT_PHASE_ERRORS, *_AFTER_WRITE_ERRORS)
# What quote(text, safe="") returns unchanged: the unreserved characters of RFC 3986 (explicit
# ASCII ranges: \w would also match non-ASCII letters and digits, which are escaped).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def key_lock(source: NonceSource) -> asyncio.Lock:
    lock = _KEY_LOCKS.get(source)
    if lock is None:
        lock = _KEY_LOCKS[source] = asyncio.Lock()
    return lock


def encode_params(params: Params | None) -> str:
    """``a=1&b=x%20y``: percent-encoded (spaces as %20, ':' as %3A), in the given order.

    This exact string is both sent and signed. Sequence values repeat the key.
    """
    if not params:
        return ""
    parts: list[str] = []
    for key, value in params.items():
        values = [value] if isinstance(value, str) else list(value)
        parts.extend([f"{_quoted(key)}={_quoted(v)}" for v in values])
    return "&".join(parts)


def _quoted(text: str) -> str:
    """``quote(text, safe="")``; most keys and values need no quoting and skip its CPU."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


# Built once: json.loads given parse_float builds a new decoder on every call.
_DECIMAL_JSON = json.JSONDecoder(parse_float=Decimal)


def parse_json(content: bytes) -> Any:
    """JSON with every fractional number as Decimal (money never passes through float).

    Raises ``ValueError`` for a body that is not UTF-8 JSON text (the encoding JSON over HTTP
    is sent in)."""
    return _DECIMAL_JSON.decode(content.decode())


class KrakenFuturesClient:
    def __init__(
        self,
        *,
        host: str,
        limiters: RateLimiterRegistry,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        self.host = host
        self._api_key: SecretStr | None = None
        self._secret: SecretBytes | None = None
        self._nonces: NonceSource | None = None
        self._authenticator: Authenticator | None = None
        self._limiters = limiters
        self._clock = clock
        self._timeout = timeout
        self.server_offset = 0.0  # Kraken server time minus local time, in seconds
        # the core's AiohttpTransport (one TLS context for every account in the process) unless
        # a test injects a transport; no cookies, no redirects
        self._http = VenueHttp(
            base_url=host,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            user_agent="alert-router-kraken-futures",
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"<KrakenFuturesClient {self.host}>"

    def set_credentials(self, api_key: SecretStr, secret: bytes, nonces: NonceSource) -> None:
        self._api_key, self._secret, self._nonces = api_key, SecretBytes(secret), nonces
        self._authenticator = Authenticator(secret)

    @property
    def has_credentials(self) -> bool:
        return self._api_key is not None

    def challenge_signer(self) -> tuple[str, Callable[[str], str]]:
        """The API key and a function signing a WebSocket challenge with its secret (the
        secret stays in here)."""
        if self._api_key is None or self._secret is None:
            raise AuthError("Kraken Futures API credentials are not loaded (call start())")
        secret = self._secret

        def sign(challenge: str) -> str:
            return sign_challenge(secret.get_secret_value(), challenge)

        return self._api_key.get_secret_value(), sign

    async def close(self) -> None:
        await self._http.aclose()

    # -- public -----------------------------------------------------------------------------

    async def raw_get(self, endpoint: str) -> VenueResponse:
        """An unsigned GET, returned as it came (used by the host health check)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._http.get(f"{API_PATH}/{endpoint}")
        except _ANY_TRANSPORT_ERROR as exc:
            raise VenueUnavailable(
                f"cannot reach Kraken Futures at {self.host} ({type(exc).__name__})"
            ) from None

    async def public(self, endpoint: str, params: Params | None = None) -> dict[str, Any]:
        path = f"{API_PATH}/{endpoint}"
        query = encode_params(params)
        url = f"{path}?{query}" if query else path
        response = await self._send("GET", url, None, side_effect=False, endpoint=endpoint)
        return self._payload(response, endpoint=endpoint, side_effect=False)

    # -- private ----------------------------------------------------------------------------

    async def private(
        self,
        method: str,
        endpoint: str,
        params: Params | None = None,
        *,
        side_effect: bool,
        process_before: float | None = None,
    ) -> dict[str, Any]:
        """A signed call. ``side_effect`` marks calls that change state (orders, leverage):
        for them a lost answer is ``AmbiguousOutcome``, never a retry. ``process_before``
        (seconds) adds ``processBefore`` stamped at signing time, after any wait for budget."""
        if self._api_key is None or self._secret is None or self._nonces is None:
            raise AuthError("Kraken Futures API credentials are not loaded (call start())")
        retried = False
        while True:
            try:
                return await self._signed_call(
                    method, endpoint, params, side_effect, process_before
                )
            except BrokerError as exc:
                if retried or not _may_resend(exc, side_effect=side_effect):
                    raise
                retried = True
                logger.info("kraken-futures %s %s: %s; sending again", method, endpoint,
                            exc.venue_code)

    async def _signed_call(
        self, method: str, endpoint: str, params: Params | None, side_effect: bool,
        process_before: float | None,
    ) -> dict[str, Any]:
        assert self._api_key is not None and self._authenticator is not None
        assert self._nonces is not None
        path = f"{API_PATH}/{endpoint}"
        budget = derivatives_budget(self._limiters, self._api_key.get_secret_value())
        async with key_lock(self._nonces):
            # Spend budget under the key's lock, so what is counted leaves in that order and
            # at that time; waiting here holds the key, which shares the budget anyway.
            await budget.acquire(derivatives_cost(method, endpoint, params))
            if process_before is not None:
                params = {**(params or {}), "processBefore": iso_time(
                    self.server_time() + process_before)}
            post_data = encode_params(params)
            url = f"{path}?{post_data}" if post_data else path
            nonce = str(self._nonces.next())
            headers = {
                "APIKey": self._api_key.get_secret_value(),
                "Nonce": nonce,
                "Authent": self._authenticator.authent(path, post_data, nonce),
            }
            response = await self._send(method, url, headers, side_effect=side_effect,
                                        endpoint=endpoint)
        return self._payload(response, endpoint=endpoint, side_effect=side_effect)

    # -- transport and answers --------------------------------------------------------------

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, *, side_effect: bool,
        endpoint: str,
    ) -> VenueResponse:
        try:
            # asyncio.timeout bounds the whole call as wait_for did, without a task per request
            async with asyncio.timeout(self._timeout):
                response = await self._http.request(method, url, headers=headers)
        except _CONNECT_PHASE_ERRORS as exc:
            raise VenueUnavailable(
                f"cannot reach Kraken Futures at {self.host} ({type(exc).__name__}); "
                "nothing was sent"
            ) from None
        except _AFTER_WRITE_ERRORS as exc:  # may have been written: for an order, "unknown"
            what = type(exc).__name__
            if side_effect:
                raise AmbiguousOutcome(
                    f"{endpoint}: the request was sent but no answer came ({what}); "
                    "the order may exist"
                ) from None
            raise VenueUnavailable(f"{endpoint}: no answer from {self.host} ({what})") from None
        logger.debug("kraken-futures %s %s -> HTTP %s", method, endpoint, response.status)
        return response

    def _payload(
        self, response: VenueResponse, *, endpoint: str, side_effect: bool
    ) -> dict[str, Any]:
        status = response.status
        if 300 <= status < 400:
            location = response.headers.get("location", "?")
            raise VenueUnavailable(
                f"{self.host} answered {endpoint} with a redirect (HTTP {status} to {location}) "
                "instead of the Kraken Futures API; the demo host is reported retired"
            )
        if status == 429:
            self._pause()
            raise RateLimited(
                f"{endpoint}: Kraken Futures rate limit (HTTP 429)", venue_code="429",
                from_venue=True,
            )
        try:
            payload = parse_json(response.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and (
            payload.get("result") == "error" or payload.get("errors")
        ):
            raise self._error(payload, endpoint=endpoint, side_effect=side_effect)
        if status < 300 and isinstance(payload, dict) and payload.get("result") == "success":
            self.note_server_time(payload.get("serverTime"))
            return payload
        raise self._unreadable(status, endpoint=endpoint, side_effect=side_effect)

    def _error(self, payload: dict[str, Any], *, endpoint: str, side_effect: bool) -> BrokerError:
        code = payload.get("error")
        rule: Rule | None = None
        if not isinstance(code, str):
            first = (payload.get("errors") or [{}])[0]
            number = first.get("code") if isinstance(first, dict) else None
            message = str(first.get("message", "")) if isinstance(first, dict) else ""
            rule = NUMERIC.get(number) if isinstance(number, int) else None
            code = message or f"code {number}"
        if rule is None:
            rule = top_level_rule(code)
        if rule.retry is RetryClass.WAIT:
            self._pause()
        return venue_error(rule, code, context=endpoint, side_effect=side_effect)

    def _unreadable(self, status: int, *, endpoint: str, side_effect: bool) -> BrokerError:
        what = f"HTTP {status} without a Kraken JSON answer"
        if status in (401, 403):
            cls = AuthError if status == 401 else PermissionDenied
            return cls(f"{endpoint}: {what}", venue_code=str(status), from_venue=True)
        if 400 <= status < 500 and status not in (405, 408, 409):
            return InvalidOrder(f"{endpoint}: {what}", venue_code=str(status), from_venue=True)
        if side_effect:
            return AmbiguousOutcome(
                f"{endpoint}: {what}; the order may exist", venue_code=str(status),
                from_venue=True,
            )
        return VenueUnavailable(f"{endpoint}: {what}", venue_code=str(status), from_venue=True)

    def _pause(self) -> None:
        if self._api_key is not None:
            derivatives_budget(self._limiters, self._api_key.get_secret_value()).pause(
                DERIVATIVES_PAUSE
            )

    def note_server_time(self, value: object) -> None:
        if not isinstance(value, str):
            return
        try:
            server = datetime.fromisoformat(value).timestamp()
        except ValueError:
            return
        self.server_offset = server - self._clock.time()

    def server_time(self) -> float:
        """Kraken's clock as measured from the last answer, in epoch seconds."""
        return self._clock.time() + self.server_offset


def iso_time(epoch_seconds: float) -> str:
    """``2026-01-02T03:04:05.678Z``, the form Kraken's processBefore takes."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _may_resend(exc: BrokerError, *, side_effect: bool) -> bool:
    """Resend only what Kraken refused before processing: nonce refusals always, rate-limit
    refusals on reads (the budget has been paused, so the resend waits)."""
    if exc.venue_code in ("nonceBelowThreshold", "nonceDuplicate"):
        return True
    return isinstance(exc, RateLimited) and not side_effect and exc.venue_code is not None
