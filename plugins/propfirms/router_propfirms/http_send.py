"""Sending one request to a prop-firm venue: transport failures as the core's typed errors.

Only a failure while connecting (``router_core.NOT_SENT_ERRORS``, a refusing proxy) proves
that nothing was written: it is ``VenueUnavailable``. Any later failure (a timeout while the
answer is awaited, a connection dropped, an answer that does not decode) may come after the
venue read the request: for a request that places an order it is ``AmbiguousOutcome``, so the
core looks the order up before anything is sent again; for any other, ``VenueUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from router_core import NOT_SENT_ERRORS, AmbiguousOutcome, VenueUnavailable

NOT_SENT: tuple[type[Exception], ...] = (*NOT_SENT_ERRORS, httpx.ProxyError)
AFTER_WRITE: tuple[type[Exception], ...] = (httpx.TransportError, httpx.DecodingError,
                                            asyncio.TimeoutError)


async def send(http: httpx.AsyncClient, request: httpx.Request, *, venue: str, path: str,
               places_order: bool, timeout: float) -> httpx.Response:
    """``request`` sent with ``http`` within ``timeout`` seconds; its response, whatever the
    status (the caller reads it)."""
    try:
        response = await asyncio.wait_for(http.send(request), timeout)
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
        "%s %s %s -> HTTP %s", venue, request.method, path, response.status_code)
    return response
