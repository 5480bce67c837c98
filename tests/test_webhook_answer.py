"""The webhook's own answers (``webhook.Answer``, ``webhook.Accepted``) send exactly what
``JSONResponse`` would: the same status, headers and body bytes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from router_core.webhook import Accepted, Answer

CONTENTS: list[Any] = [
    {"alert_id": "a-1", "status": "duplicate", "state": "done"},
    {"alert_id": "a-2", "status": "done", "report": {
        "legs": [{"quantity": "0.01", "price": None, "filled": True, "fee": 0.25, "n": 3}],
        "notes": [], "reason": "ünïcode \u2713 \"quoted\" back\\slash \n newline \x01"}},
    {"alert_id": "a-3", "status": "accepted", "detail": "still executing; see GET /alerts/a-3"},
    {"nested": {"empty": {}, "list": [1, 2.5, -0.0, 1e300, True, False, None]}},
]


async def sent(response: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await response({"type": "http"}, None, send)
    return messages


@pytest.mark.parametrize("content", CONTENTS)
async def test_an_answer_sends_what_json_response_sends(content: Any) -> None:
    answer, reference = Answer(content), JSONResponse(content, 200)
    assert answer.body == reference.body
    assert answer.raw_headers == reference.raw_headers
    assert await sent(answer) == await sent(reference)


def test_an_answer_refuses_what_json_response_refuses() -> None:
    for content in ({"x": math.nan}, {"x": math.inf}):
        with pytest.raises(ValueError):
            JSONResponse(content)
        with pytest.raises(ValueError):
            Answer(content)
    with pytest.raises(TypeError):
        Answer({"x": object()})


async def test_an_accepted_alert_is_answered_as_json_response_would_then_runs_its_after() -> None:
    ran: list[bool] = []

    async def after() -> None:
        ran.append(True)

    alert_id = "0193a3b2-7c1e-7f00-8000-0000000001ab"
    accepted = Accepted(alert_id, after)
    reference = JSONResponse({"alert_id": alert_id, "status": "accepted"}, 200)
    assert accepted.body == reference.body
    assert accepted.raw_headers == reference.raw_headers
    assert await sent(accepted) == await sent(reference)
    assert ran == [True]
