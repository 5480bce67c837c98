"""The Tradovate REST API over HTTP: the access token and its renewal, one request, the errors.

What is documented and what is assumed (prop-brokers.md; Tradovate's partner API pages; the
models generated from Tradovate's OpenAPI in its public example repositories):

- [documented] ``POST /auth/accesstokenrequest`` with ``{name, password, appId, appVersion,
  cid, sec}`` answers ``{accessToken, expirationTime, userId, name, ...}``, or ``{errorText}``
  when the request failed. Later calls send ``Authorization: Bearer <accessToken>``.
- [documented] a token lives 80 to 90 minutes (the pages differ) and is extended with
  ``GET /auth/renewaccesstoken`` (Bearer) before it expires; the docs advise renewing about
  15 minutes before ``expirationTime``. An expired token cannot be renewed: the client asks
  for a new one.
- [documented] penalty tickets: a rate-limited endpoint answers HTTP 200 with ``p-ticket``,
  ``p-time`` (seconds to wait) and ``p-captcha``. The caller waits ``p-time`` and sends the
  identical body again with ``"p-ticket": <ticket>`` added; with ``p-captcha`` true no
  program can answer, and the docs say to wait about an hour. HTTP 429 is the user-level
  limit, also about an hour. Both raise ``RateLimited`` with ``retry_after``; the client keeps
  the ticket and adds it when the same body is sent again.
- [documented] business errors come back as HTTP 200: ``errorText`` (``SimpleResponse``), or
  ``failureReason`` / ``failureText`` on order commands (the ``PlaceOrderResult`` enum below).
  A ``failureReason`` is the venue refusing: a *rejection*.
- [documented] a 404 means the entity asked for does not exist (``contract/find`` of a name
  the venue does not list).
- [assumed] an unknown or expired token is answered with HTTP 401. The client then asks for a
  new token once and repeats the call: a 401 is refused before anything is done, so
  repeating even an order placement is safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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
    MarketClosed,
    PermissionDenied,
    RateLimited,
    UnknownSymbol,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
)

from .http_send import request_headers, send
from .wire import dumps, loads

logger = logging.getLogger("router_propfirms.tradovate")

TOKEN_LIFETIME_SECONDS = 80 * 60  # [documented] when the answer carries no expirationTime
RENEW_BEFORE_SECONDS = 15 * 60  # [documented] renew this long before the token expires
LOCKOUT_SECONDS = 3600.0  # [documented] HTTP 429 and p-captcha: wait about an hour
USER_AGENT = "alert-router-propfirms/0.1.0"

# The failureReason enum of PlaceOrderResult / PlaceOsoResult / CommandResult [documented
# names; the reading of each is this project's], plus the answers the client names itself.
ERRORS = ErrorTable(
    "Tradovate",
    [
        ErrorRule("AccountClosed", PermissionDenied, "the account is closed"),
        ErrorRule("AdvancedTrailingStopUnsupported", InvalidOrder,
                  "advanced trailing stops are not supported"),
        ErrorRule("AnotherCommandPending", InvalidOrder,
                  "another command on this order is still pending"),
        ErrorRule("BackMonthProhibited", InvalidOrder,
                  "the account may not trade a back-month contract"),
        ErrorRule("ExecutionProviderNotConfigured", PermissionDenied,
                  "no execution provider is configured for the account"),
        ErrorRule("ExecutionProviderUnavailable", VenueUnavailable,
                  "the execution provider is unavailable", ambiguous_for_orders=True),
        ErrorRule("InvalidContract", UnknownSymbol, "the contract is not valid"),
        ErrorRule("InvalidPrice", InvalidOrder, "the price is not valid"),
        ErrorRule("LiquidationOnly", PermissionDenied,
                  "the account may only reduce positions (liquidation only)"),
        ErrorRule("LiquidationOnlyBeforeExpiration", InvalidOrder,
                  "the contract is close to expiry: liquidation only"),
        ErrorRule("MaxOrderQtyIsNotSpecified", PermissionDenied,
                  "the account has no maximum order quantity set up"),
        ErrorRule("MaxOrderQtyLimitReached", InvalidOrder,
                  "the order is larger than the account's maximum order quantity"),
        ErrorRule("MaxPosLimitMisconfigured", PermissionDenied,
                  "the account's position limit is misconfigured"),
        ErrorRule("MaxPosLimitReached", InvalidOrder,
                  "the account's position limit for the contract would be exceeded"),
        ErrorRule("MaxTotalPosLimitReached", InvalidOrder,
                  "the account's total position limit would be exceeded"),
        ErrorRule("MultipleAccountPlanRequired", PermissionDenied,
                  "a multiple-account plan is required"),
        ErrorRule("NoQuote", MarketClosed, "there is no quote for the contract"),
        ErrorRule("NotEnoughLiquidity", InvalidOrder, "not enough liquidity"),
        ErrorRule("OtherExecutionRelated", InvalidOrder, "refused by execution"),
        ErrorRule("ParentRejected", InvalidOrder, "the parent order was rejected"),
        ErrorRule("RiskCheckTimeout", VenueUnavailable, "the risk check timed out",
                  ambiguous_for_orders=True),
        ErrorRule("SessionClosed", MarketClosed, "the trading session is closed"),
        ErrorRule("TooLate", InvalidOrder, "too late for this command"),
        ErrorRule("TradingLocked", PermissionDenied,
                  "trading is locked on the account (a firm's rule or a risk setting)"),
        ErrorRule("TrailingStopNonOrderQtyModify", InvalidOrder,
                  "a trailing stop may only change its quantity"),
        ErrorRule("Unauthorized", PermissionDenied, "the user may not trade this account"),
        ErrorRule("UnknownReason", BrokerError, "unknown reason", ambiguous_for_orders=True),
        ErrorRule("Unsupported", InvalidOrder, "not supported"),
        ErrorRule("p-ticket", RateLimited, "penalty ticket: the endpoint's rate limit was hit"),
        ErrorRule("p-captcha", RateLimited,
                  "penalty ticket with a captcha: about an hour's lockout"),
        ErrorRule("HTTP 429", RateLimited, "the user's rate limit was hit"),
        ErrorRule("HTTP 401", AuthError, "the access token was refused"),
        ErrorRule("errorText", BrokerError, "the request failed"),
    ],
    prefix_separators=(),
)


@dataclass(frozen=True)
class Credentials:
    """What ``/auth/accesstokenrequest`` takes; the secrets stay ``SecretStr`` until sent."""

    name: SecretStr
    password: SecretStr
    app_id: str
    app_version: str
    cid: int
    sec: SecretStr

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name.get_secret_value(),
            "password": self.password.get_secret_value(),
            "appId": self.app_id,
            "appVersion": self.app_version,
            "cid": self.cid,
            "sec": self.sec.get_secret_value(),
        }


def expiry_from(value: object, issued_at: float) -> float:
    """``expirationTime`` (ISO 8601) as Unix seconds; 80 minutes after ``issued_at`` when it is
    missing or unreadable."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    return issued_at + TOKEN_LIFETIME_SECONDS


