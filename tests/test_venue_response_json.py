"""VenueResponse.json without options parses exactly as json.loads does with the body's bytes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from router_core import VenueResponse

TEXT = '{"error": [], "result": {"price": 40000.5, "note": "naïve ☃", "n": [1, null, true]}}'
BODIES = [
    TEXT.encode(), TEXT.encode("utf-8-sig"), TEXT.encode("utf-16"), TEXT.encode("utf-16-le"),
    TEXT.encode("utf-32"), b"  [1, 2]\n", b'"x"', b"7", b"{}", b'"\\ud800"',
]


@pytest.mark.parametrize("body", BODIES)
def test_the_body_parses_as_json_loads_parses_it(body: bytes) -> None:
    assert VenueResponse(200, {}, body).json() == json.loads(body)


@pytest.mark.parametrize("body", [b"", b"{", b"[1] [2]", b"\xff\xfe{\x00", b'{"a": \x80}',
                                  b"nan"])
def test_a_body_that_is_not_json_raises_value_error_as_json_loads_does(body: bytes) -> None:
    with pytest.raises(ValueError) as loads_error:
        json.loads(body)
    with pytest.raises(ValueError) as ours:
        VenueResponse(200, {}, body).json()
    assert type(ours.value) is type(loads_error.value)


def test_options_still_go_to_json_loads() -> None:
    assert VenueResponse(200, {}, TEXT.encode()).json(parse_float=Decimal)["result"]["price"] \
        == Decimal("40000.5")
