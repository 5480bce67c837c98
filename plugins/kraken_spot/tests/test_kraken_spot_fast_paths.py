"""The order path's fast forms give exactly what the plain forms they replace give."""

from __future__ import annotations

from urllib.parse import urlencode

from router_kraken_spot.form import form_encode


def test_a_body_of_unreserved_text_and_colons_is_joined_whole_as_urlencode_sends_it() -> None:
    fields = [("nonce", "1"), ("deadline", "2026-12-04T15:53:07.289Z"), ("a:b", "::"),
              ("empty", "")]
    assert form_encode(fields) == urlencode(fields)
    assert form_encode(fields).count("%3A") == 5


def test_a_colon_beside_a_character_to_escape_still_matches_urlencode() -> None:
    for fields in ([("deadline", "2026-12-04T15:53:07.289Z"), ("x", "a&b=c")],
                   [("k=v", "1:2")], [("t", "12:00 é")], []):
        assert form_encode(fields) == urlencode(fields), fields


def test_any_iterable_of_fields_is_encoded() -> None:
    fields = [("nonce", "7"), ("deadline", "2026-12-04T15:53:07.289Z")]
    assert form_encode(iter(fields)) == form_encode(tuple(fields)) == urlencode(fields)
