"""The webhook's 200 for a new alert is sent without JSONResponse (``webhook.Accepted``): the
same bytes and headers, and the work after the answer runs only once it is sent. Its body is
read straight from the ASGI messages (``webhook.read_body``) with the limits of before."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect, Request

from router_core.webhook import Accepted, read_body, request_headers


async def _sent(response: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await response({"type": "http"}, None, send)
    return messages


@pytest.mark.parametrize("alert_id", ["0b7e5a34-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 'odd "id"\\ é'])
async def test_the_accepted_answer_is_the_json_response_it_replaces(alert_id: str) -> None:
    events: list[str] = []

    async def after() -> None:
        events.append(f"after {len(messages)} messages")

    messages: list[dict[str, Any]] = []
    answer = Accepted(alert_id, after)

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await answer({"type": "http"}, None, send)
    expected = await _sent(JSONResponse({"alert_id": alert_id, "status": "accepted"}, 200))
    assert messages == expected
    assert events == ["after 2 messages"]  # the after-work ran once, after the body was sent


def _request(headers: list[tuple[bytes, bytes]], messages: list[dict[str, Any]]) -> Request:
    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/webhook", "query_string": b"",
             "headers": headers}
    return Request(scope, receive)


async def test_the_body_is_read_in_chunks_up_to_the_limit() -> None:
    chunks = [{"type": "http.request", "body": b"abc", "more_body": True},
              {"type": "http.request", "body": b"", "more_body": True},
              {"type": "http.request", "body": b"def", "more_body": False}]
    request = _request([], chunks)
    assert await read_body(request, request_headers(request), 6) == b"abcdef"

    chunks = [{"type": "http.request", "body": b"abc", "more_body": True},
              {"type": "http.request", "body": b"defg", "more_body": True},
              {"type": "http.request", "body": b"h", "more_body": False}]
    request = _request([], chunks)
    assert await read_body(request, request_headers(request), 6) is None
    assert len(chunks) == 1  # read no further than past the limit: the rest is never asked for

    untouched = [{"type": "http.request", "body": b"x" * 7, "more_body": False}]
    request = _request([(b"content-length", b"7")], untouched)
    assert await read_body(request, request_headers(request), 6) is None
    assert len(untouched) == 1  # refused on its Content-Length, before reading a byte


async def test_a_sender_that_hangs_up_mid_body_raises_client_disconnect() -> None:
    request = _request([], [{"type": "http.request", "body": b"ab", "more_body": True},
                            {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnect):
        await read_body(request, request_headers(request), 100)


def test_a_repeated_header_answers_its_first_value_as_starlette_does() -> None:
    request = _request([(b"content-type", b"text/plain"), (b"x-a", b"1"),
                        (b"content-type", b"application/json")], [])
    headers = request_headers(request)
    assert headers[b"content-type"].decode() == request.headers["content-type"] == "text/plain"
