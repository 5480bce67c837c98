"""The order path's fast forms give exactly what the plain forms they replace give."""

from __future__ import annotations

import logging
import math
import random
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from urllib.parse import urlencode

import pytest
from router_kraken_spot.broker import KrakenSpotBroker
from router_kraken_spot.client import rfc3339_milliseconds
from router_kraken_spot.fake_data import default_pairs
from router_kraken_spot.form import form_encode
from router_kraken_spot.instruments import to_instrument
from router_kraken_spot.orders import _decimals, _Pair, _written_decimals, build_add_order
from router_kraken_spot.testing import make_order

from router_core import Instrument, InvalidOrder, Order, OrderType, Side, format_decimal


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


def _deadline_as_datetime_formats_it(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def test_the_deadline_text_is_what_datetime_formats() -> None:
    rng = random.Random(5)
    edges = (0.0, 0.0005, 0.0004999, 0.9995, 0.999, 0.9999994, 0.9999995, 0.9999996, 0.5e-6,
             0.1, 0.123456789)
    stamps = [1_700_000_000 + edge for edge in edges]
    stamps += [rng.uniform(1.6e9, 2.2e9) for _ in range(20_000)]
    stamps += [math.floor(rng.uniform(1.6e9, 2.2e9)) + rng.choice(edges) for _ in range(20_000)]
    for stamp in stamps:
        assert rfc3339_milliseconds(stamp) == _deadline_as_datetime_formats_it(stamp), stamp


def test_the_deadline_crosses_into_the_next_second_day_and_year() -> None:
    assert rfc3339_milliseconds(1798761599.9999996) == "2027-01-01T00:00:00.000Z"
    assert rfc3339_milliseconds(1798761599.9995) == "2026-12-31T23:59:59.999Z"


def _btc_usd() -> Instrument:
    pairs = default_pairs()
    return to_instrument("XXBTZUSD", pairs["XXBTZUSD"])


def test_an_instruments_precision_rules_are_read_once_and_never_shared() -> None:
    instrument = _btc_usd()
    assert _Pair.of(instrument) is _Pair.of(instrument)
    fewer = replace(instrument, venue=MappingProxyType({**instrument.venue, "lot_decimals": 2}))
    assert fewer == instrument  # venue is not compared: the rules must follow the object
    assert _Pair.of(fewer).lot_decimals == 2 and _Pair.of(instrument).lot_decimals == 8
    order = Order(client_order_id="a1", account="a", instrument=fewer, side=Side.BUY,
                  quantity=Decimal("0.001"), order_type=OrderType.MARKET)
    with pytest.raises(InvalidOrder, match="more than XBTUSD's 2 volume decimals"):
        build_add_order(order, margin=False, validate_only=False)
    fields = dict(build_add_order(replace(order, instrument=instrument), margin=False,
                                  validate_only=False).fields)
    assert fields["volume"] == "0.001"


async def test_each_private_call_is_logged_at_debug_level_only(
        broker: KrakenSpotBroker, btc: Instrument, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="router_kraken_spot"):
        await broker.submit_order(make_order(btc))
    assert not [r for r in caplog.records if "-> HTTP" in r.getMessage()]
    with caplog.at_level(logging.DEBUG, logger="router_kraken_spot"):
        await broker.submit_order(make_order(btc))
    assert [r.getMessage().split(" in ")[0] for r in caplog.records
            if "-> HTTP" in r.getMessage()] == ["kraken-spot AddOrder -> HTTP 200"]


@pytest.mark.parametrize("text", [
    "0", "-0.000", "1", "100", "1E+2", "1.500", "0.00010000", "0.0001", "40000.0", "-0.5",
    "1E-8", "1.23456789E-5", "1234567890123456789.123456789", "NaN", "Infinity",
])
def test_decimals_read_off_the_sent_text_are_those_of_the_normalized_decimal(text: str) -> None:
    value = Decimal(text)
    assert _written_decimals(format_decimal(value)) == _decimals(value)


def test_decimals_past_the_decimal_context_are_counted_as_sent() -> None:
    # normalize() rounds to the context's 28 digits; the text sends all 29, and counts them
    value = Decimal("12345678901234567890.123456789")
    assert _written_decimals(format_decimal(value)) == 9 > _decimals(value)


def test_a_price_or_volume_with_too_many_decimals_is_still_refused_with_the_same_words() -> None:
    pair = _Pair(_btc_usd())  # XBTUSD: tick 0.1, 8 volume decimals
    assert pair.price(Decimal("40000.10"), "limit_price") == "40000.1"
    assert pair.volume(Decimal("0.00010000")) == "0.0001"
    with pytest.raises(InvalidOrder, match=re.escape(
            "limit_price 40000.05 is not a multiple of XBTUSD's tick size 0.1")):
        pair.price(Decimal("40000.05"), "limit_price")
    with pytest.raises(InvalidOrder, match=re.escape(
            "quantity 0.000000001 has more than XBTUSD's 8 volume decimals")):
        pair.volume(Decimal("0.0000000010"))
