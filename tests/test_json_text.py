"""The journal's JSON (``json_text.text_encoder``: claims, leg intents, outcomes, reports) is
exactly ``json.dumps``'s text, with json's C accelerator and without it: what readers, the
dashboard and recovery parse back does not change by a byte."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router_core import json_text as json_text_module
from router_core.journal import AlertState, Journal
from router_core.json_text import text_encoder

SAMPLES: list[Any] = [
    {"ticker": "XBTUSD", "symbol": "XXBTZUSD", "side": "buy", "quantity": "0.0001",
     "order_type": "limit", "purpose": "open", "limit_price": "40000", "stop_price": None,
     "reduce_only": False, "reference_price": "40000"},
    {"status": "accepted", "reason": "Bücher \u20ac \"quoted\" \\ back\nslash\t\x01", "n": 3,
     "f": 1.5, "nan": float("nan"), "inf": float("-inf"), "nested": {"a": [1, None, True]}},
    {"legs": [{"account": "a1", "leg": "open"}] * 3, "notes": [], "ok": True, "refused": None},
    [], {}, "plain text", 7, None,
]


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("value", SAMPLES)
def test_the_text_is_json_dumps_text(value: Any, sort_keys: bool) -> None:
    assert text_encoder(sort_keys=sort_keys)(value) == json.dumps(value, sort_keys=sort_keys)


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("value", SAMPLES)
def test_the_text_is_the_same_without_the_c_accelerator(
    value: Any, sort_keys: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_text_module, "c_make_encoder", None)
    assert text_encoder(sort_keys=sort_keys)(value) == json.dumps(value, sort_keys=sort_keys)


def test_what_json_cannot_encode_is_refused_as_json_dumps_refuses_it() -> None:
    with pytest.raises(TypeError, match="Object of type Decimal is not JSON serializable"):
        text_encoder()({"quantity": Decimal("1")})
    # the encoder keeps no state from a failed call
    assert text_encoder()({"quantity": "1"}) == '{"quantity": "1"}'


def test_stored_intent_outcome_and_report_are_json_dumps_texts(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        fields = {"alert_id": "al1", "delivery_key": "d1", "intent_key": "ik1",
                  "fingerprint": "f1", "alert": {"ticker": "XBTUSD"}, "peer": None,
                  "source": "test", "state": AlertState.RECEIVED, "reason": None,
                  "routing": None}
        journal.claim(**fields)
        order = SAMPLES[0] | {"ticker": "BTC/€"}
        assert journal.record_intent(
            client_order_id="c1", alert_id="al1", account="a1", broker="paper",
            symbol="XXBTZUSD", purpose="open", side="buy", quantity="0.0001", notional=None,
            order=order)
        result = {"status": "accepted", "client_order_id": "c1", "reason": "résting",
                  "filled_quantity": None}
        journal.record_outcome("c1", result)
        report = {"alert_id": "al1", "legs": [{"account": "a1", **result}], "notes": ["ü"]}
        journal.set_state("al1", AlertState.DONE, report=report)
        row = journal._read("SELECT order_json, result FROM legs WHERE client_order_id = 'c1'")
        assert row == [(json.dumps(order), json.dumps(result))]
        stored = journal._read("SELECT report FROM alerts WHERE alert_id = 'al1'")
        assert stored == [(json.dumps(report),)]
    finally:
        journal.close()
