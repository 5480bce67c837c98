"""Sending one request to a prop-firm venue: transport failures as the core's typed errors.

The three clients (Tradovate, ProjectX, TradeLocker) send every request through ``send``, on
the core's ``VenueHttp`` (one request path for every first-party venue client, about half the
CPU of ``httpx.AsyncClient`` per request on the product's transport: it matters when one alert
fans out to many prop-firm accounts).

Only a failure while connecting (``router_core.NOT_SENT_ERRORS``, a refusing proxy) proves
that nothing was written: it is ``VenueUnavailable``. Any later failure (a timeout while the
answer is awaited, a connection dropped, an answer that does not decode) may come after the
venue read the request: for a request that places an order it is ``AmbiguousOutcome``, so the
core looks the order up before anything is sent again; for any other, ``VenueUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from router_core import (
    NOT_SENT_ERRORS,
    AmbiguousOutcome,
    VenueHttp,
    VenueResponse,
    VenueUnavailable,
)

NOT_SENT: tuple[type[Exception], ...] = (*NOT_SENT_ERRORS, httpx.ProxyError)
AFTER_WRITE: tuple[type[Exception], ...] = (httpx.TransportError, httpx.DecodingError,
                                            asyncio.TimeoutError)

JSON_BODY = {"Content-Type": "application/json"}


def request_headers(token: SecretStr | None, *, json_body: bool = False,
                    extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A request's own headers: ``Authorization: Bearer`` with ``token`` (none for a login),
    then ``extra``, then ``Content-Type: application/json`` when a JSON body goes with it."""
    sent = {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}
    if extra:
        sent.update(extra)
    if json_body:
        sent.update(JSON_BODY)
    return sent


def query(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """Query parameters as text, each value written as httpx writes one (``true`` /
    ``false`` for a bool, nothing for ``None``), so a venue sees the query it always saw."""
    if not params:
        return None
    return [(str(name), _text(value)) for name, value in params.items()]


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


async def send(http: VenueHttp, method: str, path: str, *, venue: str, places_order: bool,
               timeout: float, params: Mapping[str, Any] | None = None,
               content: bytes | None = None,
               headers: Mapping[str, str] | None = None) -> VenueResponse:
    """``method path`` sent with ``http`` within ``timeout`` seconds (the whole exchange, on
    top of ``http``'s per-phase timeouts); its answer, whatever the status (the caller reads
    it)."""
    try:
        async with asyncio.timeout(timeout):
            response = await http.request(method, path, params=query(params), content=content,
                                          headers=headers)
    except NOT_SENT as exc:
        raise VenueUnavailable(f"cannot reach {venue} at {http.base_url} "
                               f"({type(exc).__name__}); nothing was sent") from None
    except AFTER_WRITE as exc:
        what = type(exc).__name__
        if places_order:
            raise AmbiguousOutcome(f"{venue} {path}: the request was sent but no answer came "
                                   f"({what}); the order may exist") from None
        raise VenueUnavailable(f"{venue} {path}: no answer ({what})") from None
    logging.getLogger(f"router_propfirms.{venue.lower()}").debug(
        "%s %s %s -> HTTP %s", venue, method, path, response.status)
    return response
