"""Intake: bytes in, Alert or one clear AlertError out; the dialect hook order; the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import timeit
from decimal import Decimal
from pathlib import Path

import pytest

from router_core.errors import AlertError
from router_core.intake import (
    MAX_BODY_BYTES,
    dialect_names,
    load_json,
    media_type_of,
    parse_alert,
    parse_alert_dict,
)
from router_core.plugins import hookimpl, make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"ticker": "BTCUSD", "action": "buy", "quantity": 0.1}'


@pytest.fixture(scope="module")
def plugins():
    return make_plugin_manager(enabled=[])


def refused(raw: bytes, plugins, content_type: str | None = "application/json") -> AlertError:
    with pytest.raises(AlertError) as info:
        parse_alert(raw, content_type, plugins)
    return info.value


@pytest.mark.parametrize("content_type", [
    "application/json", "text/plain", "text/plain; charset=utf-8", "Application/JSON",
    "application/vnd.example+json", None, ""])
def test_json_and_text_plain_are_read_the_same(content_type, plugins) -> None:
    alert = parse_alert(BODY, content_type, plugins)
    assert alert.quantity == Decimal("0.1") and isinstance(alert.quantity, Decimal)


def test_other_media_types_are_refused_with_a_hint() -> None:
    with pytest.raises(AlertError) as info:
        media_type_of("application/x-www-form-urlencoded")
    assert info.value.field == "Content-Type" and "curl" in info.value.reason
    with pytest.raises(AlertError):
        media_type_of("multipart/form-data; boundary=x")


def test_bom_and_whitespace_are_tolerated(plugins) -> None:
    assert parse_alert(b"\xef\xbb\xbf  \n" + BODY + b"\n", "text/plain", plugins).ticker == "BTCUSD"


@pytest.mark.parametrize(("raw", "words"), [
    (b"\xff\xfe\x00", "not valid UTF-8 (byte 0)"),
    (b'{"ticker": "\xc3\x28"}', "not valid UTF-8"),
    (b"", "empty"),
    (b"   ", "empty"),
    (b"x" * (MAX_BODY_BYTES + 1), "larger than 1 MiB"),
    (b"[" * 40 + b"]" * 40, "nested deeper than 32"),
    (b"[" * 200_000, "nested deeper than 32"),
    (b'{"a":' * 33 + b"1" + b"}" * 33, "nested deeper than 32"),
], ids=["bad-utf8", "bad-utf8-in-string", "empty", "blank", "too-large", "deep-list",
        "very-deep-unclosed", "deep-object"])
def test_body_level_refusals(raw: bytes, words: str, plugins) -> None:
    error = refused(raw, plugins)
    assert error.field == "body"
    assert words in error.reason


def test_text_that_is_not_json_lists_the_json_problem_and_the_dialects(plugins) -> None:
    error = refused(b"buy BTCUSD 0.1", plugins, "text/plain")
    assert error.field == "body"
    assert error.reason.startswith("not valid JSON (Expecting value at line 1 column 1) and ")
    assert error.reason.endswith(
        "not a recognised alert; tried dialects: pickmytrade, tradingview-strategy, native")


def test_broken_json_names_the_position(plugins) -> None:
    error = refused(b'{"ticker": "BTCUSD" "action": "buy"}', plugins)
    assert "Expecting ',' delimiter at line 1 column 21" in error.reason


def test_json_that_no_dialect_claims(plugins) -> None:
    for raw in (b'{"hello": 1}', b"[1, 2]", b'"buy"', b"42"):
        error = refused(raw, plugins)
        assert error.reason == ("not a recognised alert; tried dialects: pickmytrade, "
                                "tradingview-strategy, native")


def test_a_json_number_beyond_decimal_is_refused(plugins) -> None:
    error = refused(b'{"ticker": "X", "action": "buy", "quantity": 1e' + b"9" * 40 + b"}",
                    plugins)
    assert error.field == "body" and error.reason.startswith("number out of range: 1e999")


def test_numbers_never_become_floats() -> None:
    data, problem = load_json('{"a": 0.1, "b": 1e400, "c": NaN, "d": 12, "e": ' + "9" * 40 + "}")
    assert problem is None
    assert data["a"] == Decimal("0.1") and isinstance(data["a"], Decimal)
    assert isinstance(data["b"], Decimal) and isinstance(data["c"], Decimal)
    assert data["d"] == 12 and isinstance(data["d"], int)
    assert data["e"] == Decimal("9" * 40)  # too long for an int: the model refuses it by name


@pytest.mark.parametrize(("quantity", "words"), [
    ("NaN", "finite"), ("Infinity", "finite"), ("-Infinity", "finite"), ("1e400", "range"),
    ("9" * 5000, "significant digits"), ("-0.5", "greater than 0"), ("true", "got true"),
])
def test_bad_json_numbers_name_the_field(quantity: str, words: str, plugins) -> None:
    raw = b'{"ticker": "X", "action": "buy", "quantity": ' + quantity.encode() + b"}"
    error = refused(raw, plugins)
    assert error.field == "quantity" and words in error.reason


class _Signal:
    """A third-party dialect: {"signal": "long", "pair": ...}."""

    DIALECT = "signal-bot"

    @hookimpl
    def router_parse_alert(self, data):
        if isinstance(data, dict) and "signal" in data:
            return {"ticker": data["pair"], "action": "buy" if data["signal"] == "long"
                    else "sell"}
        return None


class _Nameless:
    @hookimpl
    def router_parse_alert(self, raw):
        return None


def test_third_party_dialects_are_tried_and_listed() -> None:
    plugins = make_plugin_manager(enabled=[], extra=[("signal", _Signal()),
                                                     ("nameless", _Nameless())])
    assert dialect_names(plugins) == [
        "nameless", "signal-bot", "pickmytrade", "tradingview-strategy", "native"]
    alert = parse_alert(b'{"signal": "long", "pair": "ETHUSD"}', "text/plain", plugins)
    assert (alert.ticker, alert.action.value) == ("ETHUSD", "buy")
    error = refused(b'{"x": 1}', plugins)
    assert error.reason.endswith(
        "tried dialects: nameless, signal-bot, pickmytrade, tradingview-strategy, native")


def test_an_async_dialect_that_does_not_wait_is_read() -> None:
    class Async:
        @hookimpl
        async def router_parse_alert(self, data):
            return None  # not this dialect's body: the native format reads it

    plugins = make_plugin_manager(enabled=[], extra=[("async", Async())])
    assert parse_alert(BODY, "application/json", plugins).ticker


def test_an_async_dialect_that_waits_is_refused_clearly() -> None:
    import asyncio

    class Waits:
        @hookimpl
        async def router_parse_alert(self, data):
            await asyncio.sleep(0)  # intake is synchronous: a dialect may not do I/O
            return None

    plugins = make_plugin_manager(enabled=[], extra=[("waits", Waits())])
    error = refused(BODY, plugins)
    assert "must not wait" in error.reason


def test_parse_alert_dict_with_and_without_dialects(plugins) -> None:
    assert parse_alert_dict({"ticker": "X", "action": "exit"}).ticker == "X"
    alert = parse_alert_dict({"symbol": "NQ1!", "data": "close", "quantity": 0}, plugins)
    assert alert.action.value == "exit"
    with pytest.raises(AlertError):
        parse_alert_dict({"symbol": "NQ1!", "data": "close"})  # no dialects: unknown fields


def test_parse_cost_is_well_under_a_millisecond(plugins) -> None:
    raw = json.dumps({
        "ticker": "BTCUSD", "action": "buy", "sentiment": "long", "quantity": "0.5",
        "price": "65000.5", "passphrase": "p", "time": "2024-05-01T13:30:00Z",
        "strategy": "s", "orderId": "Long", "takeProfit": {"percent": "2"},
        "stopLoss": {"stopPrice": "64000"}, "accounts": ["a", {"account": "b",
                                                                "multiplier": "2"}],
    }).encode()
    runs = 500
    best = min(timeit.repeat(lambda: parse_alert(raw, "application/json", plugins),
                             number=runs, repeat=3)) / runs
    assert best < 0.001, f"{best * 1e6:.0f} us per alert"


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_validate_reports_each_file(tmp_path, capsys) -> None:
    from router_core.cli import main

    good = ROOT / "schemas" / "examples" / "valid" / "buy_market.json"
    bad = ROOT / "schemas" / "examples" / "invalid" / "quantity_zero.json"
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"ok {good}: buy 0.01 BTCUSD market\n"
    assert main(["validate", str(good), str(bad), str(tmp_path / "missing.json")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"error {bad}: quantity: must be greater than 0, got 0"
    assert lines[2].startswith(f"error {tmp_path / 'missing.json'}: cannot read")


@pytest.mark.slow
def test_cli_validate_reads_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from router_core.cli import main; "
         "sys.exit(main(['validate', '-']))"],
        input=b'{"ticker": "ETHUSD", "action": "sell", "sentiment": "flat"}',
        capture_output=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode() == "ok -: sell ETHUSD sentiment=flat market\n"


def test_intake_imports_no_web_stack_and_no_plugins() -> None:
    code = ("import sys, router_core.intake; "
            "print(','.join(m for m in ('fastapi', 'router_core.plugins', 'pluggy', 'httpx') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          check=True)
    assert done.stdout.decode().strip() == ""


@pytest.mark.parametrize("raw", [
    b'{"ticker": "X", "action": "buy", "bad\\nkey": 1}',
    b'{"symbol": "X", "data": "buy", "quantity": 1, "bad\\nkey": 1}',
    b'{"market_position": "long", "action": "buy", "order": {"x\\ny": 1}}',
    b'{"market_position": "long", "action": "buy", "contracts": 1, "ticker": {"a\\nb": "{{x}}"}}',
], ids=["native", "pickmytrade", "tradingview-order", "placeholder-path"])
def test_hostile_keys_never_break_the_error_line(raw: bytes, plugins) -> None:
    from router_core.alert import alert_errors

    error = refused(raw, plugins)
    assert "\n" not in str(error)
    assert all("\n" not in str(e) for e in alert_errors(error))
    assert "\\n" in error.field
