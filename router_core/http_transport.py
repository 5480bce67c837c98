"""An httpx transport over aiohttp that never reports "nothing was sent" without proof.

httpx stays the HTTP API of the project; this only replaces httpcore underneath it, which costs
about twice the CPU per request and falls behind with many requests in flight (bench/). Venue
clients read ``httpx.ConnectError`` / ``httpx.ConnectTimeout`` (and ``PoolTimeout``) as "the
request was not written, sending it again cannot duplicate an order". So only aiohttp errors
raised while obtaining a connection become those; anything later is an ambiguous read error.

| aiohttp raises                                            | becomes                     |
|-----------------------------------------------------------|-----------------------------|
| ConnectionTimeoutError (pool wait, TCP or TLS connect)     | httpx.ConnectTimeout        |
| ClientConnectorError (refused, DNS, TLS/certificate, ...)  | httpx.ConnectError          |
| SocketTimeoutError, any other TimeoutError                 | httpx.ReadTimeout           |
| ServerDisconnectedError, ClientPayloadError,               | httpx.RemoteProtocolError   |
| ClientResponseError (malformed answer)                     |                             |
| any other ClientError or OSError (reset, broken pipe, ...) | httpx.ReadError             |
| anything else                                              | propagates unchanged        |

``AiohttpTransport.fetch`` is the same request without httpx's Request and Response objects,
with the same table: ``router_core.VenueHttp`` (venue_http.py) sends through it.

aiohttp is imported on the first request, not with this module: it takes longer to import than
the rest of a CLI start.
"""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Mapping
from http.cookiejar import CookieJar
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp
    import yarl

# httpx's default keep-alive expiry. A server that closes an idle connection just as a request
# is written on it makes that request fail as ambiguous (a lookup, never a duplicate); expiring
# idle connections early keeps that race rare.
# The httpx errors that prove the request was not written, from this transport (see the table
# above) and from httpx's own: a venue client may send again after these, and only these.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
KEEPALIVE_SECONDS = 5.0
DEFAULT_MAX_CONNECTIONS = 100
# What aiohttp adds to a request that lacks them (see _headers_to_skip).
_AIOHTTP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing, for ``httpx.AsyncClient(cookies=NoCookies())``.

    Venue APIs authenticate each request by key and signature, never by cookie, and a client
    that replays cookies a venue's CDN set is one more thing that can surprise. httpx parses
    every answer's Set-Cookie through ``http.cookiejar`` otherwise: a fifth of its CPU per
    request on the order path (bench/)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


