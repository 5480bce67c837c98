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

aiohttp is imported on the first request, not with this module: it takes longer to import than
the rest of a CLI start.
"""

from __future__ import annotations

import functools
import urllib.request
from http.cookiejar import CookieJar
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

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
                # send exactly the headers httpx built, adding none of aiohttp's defaults
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import yarl  # installed with aiohttp, already imported by it

        session = self._get_session()
        body = await request.aread()
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, value in request.headers.raw]
        # encoded=True: the URL goes out byte for byte as httpx built it. yarl would otherwise
        # re-quote the query (%3A -> :), and venues sign the exact query string.
        url = yarl.URL(str(request.url), encoded=True)
        try:
            async with session.request(
                request.method, url, headers=headers, data=body or None,
                allow_redirects=False, timeout=_client_timeout(request),
                proxy=self._proxy_for(request.url),
            ) as answer:
                content = await answer.read()
                status, reason = answer.status, answer.reason or ""
                raw_headers = list(answer.raw_headers)
        except Exception as exc:
            mapped = _to_httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        return httpx.Response(
            status, headers=raw_headers, content=content, request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1")},
        )

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy the environment names for this URL, read once per scheme and host."""
        if not self._trust_env:
            return None
        key = (url.scheme, url.host)
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = proxies.get(url.scheme)
            bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
            if proxy and bypass(url.host, proxies):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _client_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts in aiohttp's terms.

    aiohttp's ``connect`` bounds waiting for a pool slot *plus* opening the connection (TCP and
    TLS), so it gets httpx's pool + connect; ``sock_connect`` bounds each TCP/TLS attempt, so it
    gets httpx's connect alone; ``sock_read`` bounds each wait for answer bytes, as httpx's read
    does. ``total`` stays unset: when it fires aiohttp cannot say which phase it interrupted.
    aiohttp has no write timeout; request bodies here are small and go out in one send, and
    every caller also bounds the whole call.
    """
    import aiohttp

    phases: dict[str, float | None] = request.extensions.get("timeout", {})
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
