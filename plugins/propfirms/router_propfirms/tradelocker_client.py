"""The TradeLocker REST API over HTTP: the JWT pair and its refresh, one request, the errors.

What is documented and what is assumed (prop-brokers.md; TradeLocker's public API reference;
its official Python client):

- [documented] ``POST /auth/jwt/token`` with ``{email, password, server}`` answers
  ``{accessToken, refreshToken, ...}``; later calls send ``Authorization: Bearer``.
- [documented in the official client] ``POST /auth/jwt/refresh`` with ``{refreshToken}``
  answers a new pair; a token's lifetime is its JWT ``exp`` claim, read without verifying
  the signature (only to know when to refresh). The official client refreshes 30 minutes
  before expiry; this one ``REFRESH_BEFORE_SECONDS`` before, and logs in again when the
  refresh token itself has expired or is refused.
- [documented] every ``/trade/*`` call carries the ``accNum`` header (from
  ``/auth/jwt/all-accounts``); the account's ``id`` goes in paths.
- [documented in the official client] answers are ``{"s": "ok", "d": {...}}``.
- [assumed] a refusal is ``{"s": "error", "errmsg": "..."}`` (with HTTP 200 or 4xx); the
  venue documents no error codes, so every refusal of an order is ``InvalidOrder`` with the
  venue's words, an unknown or expired token is HTTP 401 (the client logs in again once and
  repeats: nothing was done), HTTP 429 is the rate limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Mapping
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
    InvalidOrder,
    PermissionDenied,
    RateLimited,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
)

from .http_send import request_headers, send
from .wire import dumps, loads

logger = logging.getLogger("router_propfirms.tradelocker")

REFRESH_BEFORE_SECONDS = 10 * 60  # [assumed] refresh the access token this long before expiry
TOKEN_LIFETIME_SECONDS = 15 * 60  # [assumed] when a token carries no readable exp claim
USER_AGENT = "alert-router-propfirms/0.1.0"

# TradeLocker documents no error codes: the table reads HTTP statuses and the "s": "error"
# answer [assumed], with the venue's errmsg as the detail.
ERRORS = ErrorTable(
    "TradeLocker",
    [
        ErrorRule("error", InvalidOrder, "refused"),
        ErrorRule("HTTP 400", InvalidOrder, "the request was refused"),
        ErrorRule("HTTP 401", AuthError, "the token or the credentials were refused"),
        ErrorRule("HTTP 403", PermissionDenied, "the login may not use this account"),
        ErrorRule("HTTP 404", InvalidOrder, "not found"),
        ErrorRule("HTTP 429", RateLimited, "the route's rate limit was hit"),
        ErrorRule("HTTP 5xx", VenueUnavailable, "the server failed",
                  ambiguous_for_orders=True),
    ],
    prefix_separators=(),
)


def jwt_expiry(token: str, issued_at: float) -> float:
    """The ``exp`` claim of a JWT (Unix seconds), unverified; ``TOKEN_LIFETIME_SECONDS``
    after ``issued_at`` when it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return issued_at + TOKEN_LIFETIME_SECONDS


