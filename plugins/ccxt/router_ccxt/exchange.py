"""The ccxt exchange object of one account, fitted to the router's rules.

ccxt does the exchange's work (markets, precision, request building, signing, error classes);
this module changes four things about the object, by subclassing the exchange's class:

* **HTTP** goes through ``router_core.venue_http_client`` with the account's
  ``context.transport``: the core's transport in production (it reports "nothing was written"
  apart from "the answer was lost"), a fake venue in tests. ccxt's own aiohttp session is never
  opened, and nothing logs request headers (ccxt's debug line would print the API key).
* **Credentials** live in ``SecretStr`` behind properties: ccxt reads ``apiKey``/``secret``
  as plain strings when it signs, but no attribute of the object holds them in the clear.
* **Nonces** come from the core's per-key source (strictly increasing across accounts of one
  key and across restarts) where the exchange's nonce is a millisecond counter.
* ccxt's copy of the last request (its headers carry the API key) is not kept.

ccxt is imported here; the broker imports this module when an account is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import httpx
from pydantic import SecretStr

from router_core import NOT_SENT_ERRORS, BrokerContext, NonceSource, venue_http_client

from . import __version__
from .config import CREDENTIAL_FIELDS, CcxtConfig


class RequestNotSent(ccxt_async.ExchangeNotAvailable):
    """The transport proved that nothing was written (connection refused, connect timeout).

    Its name is the error table's ``errors.NOT_SENT`` rule."""


# Requests written during the current broker call: the broker opens a box per call
# (``requests_written``), the HTTP layer counts into it. A context variable, because one
# exchange object serves concurrent calls.
_WRITTEN: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "router_ccxt_written", default=None)


@contextlib.contextmanager
def requests_written() -> Iterator[list[str]]:
    """``with requests_written() as written:`` -- ``written`` lists the method and path of each
    request the exchange wrote inside the block (empty: ccxt refused before sending)."""
    box: list[str] = []
    token = _WRITTEN.set(box)
    try:
        yield box
    finally:
        _WRITTEN.reset(token)


def _count_written(method: str, url: str) -> None:
    box = _WRITTEN.get()
    if box is not None:
        box.append(f"{method} {urlsplit(url).path}")


def _credential(name: str) -> property:
    """A ccxt credential attribute (``apiKey``, ``secret``...) held as a SecretStr."""

    def get(self: Any) -> str:
        held = self.__dict__.get("_router_credentials", {}).get(name)
        return "" if held is None else str(held.get_secret_value())

    def put(self: Any, value: Any) -> None:
        held = self.__dict__.setdefault("_router_credentials", {})
        if value:
            held[name] = value if isinstance(value, SecretStr) else SecretStr(str(value))
        else:
            held.pop(name, None)

    return property(get, put)


