"""``alert-router template``: every printed message is one the webhook (and ``validate``) takes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.cli.template import KINDS
from router_core.dialects.tradingview import MARKERS
from router_core.placeholders import PASSPHRASE_PLACEHOLDER


def template(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict, str]:
    assert main(["template", *argv]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def validate(capsys: pytest.CaptureFixture[str], path: Path, *argv: str) -> tuple[int, str]:
    code = main(["validate", str(path), *argv])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("options", [[], ["--account", "kraken"],
                                     ["--ticker", "KRAKEN:XBTUSD", "--account", "a",
                                      "--account", "b", "--strategy", "ema-cross"]],
                         ids=["plain", "account", "ticker-accounts"])
def test_every_template_passes_validate(kind, options, tmp_path, capsys) -> None:
    message, _ = template(capsys, "--kind", kind, *options)
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(message))
    code, out = validate(capsys, path)
    assert code == 0, out
    assert out.startswith(f"ok {path}: ")
    # the passphrase placeholder is valid but flagged: it must be replaced
    assert f"warning {path}: passphrase: still '{PASSPHRASE_PLACEHOLDER}'" in out
    if "--account" in options:
        assert "accounts=" in out


@pytest.mark.parametrize("kind", list(KINDS))
def test_templates_carry_ticker_timenow_and_a_passphrase_placeholder(kind, capsys) -> None:
    message, notes = template(capsys, "--kind", kind)
    assert message["passphrase"] == PASSPHRASE_PLACEHOLDER
    assert message["ticker"] == "{{ticker}}"
    assert message["timenow"] == "{{timenow}}"
    assert message["time"] == "{{time}}"
    assert "accounts" not in message
    assert "must match the server's" in notes and "passphrase_env" in notes


def test_the_strategy_template_is_read_by_the_tradingview_dialect(tmp_path, capsys) -> None:
    message, notes = template(capsys, "--kind", "strategy")
    assert message["action"] == "{{strategy.order.action}}"
    assert message["contracts"] == "{{strategy.order.contracts}}"
    assert message["market_position"] == "{{strategy.market_position}}"
    assert message["prev_market_position"] == "{{strategy.prev_market_position}}"
    assert not MARKERS.isdisjoint(message)
    assert "contracts" in notes
    path = tmp_path / "strategy.json"
    path.write_text(json.dumps(message))
    code, out = validate(capsys, path)
    # buy 1 from flat to long 1, by the sample values
    assert code == 0 and f"ok {path}: buy 1 BTCUSD sentiment=long market price=50000" in out


def test_indicator_templates_state_the_direction(capsys) -> None:
    buy, _ = template(capsys, "--kind", "indicator-buy")
    sell, _ = template(capsys, "--kind", "indicator-sell")
    exit_, _ = template(capsys, "--kind", "exit")
    reverse, _ = template(capsys, "--kind", "reverse", "--quantity", "2")
    assert (buy["action"], buy["sentiment"]) == ("buy", "long")
    assert (sell["action"], sell["sentiment"]) == ("sell", "short")
    assert exit_["action"] == "exit" and "sentiment" not in exit_
    assert reverse["action"] == "reverse" and reverse["quantity"] == "2"


def test_account_option_adds_accounts(capsys) -> None:
    message, notes = template(capsys, "--kind", "exit", "--account", "kraken")
    assert message["accounts"] == ["kraken"]
    assert "kraken" in notes


def test_the_output_is_only_the_message(capsys) -> None:
    assert main(["template", "--kind", "indicator-buy"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("{") and out.rstrip().endswith("}")


def test_options_that_make_an_invalid_alert_are_refused(capsys) -> None:
    assert main(["template", "--ticker", "BTC USD"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ticker" in captured.err
    assert main(["template", "--kind", "indicator-buy", "--quantity", "0"]) == 2
    assert "quantity" in capsys.readouterr().err
    assert main(["template", "--kind", "strategy", "--quantity", "1"]) == 2
    assert "contracts" in capsys.readouterr().err


@pytest.mark.slow
def test_template_piped_into_validate() -> None:
    code = "import sys; from router_core.cli import main; sys.exit(main(sys.argv[1:]))"
    made = subprocess.run([sys.executable, "-c", code, "template", "--kind", "strategy"],
                          capture_output=True, timeout=60, check=True)
    checked = subprocess.run([sys.executable, "-c", code, "validate", "-"], input=made.stdout,
                             capture_output=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.decode().startswith("ok -: buy 1 BTCUSD sentiment=long")