class TradovateClient:
    """One account's connection: its token, renewed in time, and the requests it sends."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
    ) -> None:
        self.base_url = base_url
        self._credentials = credentials
        self._clock = clock
        self._timeout = timeout
        self._token: SecretStr | None = None
        self.token_expiry = 0.0  # Unix seconds
        self.user_id: int | None = None
        self.renewals = 0  # tokens extended with renewaccesstoken (read by tests)
        self._token_lock = asyncio.Lock()
        # penalty tickets to add when the same body is sent again: (path, body) -> ticket
        self._tickets: dict[tuple[str, str], SecretStr] = {}
        self._http = VenueHttp(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            user_agent=USER_AGENT,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"<TradovateClient {self.base_url}>"

    async def close(self) -> None:
        await self._http.aclose()

    # -- the token ----------------------------------------------------------------------------

    async def token(self) -> SecretStr:
        """A token good for the next call: asked for, renewed or kept."""
        async with self._token_lock:
            now = self._clock.time()
            if self._token is None or now >= self.token_expiry:
                await self._request_token()
            elif now >= self.token_expiry - RENEW_BEFORE_SECONDS:
                await self._renew_token()
            assert self._token is not None
            return self._token

    async def login(self) -> None:
        """Ask for a new access token (``start`` and after a refused one)."""
        async with self._token_lock:
            await self._request_token()

    async def _request_token(self) -> None:
        path = "/auth/accesstokenrequest"
        issued = self._clock.time()
        body = self._with_ticket(path, self._credentials.body())
        response = await self._send("POST", path, body=body, places_order=False)
        try:
            answer = self._read(response, "POST", path, places_order=False,
                                ticket_key=self._ticket_key(path, self._credentials.body()))
        except BrokerError as exc:
            if exc.venue_code != "errorText":
                raise
            raise AuthError(f"Tradovate refused the access token request: {exc.message}",
                            venue_code="errorText", from_venue=True) from None
        token = answer.get("accessToken") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError("Tradovate answered the access token request without a token",
                            from_venue=True)
        self._token = SecretStr(token)
        self.token_expiry = expiry_from(answer.get("expirationTime"), issued)
        user_id = answer.get("userId")
        self.user_id = user_id if isinstance(user_id, int) else None
        logger.info("tradovate: new access token, valid %.0f s",
                    self.token_expiry - self._clock.time())

    async def _renew_token(self) -> None:
        path = "/auth/renewaccesstoken"
        assert self._token is not None
        issued = self._clock.time()
        try:
            response = await self._send("GET", path, token=self._token, places_order=False)
            answer = self._read(response, "GET", path, places_order=False)
        except BrokerError as exc:
            if not isinstance(exc, AuthError) and exc.venue_code != "errorText":
                raise  # a rate limit or an outage: the token is still good until it expires
            await self._request_token()  # the old token was refused: start a new session
            return
        token = answer.get("accessToken") if isinstance(answer, dict) else None
        if isinstance(token, str) and token:
            self._token = SecretStr(token)
        self.token_expiry = expiry_from(
            answer.get("expirationTime") if isinstance(answer, dict) else None, issued)
        self.renewals += 1
        logger.info("tradovate: access token renewed, valid %.0f s",
                    self.token_expiry - self._clock.time())

    # -- requests -----------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  missing_ok: bool = False) -> Any:
        """A read; ``None`` for a 404 when ``missing_ok`` (an entity that does not exist)."""
        return await self._call("GET", path, params=params, missing_ok=missing_ok)

    async def post(self, path: str, body: Mapping[str, Any], *,
                   places_order: bool = False) -> Any:
        """A command. ``places_order``: an answer lost after sending is ``AmbiguousOutcome``."""
        return await self._call("POST", path, body=dict(body), places_order=places_order)

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        body: dict[str, Any] | None = None, places_order: bool = False,
        missing_ok: bool = False,
    ) -> Any:
        for attempt in (1, 2):
            token = await self.token()
            sent = self._with_ticket(path, body) if body is not None else None
            response = await self._send(method, path, params=params, body=sent, token=token,
                                        places_order=places_order)
            if response.status == 401 and attempt == 1:
                # [assumed] refused before anything was done: a new token, then once more
                logger.info("tradovate %s: token refused; asking for a new one", path)
                await self.login()
                continue
            if response.status == 404 and missing_ok:
                return None
            key = self._ticket_key(path, body) if body is not None else None
            return self._read(response, method, path, places_order=places_order,
                              ticket_key=key)
        raise AssertionError("unreachable")  # pragma: no cover


    @staticmethod
    def _ticket_key(path: str, body: Mapping[str, Any]) -> tuple[str, str]:
        # a digest, not the body: the token request's body holds the credentials
        text = json.dumps(body, sort_keys=True, default=str)
        return path, hashlib.sha256(text.encode()).hexdigest()

    def _with_ticket(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the penalty ticket an identical earlier request was given, if any."""
        ticket = self._tickets.pop(self._ticket_key(path, body), None)
        return body if ticket is None else {**body, "p-ticket": ticket.get_secret_value()}

    async def _send(self, method: str, path: str, *, places_order: bool,
                    params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None,
                    token: SecretStr | None = None) -> VenueResponse:
        """One request: a JSON ``body`` (Decimals as written) or ``params`` (a read), with
        the Bearer ``token`` when there is one."""
        if body is None:
            return await send(self._http, method, path, venue="Tradovate",
                              places_order=places_order, timeout=self._timeout, params=params,
                              headers=request_headers(token))
        return await send(self._http, method, path, venue="Tradovate",
                          places_order=places_order, timeout=self._timeout,
                          content=dumps(body).encode(),
                          headers=request_headers(token, json_body=True))

    def _read(self, response: VenueResponse, method: str, path: str, *, places_order: bool,
              ticket_key: tuple[str, str] | None = None) -> Any:
        status = response.status
        action = f"{method} {path}"
        if status == 429:
            error = ERRORS.error("HTTP 429", action=action, places_order=places_order)
            error.retry_after = _seconds(response.headers.get("retry-after"), LOCKOUT_SECONDS)
            raise error
        if status == 401:
            raise ERRORS.error("HTTP 401", action=action, places_order=places_order)
        if 300 <= status < 400:
            raise VenueUnavailable(
                f"{self.base_url} answered {path} with a redirect (HTTP {status}); set "
                "base_url to the REST API root, e.g. https://demo.tradovateapi.com/v1",
                venue_code=str(status), from_venue=True)
        try:
            answer = loads(response.body) if response.body else None
        except ValueError:
            raise self._unreadable(status, path, places_order=places_order) from None
        if isinstance(answer, dict):
            self._raise_for_answer(answer, action, places_order=places_order,
                                   ticket_key=ticket_key)
        if status >= 300:
            raise self._unreadable(status, path, places_order=places_order)
        return answer

    def _raise_for_answer(self, answer: dict[str, Any], action: str, *, places_order: bool,
                          ticket_key: tuple[str, str] | None) -> None:
        if "p-ticket" in answer:
            captcha = bool(answer.get("p-captcha"))
            code = "p-captcha" if captcha else "p-ticket"
            wait = LOCKOUT_SECONDS if captcha else _seconds(answer.get("p-time"), 1.0)
            ticket = answer.get("p-ticket")
            if not captcha and ticket_key is not None and isinstance(ticket, str):
                self._tickets[ticket_key] = SecretStr(ticket)
            error = ERRORS.error(code, action=action, places_order=places_order,
                                 detail=f"wait {wait:g} s")
            error.retry_after = wait
            raise error
        reason = answer.get("failureReason")
        if isinstance(reason, str) and reason and reason != "Success":
            text = answer.get("failureText")
            raise ERRORS.error(reason, action=action, places_order=places_order,
                               detail=text if isinstance(text, str) else "")
        text = answer.get("errorText")
        if isinstance(text, str) and text:
            raise ERRORS.error("errorText", action=action, detail=text,
                               rule=ERRORS.rule_for("errorText"))

    def _unreadable(self, status: int, path: str, *, places_order: bool) -> BrokerError:
        what = f"Tradovate {path}: HTTP {status} without a readable answer"
        if 400 <= status < 500:
            cls = PermissionDenied if status == 403 else InvalidOrder
            return cls(what, venue_code=str(status), from_venue=True)
        if places_order:
            return AmbiguousOutcome(f"{what}; the order may exist", venue_code=str(status),
                                    from_venue=True)
        return VenueUnavailable(what, venue_code=str(status), from_venue=True)


def _seconds(value: object, default: float) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        return default
    return seconds if seconds >= 0 else default
