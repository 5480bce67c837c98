"""``VenueHttp``: the lean HTTP client a venue plugin sends its requests with.

A venue request is always the same shape: a method, a URL under the venue's API root, a few
headers (the signature), maybe a small body; the answer is read whole. ``httpx.AsyncClient``
wraps that in layers the venues never use: URL and header merging into a Request, a cookie jar
consulted on every answer, auth and redirect machinery, Request/Response/Headers objects. On
the order path they cost about as much CPU as the HTTP itself (bench/, issue 17). This client
keeps what a venue client needs and nothing else:

* on the core's ``AiohttpTransport`` (what the product runs on) it calls
  ``AiohttpTransport.fetch`` directly: no httpx.Request, no httpx.Response;
* on any other ``httpx.AsyncBaseTransport`` (``httpx.MockTransport``, ``httpx.ASGITransport``,
  a test's fake) it builds one ``httpx.Request`` and hands it to
  ``transport.handle_async_request``, so a test's injected transport sees every request.

Failures are httpx's exceptions on both paths, exactly as ``http_transport``'s table maps them:
``NOT_SENT_ERRORS`` (connect errors, connect and pool timeouts) only when the request was
provably not written; a read error or read timeout may come after the venue read the request,
so a client treats it as ambiguous for an order (look it up before any re-send). No cookies,
no redirects (a 3xx is returned as it is), the answer decoded from its Content-Encoding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from .http_transport import AiohttpTransport, client_timeout, shared_tls_context

if TYPE_CHECKING:
    import aiohttp
    import yarl

Params = Mapping[str, str] | Sequence[tuple[str, str]]

# What httpx.AsyncClient sent with every request, kept so that a venue sees the same request
# it saw before. Host and Content-Length (0 for a POST, PUT or PATCH without a body) are added
# per request, by aiohttp or by httpx.Request alike.
_BASE_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
}
_DECODER = json.JSONDecoder()  # json.loads' own default decoder, built the same way
_URL_CACHE_SIZE = 256  # parsed URLs kept per client (paths without a query: an API's endpoints)


class VenueResponse:
    """One answer, read whole: ``status``, ``headers`` (a case-insensitive mapping: a
    header's value by any spelling of its name), ``body`` (bytes, decoded from any
    Content-Encoding)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self, **options: Any) -> Any:
        """The body parsed as JSON; ``options`` go to ``json.loads`` (``parse_float=Decimal``
        keeps money out of float). Raises ``ValueError`` for a body that is not JSON."""
        if options:
            return json.loads(self.body, **options)
        # What json.loads does with bytes and no options, without its argument checks:
        # 2.2 -> 1.8 µs for an order's answer.
        text = self.body.decode(json.detect_encoding(self.body), "surrogatepass")
        return _DECODER.decode(text)

    def __repr__(self) -> str:
        return f"<VenueResponse HTTP {self.status}, {len(self.body)} bytes>"


