"""The ProjectX Gateway API over HTTP: the session token, one request, the error table.

What is documented and what is assumed (prop-brokers.md and the Gateway's own pages):

- [documented] ``POST /api/Auth/loginKey`` with ``{userName, apiKey}`` answers ``{token,
  success, errorCode, errorMessage}``; ``errorCode`` 0 is success. Every later call sends
  ``Authorization: Bearer <token>``.
- [secondary] the token lives 24 hours. The client reads the ``exp`` claim of the JWT when it
  can and assumes 24 hours from the login when it cannot, and logs in again
  ``RENEW_BEFORE_SECONDS`` before that.
- [assumed] an expired or unknown token is answered with HTTP 401. The client then logs in
  again once and repeats the call: a 401 is refused before anything is done, so repeating
  even an order placement is safe.
- [documented] every endpoint is a ``POST`` with a JSON body and answers ``success`` /
  ``errorCode`` / ``errorMessage`` next to its data.
- [assumed] the numbers of ``errorCode``: the Gateway documents them per endpoint as enums;
  the table below follows the order-placement enum (1 account not found ... 10 account
  rejected) and treats any other code as undocumented (an order answered with one may exist).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import httpx
from pydantic import SecretStr

from router_core import (
    AmbiguousOutcome,
    AuthError,
    BrokerError,
    Clock,
    ErrorRule,
    ErrorTable,
    InsufficientFunds,
    InvalidOrder,
    MarketClosed,
    PermissionDenied,
    RateLimited,
    UnknownSymbol,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
)

from .http_send import request_headers, send

logger = logging.getLogger("router_propfirms.projectx")

TOKEN_LIFETIME_SECONDS = 24 * 3600  # [secondary] when the token does not say
RENEW_BEFORE_SECONDS = 3600  # log in again this long before the token expires
USER_AGENT = "alert-router-propfirms/0.1.0"

# Order/place's errorCode enum [assumed numbering, see the module docstring]. The same numbers
# are read for the other endpoints, which document fewer codes; anything else is undocumented.
ERRORS = ErrorTable(
    "ProjectX",
    [
        ErrorRule("1", PermissionDenied, "account not found for this login"),
        ErrorRule("2", InvalidOrder, "order rejected"),
        ErrorRule("3", InsufficientFunds, "insufficient funds"),
        ErrorRule("4", PermissionDenied, "account violation: the firm's rules block trading"),
        ErrorRule("5", MarketClosed, "outside trading hours"),
        ErrorRule("6", VenueUnavailable, "order pending", ambiguous_for_orders=True),
        ErrorRule("7", VenueUnavailable, "unknown error", ambiguous_for_orders=True),
        ErrorRule("8", UnknownSymbol, "contract not found"),
        ErrorRule("9", InvalidOrder, "contract not active"),
        ErrorRule("10", PermissionDenied, "account rejected"),
    ],
    prefix_separators=(),
)


def token_expiry(token: str, issued_at: float) -> float:
    """When ``token`` expires (Unix seconds): its JWT ``exp`` claim, else 24 h after login.

    The claim is only read, never trusted for anything but the renewal time: the Gateway
    checks the token, the router just avoids sending one it knows is stale.
    """
    parts = token.split(".")
    if len(parts) == 3:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        try:
            claims = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, json.JSONDecodeError):
            claims = None
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if isinstance(exp, int | float) and exp > issued_at:
            return float(exp)
    return issued_at + TOKEN_LIFETIME_SECONDS


class ProjectXClient:
    """One login on one ProjectX gateway; ``call`` sends a request with a fresh token."""

    def __init__(
        self,
        *,
        base_url: str,
        username: SecretStr,
        api_key: SecretStr,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        self.base_url = base_url
        self._username = username
        self._api_key = api_key
        self._clock = clock
        self._timeout = timeout
        self._http = VenueHttp(
            base_url=base_url, transport=transport, timeout=timeout, user_agent=USER_AGENT,
            headers={"Accept": "application/json"},
        )
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._login_lock = asyncio.Lock()
        self.logins = 0  # how many times this client logged in (tests and diagnostics)

    def __repr__(self) -> str:
        return f"<ProjectXClient {self.base_url}>"

    async def close(self) -> None:
        await self._http.aclose()

    # -- the session token ---------------------------------------------------------------------

    @property
    def token_fresh(self) -> bool:
        return (self._token is not None
                and self._clock.time() < self._expires_at - RENEW_BEFORE_SECONDS)

    async def login(self, *, stale: SecretStr | None = None) -> None:
        """Log in with the user name and API key; one login at a time. ``stale`` is the token
        a 401 refused: when another call already replaced it, nothing is done."""
        async with self._login_lock:
            if self._token is not None and stale is not None and self._token is not stale:
                return
            if stale is None and self.token_fresh:
                return
            body = {"userName": self._username.get_secret_value(),
                    "apiKey": self._api_key.get_secret_value()}
            try:
                answer = await self._post("/api/Auth/loginKey", body, token=None,
                                          places_order=False)
            except (InvalidOrder, InsufficientFunds, PermissionDenied, UnknownSymbol,
                    MarketClosed) as exc:
                # loginKey's own codes are not the order table's: any refusal is a login one
                raise AuthError(f"ProjectX refused the login (errorCode {exc.venue_code}): "
                                "check the user name and the API key",
                                venue_code=exc.venue_code, from_venue=True) from None
            if answer is None:
                raise AuthError("ProjectX refused the login (HTTP 401): check the user name "
                                "and the API key", venue_code="401", from_venue=True)
            token = answer.get("token")
            if not isinstance(token, str) or not token:
                raise AuthError("ProjectX answered the login without a token",
                                from_venue=True)
            now = self._clock.time()
            self._token = SecretStr(token)
            self._expires_at = token_expiry(token, now)
            self.logins += 1
            logger.info("projectx: logged in to %s; token valid for %.0f s", self.base_url,
                        self._expires_at - now)

    # -- requests ------------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any], *,
                   places_order: bool = False) -> dict[str, Any]:
        """``POST path`` with a token renewed before it expires; on a 401 the client logs in
        once more and repeats the call (a 401 is refused before anything is done)."""
        if not self.token_fresh:
            await self.login()
        token = self._token
        answer = await self._post(path, body, token=token, places_order=places_order)
        if answer is None:
            await self.login(stale=token)
            answer = await self._post(path, body, token=self._token, places_order=places_order)
            if answer is None:
                raise AuthError(f"ProjectX refused {path} with HTTP 401 right after a new "
                                "login", venue_code="401", from_venue=True)
        return answer

    async def _post(self, path: str, body: dict[str, Any], *, token: SecretStr | None,
                    places_order: bool) -> dict[str, Any] | None:
        """One request (``http_send.send``: a transport failure is ``VenueUnavailable``, or
        ``AmbiguousOutcome`` for an order unless nothing was sent); ``None`` for an HTTP 401,
        the answer's data otherwise, or the error the answer means."""
        response = await send(self._http, "POST", path, venue="ProjectX",
                              places_order=places_order, timeout=self._timeout,
                              content=json.dumps(body).encode(),
                              headers=request_headers(token, json_body=True))
        return self._read(response, path, places_order=places_order)

    def _read(self, response: VenueResponse, path: str, *,
              places_order: bool) -> dict[str, Any] | None:
        status = response.status
        if status == 401:
            return None
        if status == 429:
            raise RateLimited(f"{path}: ProjectX rate limit (HTTP 429)", venue_code="429",
                              from_venue=True)
        try:
            payload = json.loads(response.body) if response.body else None
        except ValueError:
            payload = None
        if status < 300 and isinstance(payload, dict):
            if payload.get("success") is True and payload.get("errorCode", 0) == 0:
                return payload
            raise self.error(payload, path, places_order=places_order)
        what = f"HTTP {status} without a ProjectX JSON answer"
        if status == 403:
            return_error: BrokerError = PermissionDenied(f"{path}: {what}", venue_code="403",
                                                         from_venue=True)
            raise return_error
        if 400 <= status < 500:
            raise InvalidOrder(f"{path}: {what}", venue_code=str(status), from_venue=True)
        if places_order:
            raise AmbiguousOutcome(f"{path}: {what}; the order may exist",
                                   venue_code=str(status), from_venue=True)
        raise VenueUnavailable(f"{path}: {what}", venue_code=str(status), from_venue=True)

    @staticmethod
    def error(payload: dict[str, Any], path: str, *, places_order: bool) -> BrokerError:
        """The typed error for a ``success: false`` answer (the one error table)."""
        code = str(payload.get("errorCode", ""))
        message = payload.get("errorMessage")
        detail = message if isinstance(message, str) else ""
        return ERRORS.error(code, action=path, places_order=places_order, detail=detail)
