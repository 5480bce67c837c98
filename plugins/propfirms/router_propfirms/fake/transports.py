"""An httpx transport for tests: the venue carries a request out, the answer is lost."""

from __future__ import annotations

import httpx


class DropReply(httpx.AsyncBaseTransport):
    """Forwards to ``inner``; the first request to ``path`` reaches the venue, which carries it
    out, and then ``httpx.ReadTimeout`` is raised as if the answer never came."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner = inner
        self.path = path
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == self.path and not self.dropped:
            self.dropped += 1
            await response.aread()
            raise httpx.ReadTimeout("the answer was lost (test)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