@functools.cache
def shared_tls_context() -> SSLContext:
    """One verifying TLS context for every client in the process. Building one loads the CA
    bundle: about 60 ms and 1 MB each (measured by bench/), so 50 accounts took 3 s longer to
    start and 46 MB more memory. Contexts are made to be shared; verification is unchanged."""
    return httpx.create_ssl_context()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive over one ``aiohttp.ClientSession``, created on the first
    request inside the running event loop. No redirects, no cookies, no decompression (httpx
    decodes Content-Encoding itself).

    Proxies: like httpx's own transport, ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` from
    the environment are honoured unless ``trust_env=False`` (an HTTPS request goes through the
    proxy in a CONNECT tunnel, so TLS stays end to end). ``.netrc`` is never read.

    aiohttp re-sends a request by itself only when a reused keep-alive connection turns out to
    be dead and the method is in its IDEMPOTENT_METHODS (GET, HEAD, OPTIONS, TRACE, PUT,
    DELETE; aiohttp 3.14 ``ClientSession._request``). A POST is never re-sent: it fails with
    ServerDisconnectedError or ClientOSError, mapped to an ambiguous error below. (The one PUT
    the Kraken plugins send sets a preference: idempotent, and a repeated nonce is refused.)
    """

    def __init__(
        self,
        ssl: SSLContext | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        *,
        trust_env: bool = True,
    ) -> None:
        self._ssl = ssl if ssl is not None else shared_tls_context()
        self._max_connections = max_connections
        self._trust_env = trust_env
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) -> proxy URL
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AiohttpTransport is closed")
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    ssl=self._ssl, limit=self._max_connections,
                    keepalive_timeout=KEEPALIVE_SECONDS,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                # no skip_auto_headers here: each request says which to skip (_headers_to_skip)
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import yarl  # installed with aiohttp, already imported by it

        body = await request.aread()
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, value in request.headers.raw]
        # encoded=True: the URL goes out byte for byte as httpx built it. yarl would otherwise
        # re-quote the query (%3A -> :), and venues sign the exact query string.
        url = yarl.URL(str(request.url), encoded=True)
        try:
            # httpx decodes Content-Encoding itself: the body stays as it came
            answer, content = await self._exchange(
                request.method, url, headers, body or None, _client_timeout(request),
                decompress=False, skip_auto_headers=_headers_to_skip(request.headers))
        except Exception as exc:
            mapped = _to_httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        reason = answer.reason or ""
        return httpx.Response(
            answer.status, headers=list(answer.raw_headers), content=content, request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1")},
        )

    async def fetch(
        self,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request without httpx's Request and Response objects: ``(status, headers,
        body)``, the body decoded from its Content-Encoding and the headers a case-insensitive
        mapping. The same connection pool, proxies and error table as
        ``handle_async_request``: the failures are raised as the same httpx errors.

        ``router_core.VenueHttp`` calls this; ``headers`` must be all the headers to send but
        Host and Content-Length (aiohttp adds no defaults of its own), ``timeout`` comes from
        ``client_timeout``.
        """
        try:
            answer, content = await self._exchange(method, url, headers, body, timeout,
                                                   decompress=True,
                                                   skip_auto_headers=_headers_to_skip(headers))
        except Exception as exc:
            # the httpx.Request is only built for the error, which names it
            mapped = _to_httpx_error(exc, httpx.Request(method, str(url)))
            if mapped is None:
                raise
            raise mapped from exc
        return answer.status, answer.headers, content

    async def _exchange(
        self,
        method: str,
        url: yarl.URL,
        headers: Mapping[str, str] | list[tuple[str, str]],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        decompress: bool,
        skip_auto_headers: tuple[str, ...] | None,
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """Send one request and read its whole answer; aiohttp's exceptions pass through."""
        session = self._get_session()
        async with session.request(
            method, url, headers=headers, data=body, allow_redirects=False, timeout=timeout,
            proxy=self._proxy_for(url.scheme, url.host or ""), auto_decompress=decompress,
            skip_auto_headers=skip_auto_headers,
        ) as answer:
            return answer, await answer.read()

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        """The proxy the environment names for this scheme and host, read once for each."""
        if not self._trust_env:
            return None
        key = (scheme, host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(scheme)
            bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
            if proxy and bypass(host, proxies):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _headers_to_skip(headers: Mapping[str, str] | httpx.Headers) -> tuple[str, ...] | None:
    """The headers aiohttp must not add to a request, so that exactly ``headers`` go out.

    aiohttp adds Accept, Accept-Encoding and User-Agent to a request that lacks them, and
    Content-Type to a POST, PUT or PATCH. When ``headers`` names all four (a venue's signed
    POST: ``VenueHttp`` always sends the first three) it adds none, so nothing is skipped:
    a skip list makes aiohttp copy the request's headers to apply it (aiohttp's setup of a
    signed POST: 10.2 µs with it, 9.0 without). Otherwise all four are skipped, as before.
    """
    if all(name in headers for name in _AIOHTTP_AUTO_HEADERS):
        return None
    return _AIOHTTP_AUTO_HEADERS


def _client_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """The aiohttp timeouts for an httpx request's ``timeout`` extension (``client_timeout``)."""
    return client_timeout(request.extensions.get("timeout", {}))


def client_timeout(phases: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts (``httpx.Timeout.as_dict()``) in aiohttp's terms.

    aiohttp's ``connect`` bounds waiting for a pool slot *plus* opening the connection (TCP and
    TLS), so it gets httpx's pool + connect; ``sock_connect`` bounds each TCP/TLS attempt, so it
    gets httpx's connect alone; ``sock_read`` bounds each wait for answer bytes, as httpx's read
    does. ``total`` stays unset: when it fires aiohttp cannot say which phase it interrupted.
    aiohttp has no write timeout; request bodies here are small and go out in one send, and
    every caller also bounds the whole call.
    """
    import aiohttp

    pool, connect, read = phases.get("pool"), phases.get("connect"), phases.get("read")
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if pool is None or connect is None else pool + connect,
        sock_connect=connect,
        sock_read=read,
    )


def _to_httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx error for an aiohttp failure (table in the module docstring), or None for an
    exception to re-raise as it is. Order matters: ConnectionTimeoutError is a TimeoutError and
    ClientConnectorError an OSError, and only they may say "nothing was written"."""
    import aiohttp

    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # raised only around connector.connect
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    # Past this point a connection was obtained: the request may have been written.
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.ReadError(message, request=request)
    return None
