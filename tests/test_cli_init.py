"""``alert-router init``: a commented starter config that check-config accepts, never
overwritten without --force."""

from __future__ import annotations

import json
import tomllib

import pytest

from router_core.cli import main
from router_core.cli.init import DEFAULT_PATH, PASSPHRASE_ENV

ENV = ("ALERT_ROUTER_PASSPHRASE", "KRAKEN_API_KEY", "KRAKEN_API_SECRET")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_init_writes_the_default_file_and_prints_next_steps(tmp_path, capsys,
                                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / DEFAULT_PATH
    assert path.is_file()
    for step in (f"export {PASSPHRASE_ENV}=", f"alert-router check-config --config {DEFAULT_PATH}",
                 "alert-router template --kind strategy",
                 f"alert-router serve --config {DEFAULT_PATH}", "KRAKEN_API_KEY"):
        assert step in out, step


def test_the_written_config_passes_check_config(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "router.toml"
    assert main(["init", str(path)]) == 0
    capsys.readouterr()
    monkeypatch.setenv(PASSPHRASE_ENV, "a-long-random-passphrase")
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"{path}: OK with 2 warning(s)")  # the disabled Kraken keys
    assert "account kraken: broker kraken-spot, disabled" in out


def test_without_the_passphrase_variable_only_that_is_reported(tmp_path, capsys) -> None:
    path = tmp_path / "router.toml"
    assert main(["init", str(path)]) == 0
    capsys.readouterr()
    assert main(["check-config", "--config", str(path)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("error")]
    assert errors == [f"error: {path}: server.passphrase_env: environment variable "
                      f"{PASSPHRASE_ENV} is not set"]


def test_the_config_is_safe_by_default(tmp_path) -> None:
    path = tmp_path / "router.toml"
    assert main(["init", str(path)]) == 0
    text = path.read_text()
    data = tomllib.loads(text)
    assert data["server"]["passphrase_env"] == PASSPHRASE_ENV
    assert data["defaults"]["accounts"] == ["paper"]
    assert data["accounts"]["paper"]["broker"] == "paper"
    kraken = data["accounts"]["kraken"]
    assert kraken["broker"] == "kraken-spot"
    assert kraken["enabled"] is False and kraken["validate"] is True
    assert (kraken["api_key_env"], kraken["api_secret_env"]) == ("KRAKEN_API_KEY",
                                                                  "KRAKEN_API_SECRET")
    assert kraken["risk"]["max_order_notional"] and kraken["risk"]["max_orders_per_minute"]
    assert data["accounts"]["paper"]["risk"]
    assert not any(key in kraken for key in ("api_key", "api_secret", "secret"))
    assert text.count("\n#") > 10  # commented


def test_an_existing_file_is_not_overwritten_without_force(tmp_path, capsys) -> None:
    path = tmp_path / "router.toml"
    path.write_text("# mine\n")
    assert main(["init", str(path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert main(["init", str(path), "--force"]) == 0
    assert "[accounts.kraken]" in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router.toml"]  # no temporary left


def test_a_directory_is_refused(tmp_path, capsys) -> None:
    assert main(["init", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_alerts_go_to_the_paper_account(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "conf" / "router.toml"
    path.parent.mkdir()
    assert main(["init", str(path)]) == 0
    capsys.readouterr()
    monkeypatch.setenv(PASSPHRASE_ENV, "a-long-random-passphrase")
    monkeypatch.chdir(tmp_path)
    alert = tmp_path / "alert.json"
    alert.write_text('{"ticker": "BTCUSD", "action": "buy", "quantity": "0.01", '
                     '"price": "50000"}')
    assert main(["send", "--config", str(path), str(alert)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and {leg["account"] for leg in report["legs"]} == {"paper"}
    assert (path.parent / "alert-router-state").is_dir()  # relative to the config file


def test_an_alert_for_the_disabled_kraken_account_is_refused(tmp_path, capsys,
                                                             monkeypatch) -> None:
    path = tmp_path / "router.toml"
    assert main(["init", str(path)]) == 0
    capsys.readouterr()
    alert = tmp_path / "alert.json"
    alert.write_text('{"ticker": "BTCUSD", "action": "buy", "price": "50000", '
                     '"accounts": ["kraken"]}')
    code = main(["send", "--config", str(path), str(alert)])
    out = capsys.readouterr()
    assert code != 0
    assert "disabled" in out.out + out.err