class TradeLockerClient:
    """One login's connection: its JWT pair, refreshed in time, and the requests it sends."""

    def __init__(
        self,
        *,
        base_url: str,
        email: SecretStr,
        password: SecretStr,
        server: str,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        self.base_url = base_url
        self._email = email
        self._password = password
        self._server = server
        self._clock = clock
        self._timeout = timeout
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self.access_expiry = 0.0
        self.refresh_expiry = 0.0
        self.refreshes = 0  # read by tests
        self.acc_num: int | None = None  # set once the account is chosen
        self._lock = asyncio.Lock()
        self._http = VenueHttp(
            base_url=base_url, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            user_agent=USER_AGENT, headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"<TradeLockerClient {self.base_url}>"

    async def close(self) -> None:
        await self._http.aclose()

    # -- tokens -------------------------------------------------------------------------------

    async def login(self) -> None:
        async with self._lock:
            await self._login()

    async def _token(self) -> SecretStr:
        async with self._lock:
            now = self._clock.time()
            if self._access is None or now >= self.refresh_expiry:
                await self._login()
            elif now >= self.access_expiry - REFRESH_BEFORE_SECONDS:
                await self._refresh_pair()
            assert self._access is not None
            return self._access

    async def _login(self) -> None:
        body = {"email": self._email.get_secret_value(),
                "password": self._password.get_secret_value(), "server": self._server}
        try:
            answer = await self._exchange("/auth/jwt/token", body)
        except (AuthError, InvalidOrder) as exc:
            raise AuthError(f"TradeLocker refused the login (email, password, server "
                            f"{self._server!r}): {exc.message}", venue_code=exc.venue_code,
                            from_venue=True) from None
        self._store(answer)
        logger.info("tradelocker: logged in to server %s", self._server)

    async def _refresh_pair(self) -> None:
        assert self._refresh is not None
        try:
            answer = await self._exchange("/auth/jwt/refresh",
                                          {"refreshToken": self._refresh.get_secret_value()})
        except (AuthError, InvalidOrder):
            await self._login()  # the refresh token was refused: log in afresh
            return
        self._store(answer)
        self.refreshes += 1
        logger.info("tradelocker: access token refreshed")

    async def _exchange(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._send("POST", path, body=body, token=None, with_account=False,
                                    places_order=False)
        answer = self._read(response, "POST", path, places_order=False)
        if not isinstance(answer, dict) or not isinstance(answer.get("accessToken"), str):
            raise AuthError(f"TradeLocker answered {path} without an access token",
                            from_venue=True)
        return answer

    def _store(self, answer: dict[str, Any]) -> None:
        now = self._clock.time()
        access, refresh = answer["accessToken"], answer.get("refreshToken")
        self._access = SecretStr(access)
        self.access_expiry = jwt_expiry(access, now)
        if isinstance(refresh, str) and refresh:
            self._refresh = SecretStr(refresh)
            self.refresh_expiry = jwt_expiry(refresh, now)
        else:  # no refresh token: log in again when the access token ends
            self.refresh_expiry = self.access_expiry

    # -- requests -----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None, places_order: bool = False,
        with_account: bool = True,
    ) -> Any:
        """One call; returns ``d`` of an ``{"s": "ok", "d": ...}`` answer (or the answer)."""
        for attempt in (1, 2):
            token = await self._token()
            response = await self._send(method, path, params=params, body=body, token=token,
                                        with_account=with_account, places_order=places_order)
            if response.status == 401 and attempt == 1:
                logger.info("tradelocker %s: token refused; logging in again", path)
                await self.login()
                continue
            answer = self._read(response, method, path, places_order=places_order)
            return answer.get("d", answer) if isinstance(answer, dict) else answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None, token: SecretStr | None,
                    with_account: bool, places_order: bool) -> VenueResponse:
        """One request with the Bearer ``token`` (none for a login), the ``accNum`` header
        of the chosen account on ``with_account``, a JSON ``body`` (Decimals as written)."""
        account = None
        if with_account:
            if self.acc_num is None:
                raise VenueUnavailable("tradelocker: no account chosen yet (call start())")
            account = {"accNum": str(self.acc_num)}
        content = None if body is None else dumps(body).encode()
        return await send(self._http, method, path, venue="TradeLocker",
                          places_order=places_order, timeout=self._timeout, params=params,
                          content=content,
                          headers=request_headers(token, json_body=body is not None,
                                                  extra=account))

    def _read(self, response: VenueResponse, method: str, path: str, *,
              places_order: bool) -> Any:
        status = response.status
        action = f"{method} {path}"
        try:
            answer = loads(response.body) if response.body else None
        except ValueError:
            answer = None
        said = answer.get("errmsg") if isinstance(answer, dict) else None
        detail = said if isinstance(said, str) else ""
        if status == 429:
            error = ERRORS.error("HTTP 429", action=action, places_order=places_order,
                                 detail=detail)
            error.retry_after = _seconds(response.headers.get("retry-after"))
            raise error
        if status >= 500:
            raise ERRORS.error("HTTP 5xx", action=action, places_order=places_order,
                               detail=detail or f"HTTP {status}")
        if isinstance(answer, dict) and answer.get("s") == "error":
            code = f"HTTP {status}" if status in (401, 403) else "error"
            raise ERRORS.error(code, action=action, places_order=places_order, detail=detail)
        if status >= 400:
            code = f"HTTP {status}"
            rule = ERRORS.match(code) or ERRORS["HTTP 400"]
            raise ERRORS.error(code, action=action, places_order=places_order,
                               detail=detail, rule=rule)
        if 300 <= status < 400:
            raise VenueUnavailable(
                f"{self.base_url} answered {path} with a redirect (HTTP {status}); set "
                "base_url to the REST root, e.g. https://demo.tradelocker.com/backend-api",
                venue_code=str(status), from_venue=True)
        if answer is None and status != 204:
            what = f"TradeLocker {path}: HTTP {status} without a JSON answer"
            if places_order:
                raise AmbiguousOutcome(f"{what}; the order may exist", venue_code=str(status),
                                       from_venue=True)
            raise BrokerError(what, venue_code=str(status), from_venue=True)
        return answer


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
