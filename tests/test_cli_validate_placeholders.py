"""``alert-router validate`` on messages as typed into TradingView: placeholders filled with
sample values, unknown ones named, other tools' messages recognised, ``--plan``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.placeholders import (
    PASSPHRASE_PLACEHOLDER,
    SAMPLE_VALUES,
    foreign_format,
    render,
    unknown_reason,
)

STRATEGY = {
    "passphrase": "s3cret-passphrase",
    "ticker": "{{ticker}}",
    "action": "{{strategy.order.action}}",
    "contracts": "{{strategy.order.contracts}}",
    "market_position": "{{strategy.market_position}}",
    "prev_market_position": "{{strategy.prev_market_position}}",
    "market_position_size": "{{strategy.market_position_size}}",
    "prev_market_position_size": "{{strategy.prev_market_position_size}}",
    "price": "{{strategy.order.price}}",
    "order_id": "{{strategy.order.id}}",
    "time": "{{time}}",
    "timenow": "{{timenow}}",
}
TV_DEFAULT = ("{{strategy.order.action}} @ {{strategy.order.contracts}} filled on {{ticker}}. "
              "New strategy position is {{strategy.position_size}}")


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str | dict,
          *argv: str) -> tuple[int, str]:
    path = tmp_path / "alert.txt"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    code = main(["validate", str(path), *argv])
    out = capsys.readouterr().out.replace(str(path), "F")
    return code, out


# --- rendering -------------------------------------------------------------------------------


def test_render_fills_known_placeholders_with_the_documented_samples() -> None:
    now = datetime(2024, 5, 1, 13, 37, 42, tzinfo=UTC)
    rendering = render('{"t": "{{ticker}}", "c": {{close}}, "n": "{{timenow}}", '
                       '"b": "{{time}}", "p": "{{plot_3}}", "q": "{{plot("RSI")}}"}', now=now)
    assert json.loads(rendering.text) == {
        "t": "BTCUSD", "c": 50000, "n": "2024-05-01T13:37:42Z", "b": "2024-05-01T13:00:00Z",
        "p": "50000", "q": "50000"}
    assert list(rendering.used) == ["ticker", "close", "timenow", "time", "plot_3", 'plot("RSI")']
    assert rendering.unknown == []


def test_the_samples_are_the_documented_ones() -> None:
    assert SAMPLE_VALUES["ticker"] == "BTCUSD"
    assert SAMPLE_VALUES["close"] == "50000"
    assert SAMPLE_VALUES["strategy.order.action"] == "buy"
    assert SAMPLE_VALUES["strategy.order.contracts"] == "1"
    assert SAMPLE_VALUES["strategy.market_position"] == "long"
    assert SAMPLE_VALUES["strategy.prev_market_position"] == "flat"
    doc = (Path(__file__).resolve().parents[1] / "docs" / "alert-format.md").read_text()
    for name in [n for n in SAMPLE_VALUES if not n.startswith("plot_")] + ["plot_0", "plot_19"]:
        assert f"`{{{{{name}}}}}`" in doc, name


def test_timenow_is_now_in_utc() -> None:
    rendering = render("{{timenow}}")
    moment = datetime.strptime(rendering.text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)


def test_unknown_placeholders_stay_and_are_named() -> None:
    rendering = render("{{foo}} {{ticker}} {{foo}} {{Ticker}} {{ close }}")
    assert rendering.text == "{{foo}} BTCUSD {{foo}} {{Ticker}} {{ close }}"
    assert rendering.unknown == ["foo", "Ticker", " close "]
    assert unknown_reason("foo") == "unknown placeholder {{foo}}: TradingView will not fill it"
    assert "write {{ticker}}" in unknown_reason("Ticker")
    assert "write {{close}}" in unknown_reason(" close ")
    assert "did you mean {{strategy.order.contracts}}?" in unknown_reason(
        "strategy.order.contract")
    assert "build the value in Pine" in unknown_reason("syminfo.currency")


# --- validate ----------------------------------------------------------------------------


def test_a_strategy_message_with_placeholders_passes(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, STRATEGY)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "ok F: buy 1 BTCUSD sentiment=long market price=50000"
    assert lines[1].startswith("  with sample values: {{ticker}}=BTCUSD, "
                               "{{strategy.order.action}}=buy")
    assert "{{strategy.prev_market_position}}=flat" in lines[1]
    assert "s3cret" not in out


def test_placeholders_render_as_text_so_unquoted_numbers_work(tmp_path, capsys) -> None:
    body = ('{"ticker": "{{ticker}}", "action": "buy", "quantity": {{strategy.order.contracts}},'
            ' "price": {{close}}}')
    code, out = check(tmp_path, capsys, body)
    assert code == 0 and out.startswith("ok F: buy 1 BTCUSD market price=50000")


def test_set_changes_one_sample(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, STRATEGY,
                      "--set", "strategy.order.action=sell",
                      "--set", "strategy.market_position=short",
                      "--set", "strategy.prev_market_position=long",
                      "--set", "strategy.order.contracts=2",
                      "--set", "strategy.prev_market_position_size=1")
    assert code == 0, out
    assert out.startswith("ok F: sell 1 BTCUSD sentiment=short")  # a reversal to short 1


def test_set_refuses_an_unknown_name(tmp_path, capsys) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(STRATEGY))
    assert main(["validate", str(path), "--set", "strategy.foo=1"]) == 2
    assert "--set" in capsys.readouterr().err


def test_an_unknown_placeholder_is_reported_by_name(tmp_path, capsys) -> None:
    body = {"ticker": "{{ticker}}", "action": "buy", "strategy": "{{strategy.name}}"}
    code, out = check(tmp_path, capsys, body)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == ("error F: unknown placeholder {{strategy.name}}: TradingView will not "
                        "fill it")
    # and the body is then read as the webhook would get it: with the placeholder left in
    assert "error F: strategy: placeholder was not rendered by TradingView" in lines
    assert not any(line.startswith("ok ") for line in lines)


def test_an_unknown_placeholder_in_a_free_field_still_fails(tmp_path, capsys) -> None:
    body = {"ticker": "{{ticker}}", "action": "buy", "extras": {"note": "{{foo}}"}}
    code, out = check(tmp_path, capsys, body)
    assert code == 1 and "unknown placeholder {{foo}}" in out and "ok F" not in out


def test_tradingviews_default_strategy_message_gets_a_hint(tmp_path, capsys) -> None:
    for body in (TV_DEFAULT, "buy @ 1 filled on BTCUSD. New strategy position is 1"):
        code, out = check(tmp_path, capsys, body)
        assert code == 1
        assert "error F: body: not valid JSON" in out
        assert ("hint F: this is TradingView's default strategy message; alert-router needs "
                "JSON: run `alert-router template --kind strategy`") in out


@pytest.mark.parametrize(("body", "expected"), [
    ({"message_type": "bot", "bot_id": 1234567, "email_token": "abcd-ef",
      "delay_seconds": 0}, "this is a 3Commas bot message (message_type, bot_id, email_token"),
    ({"action": "enter_long", "ticker": "{{ticker}}", "price": "{{close}}"},
     '"action": "enter_long" is a 3Commas signal-bot action; alert-router\'s is "action": '
     '"buy" with "sentiment": "long": run `alert-router template --kind indicator-buy`'),
    ({"action": "exit_short", "ticker": "{{ticker}}"}, "template --kind exit"),
    ({"secret": "x", "max_lag": "300", "timestamp": "{{timenow}}", "trigger_price": "{{close}}",
      "tv_exchange": "{{exchange}}", "tv_instrument": "{{ticker}}",
      "action": "{{strategy.order.action}}", "bot_uuid": "0000-1111",
      "strategy_info": {"market_position": "{{strategy.market_position}}",
                        "market_position_size": "{{strategy.market_position_size}}",
                        "prev_market_position": "{{strategy.prev_market_position}}",
                        "prev_market_position_size": "{{strategy.prev_market_position_size}}"},
      "order": {"amount": "{{strategy.order.contracts}}", "currency_type": "base"}},
     "this is a 3Commas signal-bot message (secret, bot_uuid, max_lag); remove"),
], ids=["dca-bot", "signal-enter-long", "signal-exit-short", "signal-strategy"])
def test_three_commas_bodies_get_a_hint(body, expected, tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, body)
    assert code == 1
    hints = [line for line in out.splitlines() if line.startswith("hint F: ")]
    assert len(hints) == 1 and expected in hints[0], out


def test_no_hint_for_a_plain_mistake() -> None:
    assert foreign_format('{"ticker": "X"}', {"ticker": "X"}) is None
    assert foreign_format("hello", None) is None


def test_an_alertatron_command_gets_a_hint(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, "MyKeys(XBTUSD) { market(side=buy, amount=1); }")
    assert code == 1 and "hint F: this is an Alertatron command" in out


def test_a_message_that_is_only_the_alert_message_placeholder(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, "{{strategy.order.alert_message}}\n")
    assert code == 1 and "alert_message text of your Pine strategy" in out


def test_the_passphrase_placeholder_is_a_warning_not_an_error(tmp_path, capsys) -> None:
    body = {"ticker": "BTCUSD", "action": "exit", "passphrase": PASSPHRASE_PLACEHOLDER}
    code, out = check(tmp_path, capsys, body)
    assert code == 0
    assert out.splitlines() == [
        "ok F: exit BTCUSD market",
        f"warning F: passphrase: still '{PASSPHRASE_PLACEHOLDER}': put your webhook passphrase "
        "here (the value of the server's passphrase_env; the webhook refuses any other)",
    ]


def test_a_body_without_placeholders_prints_one_line(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, {"ticker": "BTCUSD", "action": "buy", "quantity": "1"})
    assert (code, out) == (0, "ok F: buy 1 BTCUSD market\n")


def test_a_body_over_the_webhook_limit_is_refused(tmp_path, capsys) -> None:
    body = {"ticker": "BTCUSD", "action": "buy", "extras": {"pad": "x" * 70_000}}
    code, out = check(tmp_path, capsys, body)
    assert code == 1 and "above the webhook's default max_body_bytes" in out


# --- --plan ------------------------------------------------------------------------------


def test_plan_shows_the_legs_on_a_fresh_paper_account(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written here
    code, out = check(tmp_path, capsys, STRATEGY, "--plan")
    assert code == 0, out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("plan F: "))
    assert "fresh paper account (paper" in lines[start]
    assert lines[start + 1] == "  paper: BTCUSD position 0 -> 1"
    assert lines[start + 2] == "    open: buy 1 market"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alert.txt"]


def test_plan_uses_the_accounts_the_alert_names(tmp_path, capsys) -> None:
    body = {"ticker": "ETHUSD", "action": "sell", "sentiment": "short", "quantity": "2",
            "accounts": ["alice", {"account": "bob", "multiplier": "0.5"}]}
    code, out = check(tmp_path, capsys, body, "--plan")
    assert code == 0, out
    assert "  alice: ETHUSD position 0 -> -2" in out
    assert "  bob: ETHUSD position 0 -> -1" in out


def test_plan_is_not_attempted_for_an_invalid_alert(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, {"ticker": "BTCUSD", "action": "hold"}, "--plan")
    assert code == 1 and "plan" not in out


def test_plan_of_a_refused_intent_says_why(tmp_path, capsys) -> None:
    code, out = check(tmp_path, capsys, {"ticker": "BTCUSD", "action": "reverse"}, "--plan")
    assert code == 0, out  # the message is valid; a flat account has nothing to reverse
    plan = out.split("nothing is sent\n", 1)[1]
    assert re.search(r"flat|nothing|no position", plan, re.I), plan