class _RouterMixin:
    """What every account's exchange class adds to ccxt's (see the module docstring)."""

    apiKey = _credential("apiKey")
    secret = _credential("secret")
    password = _credential("password")
    uid = _credential("uid")

    _router_http: httpx.AsyncClient | None = None
    _router_nonces: NonceSource | None = None

    def set_last_request(self, request: Any) -> None:
        """ccxt keeps the last request's headers (the API key among them): not here."""

    def nonce(self) -> Any:
        if self._router_nonces is not None:
            return self._router_nonces.next()
        return super().nonce()  # type: ignore[misc]

    async def fetch(self, url: str, method: str = "GET", headers: Any = None,
                    body: Any = None) -> Any:
        """ccxt's HTTP call, through the account's httpx client; the rest as ccxt does it
        (its ``handle_errors`` turns the exchange's answer into ccxt's exception classes)."""
        exchange: Any = self
        http = self._router_http
        if http is None:
            raise RequestNotSent(f"{exchange.id} {method} {urlsplit(url).path}: the account "
                                 "is closed")
        request_headers = exchange.prepare_request_headers(headers)
        request_headers.pop("Accept-Encoding", None)  # httpx negotiates its own
        content = body.encode() if isinstance(body, str) else body
        where = f"{exchange.id} {method} {urlsplit(url).path}"
        try:
            # one deadline for the whole request, as ccxt's own session has (httpx's timeouts
            # are per phase, and an in-process transport keeps none)
            response = await asyncio.wait_for(
                http.request(method, url, headers=request_headers, content=content),
                exchange.timeout / 1000)
        except NOT_SENT_ERRORS as exc:
            raise RequestNotSent(f"{where}: {type(exc).__name__}") from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            _count_written(method, url)
            raise ccxt_async.RequestTimeout(f"{where}: no answer in time") from exc
        except httpx.HTTPError as exc:
            _count_written(method, url)
            raise ccxt_async.NetworkError(f"{where}: {type(exc).__name__}") from exc
        _count_written(method, url)
        text = response.text
        response_headers = dict(response.headers)
        text = exchange.on_rest_response(response.status_code, response.reason_phrase, url,
                                         method, response_headers, text, request_headers, body)
        parsed = exchange.parse_json(text)
        exchange.handle_errors(response.status_code, response.reason_phrase, url, method,
                               response_headers, text, parsed, request_headers, body)
        exchange.handle_http_status_code(response.status_code, response.reason_phrase, url,
                                         method, text)
        return parsed if parsed is not None else text

    async def close(self) -> None:
        http, self._router_http = self._router_http, None
        if http is not None:
            await http.aclose()
        await super().close()  # type: ignore[misc]


_CLASSES: dict[str, type[Any]] = {}


def exchange_class(exchange: str) -> type[Any]:
    """ccxt's async class for ``exchange`` with the router's changes mixed in (cached)."""
    cls = _CLASSES.get(exchange)
    if cls is None:
        base = getattr(ccxt_async, exchange)
        cls = type(f"Router{base.__name__}", (_RouterMixin, base), {})
        _CLASSES[exchange] = cls
    return cls


def _rehost(urls: Any, base_url: str) -> Any:
    """Every URL in ccxt's ``urls['api']`` (a string or nested dicts) with its scheme and host
    replaced by ``base_url``'s; paths and ccxt's ``{hostname}`` placeholders elsewhere kept."""
    if isinstance(urls, str):
        target = urlsplit(base_url)
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))
    if isinstance(urls, Mapping):
        return {name: _rehost(value, base_url) for name, value in urls.items()}
    return urls


def _millisecond_nonce(instance: Any) -> bool:
    """Whether ccxt's nonce for this exchange counts milliseconds (within a day of now)."""
    try:
        value = float(instance.nonce())
    except Exception:
        return False
    return abs(value - time.time() * 1000) < 86_400_000


def build_exchange(config: CcxtConfig, context: BrokerContext) -> Any:
    """The account's exchange object: settings applied, credentials read from the environment
    (``ConfigError`` naming the setting when a variable is unset), HTTP on the account's
    transport. Opens no connection."""
    instance = exchange_class(config.exchange)({
        "enableRateLimit": config.enable_rate_limit,
        "timeout": int(config.timeout_seconds * 1000),
        "options": dict(config.options),
    })
    instance.timeout_on_exit = 0  # ccxt waits for aiohttp to close; its session never opens
    if config.sandbox:
        instance.set_sandbox_mode(True)
    if config.base_url:
        instance.urls["api"] = _rehost(instance.urls["api"], config.base_url)
    for name, url in config.urls.items():
        if isinstance(instance.urls["api"], str):
            instance.urls["api"] = {"public": instance.urls["api"],
                                    "private": instance.urls["api"]}
        instance.urls["api"][name] = url
    for field, credential in CREDENTIAL_FIELDS.items():
        env_name = getattr(config, field)
        if env_name:
            setattr(instance, credential, context.secret(env_name, key=field))
    if _millisecond_nonce(instance) and instance.apiKey:
        instance._router_nonces = context.nonces.for_key(instance.apiKey)
    instance._router_http = venue_http_client(
        base_url="", transport=context.transport, timeout=config.timeout_seconds,
        user_agent=f"alert-router-ccxt/{__version__} ccxt/{ccxt_async.__version__}",
    )
    return instance
