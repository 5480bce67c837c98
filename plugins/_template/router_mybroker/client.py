"""HTTP to the mybroker venue: signing, rate limiting and the venue's error table.

TEMPLATE: the request format, the signature and the error codes below belong to the template's
fake venue (``fake_venue.py``). Replace them with your venue's documented ones, and keep the
shape: one place that signs, one table that maps venue errors to the core's typed errors, and
one rule for what is ambiguous (an order request that may have reached the venue).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from router_core import (
    AiohttpTransport,
    AmbiguousOutcome,
    AuthError,
    BrokerContext,
    BrokerError,
    DecayingCounter,
    InsufficientFunds,
    InvalidOrder,
    NoCookies,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    UnknownSymbol,
    VenueUnavailable,
    key_fingerprint,
    shared_tls_context,
)

# TEMPLATE: the venue's error codes -> the core's errors. Unknown codes become BrokerError.
ERRORS: dict[str, type[BrokerError]] = {
    "bad_signature": AuthError,
    "bad_nonce": AuthError,
    "forbidden": PermissionDenied,
    "insufficient_funds": InsufficientFunds,
    "invalid_order": InvalidOrder,
    "reduce_only_violation": InvalidOrder,
    "unknown_symbol": UnknownSymbol,
    "not_found": OrderNotFound,
    "rate_limited": RateLimited,
}

# TEMPLATE: the venue's documented rate limit (here: 15 calls, one more every 2 s).
RATE_CAPACITY = 15
RATE_DECAY_PER_SECOND = 0.5


class MyBrokerClient:
    """One pooled HTTP client per account; never logs or shows the key or the secret."""

    def __init__(
        self, base_url: str, api_key_env: str, api_secret_env: str, timeout: float,
        context: BrokerContext,
    ) -> None:
        self._key = context.secret(api_key_env, key="api_key_env")
        self._secret = context.secret(api_secret_env, key="api_secret_env")
        public = self._key.get_secret_value()
        self._nonces = context.nonces.for_key(public)
        self._limiter = context.limiters.get(
            f"mybroker:{key_fingerprint(public)}",
            lambda clock: DecayingCounter(RATE_CAPACITY, RATE_DECAY_PER_SECOND, clock=clock),
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            # tests inject a fake venue; in production httpx runs on the core's transport,
            # which says ConnectError only when nothing was written
            transport=context.transport or AiohttpTransport(ssl=shared_tls_context()),
            timeout=timeout,
            cookies=NoCookies(),
        )

    def __repr__(self) -> str:
        return f"<MyBrokerClient {self._http.base_url}>"

    def sign(self, method: str, path: str, body: bytes, nonce: int) -> dict[str, str]:
        """TEMPLATE: the fake venue's scheme, hex HMAC-SHA256 over nonce + method + path + body."""
        message = f"{nonce}{method}{path}".encode() + body
        digest = hmac.new(self._secret.get_secret_value().encode(), message, hashlib.sha256)
        return {
            "X-MB-Key": self._key.get_secret_value(),
            "X-MB-Nonce": str(nonce),
            "X-MB-Signature": digest.hexdigest(),
        }

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *,
        places_order: bool = False,
    ) -> dict[str, Any]:
        """Send one signed request and return the JSON answer, or raise a typed BrokerError.

        ``places_order`` marks a request that may create an order: once its bytes may have
        reached the venue, a lost answer is an AmbiguousOutcome, never a plain failure.
        """
        await self._limiter.acquire(1)
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = self.sign(method, path, content, self._nonces.next())
        headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was written
            reason = type(exc).__name__
            raise VenueUnavailable(f"mybroker: cannot reach the venue ({reason})") from None
        except httpx.TransportError as exc:
            if places_order:
                raise AmbiguousOutcome(
                    f"mybroker: no answer to {method} {path} ({type(exc).__name__}); the order "
                    "may exist", from_venue=True,
                ) from None
            reason = type(exc).__name__
            raise VenueUnavailable(f"mybroker: {method} {path} failed ({reason})") from None
        return self._answer(method, path, response, places_order)

    def _answer(
        self, method: str, path: str, response: httpx.Response, places_order: bool
    ) -> dict[str, Any]:
        if response.status_code >= 500:
            text = f"mybroker: {method} {path} answered HTTP {response.status_code}"
            if places_order:
                raise AmbiguousOutcome(f"{text}; the order may exist", from_venue=True)
            raise VenueUnavailable(text, from_venue=True)
        try:
            data = response.json()
        except ValueError:
            if places_order:
                raise AmbiguousOutcome(
                    f"mybroker: {method} {path} answered something that is not JSON; the "
                    "order may exist", from_venue=True,
                ) from None
            raise VenueUnavailable(f"mybroker: {method} {path} answered non-JSON") from None
        error = data.get("error") if isinstance(data, dict) else None
        if error:
            code = str(error.get("code", "unknown"))
            cls = ERRORS.get(code, BrokerError)
            raise cls(f"mybroker: {error.get('message', code)}", venue_code=code, from_venue=True)
        return data

    async def aclose(self) -> None:
        await self._http.aclose()