class VenueHttp:
    """Requests to one venue API root. Close it with ``await http.aclose()`` in
    ``Broker.close``.

    :param base_url: the venue's API root (``config.base_url``); a request names a path under
        it (``"/0/public/Time"``) or a whole ``http(s)://`` URL.
    :param transport: ``context.transport``, always. ``None`` in production: the client then
        runs on its own ``AiohttpTransport`` with the process's one verifying TLS context
        (``shared_tls_context``). Tests put a fake venue there.
    :param timeout: seconds for each phase (connect, each read, pool wait), or an
        ``httpx.Timeout`` to set them apart (``httpx.Timeout(10, connect=5)``).
    :param user_agent: the ``User-Agent`` header; name the plugin and its version
        (``"alert-router-mybroker/0.1.0"``). Default: the one in ``headers``, else
        ``alert-router/<core version>``.
    :param headers: further headers sent with every request (``{"Accept":
        "application/json"}``); never a secret, which belongs in the signed request.

    Example::

        self._http = VenueHttp(base_url=config.base_url, transport=context.transport,
                               timeout=config.timeout_seconds,
                               user_agent=f"alert-router-mybroker/{__version__}")
        answer = await self._http.post("/api/order", content=body, headers=signed)
        if answer.status != 200: ...
        data = answer.json()
    """

    def __init__(
        self,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float | httpx.Timeout,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        from . import __version__

        self.base_url = base_url.rstrip("/") + "/"
        # A test may put another transport here after construction: every request reads it.
        self.transport: httpx.AsyncBaseTransport = (
            transport if transport is not None else AiohttpTransport(ssl=shared_tls_context()))
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._timeout_phases = self.timeout.as_dict()
        self._aiohttp_timeout: aiohttp.ClientTimeout | None = None  # built on the first request
        self._headers = {**_BASE_HEADERS, "User-Agent": f"alert-router/{__version__}"}
        self._names = {name.lower(): name for name in self._headers}  # how each is spelled
        given = {**(headers or {}), **({"User-Agent": user_agent} if user_agent else {})}
        for name, value in given.items():
            self._set(self._headers, name, value)
            self._names[name.lower()] = name
        self._urls: dict[str, yarl.URL] = {}

    def __repr__(self) -> str:
        return f"<VenueHttp {self.base_url}>"

    async def get(self, url: str, *, params: Params | None = None,
                  headers: Mapping[str, str] | None = None) -> VenueResponse:
        return await self.request("GET", url, params=params, headers=headers)

    async def post(self, url: str, *, content: bytes | None = None, params: Params | None = None,
                   headers: Mapping[str, str] | None = None) -> VenueResponse:
        return await self.request("POST", url, content=content, params=params, headers=headers)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> VenueResponse:
        """Send one request and read its answer whole.

        :param url: a path under ``base_url`` (its query, if any, goes out byte for byte as
            written: venues sign the exact query string), or a whole ``http(s)://`` URL.
        :param params: query parameters to append, form-encoded (``a=1&b=x+y``).
        :param content: the request body, as it is to be sent.
        :param headers: this request's headers (the signature), over the client's own.
        """
        full = self._absolute(url, params)
        sent = self._headers
        if headers:
            sent = dict(sent)
            for name, value in headers.items():
                self._set(sent, name, value)
        transport = self.transport
        if type(transport) is AiohttpTransport:  # a subclass may change what goes out: httpx
            status, answer_headers, body = await transport.fetch(
                method, self._parsed(full), sent, content, self._client_timeout())
            return VenueResponse(status, answer_headers, body)
        request = httpx.Request(method, full, headers=sent, content=content,
                                extensions={"timeout": self._timeout_phases})
        response = await transport.handle_async_request(request)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return VenueResponse(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self.transport.aclose()

    # -- helpers -----------------------------------------------------------------------------

    def _set(self, headers: dict[str, str], name: str, value: str) -> None:
        """Set a header, replacing the client's own under any spelling of its name."""
        spelled = self._names.get(name.lower())
        if spelled is not None and spelled != name:
            headers.pop(spelled, None)
        headers[name] = value

    def _absolute(self, url: str, params: Params | None) -> str:
        if not url.startswith(("http://", "https://")):
            url = self.base_url + url.lstrip("/")
        if params:
            query = urlencode(params)
            if query:
                url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def _parsed(self, url: str) -> yarl.URL:
        """``url`` as yarl's URL, taken as encoded (sent byte for byte: no re-quoting); the
        endpoints' URLs (no query) are parsed once."""
        parsed = self._urls.get(url)
        if parsed is None:
            import yarl  # installed with aiohttp, imported by the transport's first request

            parsed = yarl.URL(url, encoded=True)
            if "?" not in url and len(self._urls) < _URL_CACHE_SIZE:
                self._urls[url] = parsed
        return parsed

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        if self._aiohttp_timeout is None:
            self._aiohttp_timeout = client_timeout(self._timeout_phases)
        return self._aiohttp_timeout
