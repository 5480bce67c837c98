"""``alert-router check-config``: every error, one line each, naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_core.cli import main
from router_core.cli.check_config import check

ROOT = Path(__file__).resolve().parents[1]

KRAKEN_ENV = {
    "ALERT_ROUTER_PASSPHRASE": "pp-value-1", "ALERT_ROUTER_ADMIN_TOKEN": "admin-value-2",
    "KRAKEN_API_KEY": "key-value-3", "KRAKEN_API_SECRET": "secret-value-4",
    "KRAKEN_FUTURES_API_KEY": "fkey-value-5", "KRAKEN_FUTURES_API_SECRET": "fsecret-value-6",
}
PROPFIRM_ENV = {  # examples/propfirm.toml's Tradovate and TradeLocker accounts
    "TRADOVATE_USERNAME": "tv-user", "TRADOVATE_PASSWORD": "tv-password-7",
    "TRADOVATE_CID": "42", "TRADOVATE_SEC": "tv-sec-8",
    "TRADELOCKER_EMAIL": "tl@example.invalid", "TRADELOCKER_PASSWORD": "tl-password-9",
}

BAD = """
[router]
state_dir = 5
bogus = 1

[server]
port = 70000
ip_allowlist = "everyone"

[defaults]
quantity = -1
accounts = ["ghost"]

[accounts.k]
broker = "kraken-spot"
tier = "gold"
api_key = "pasted-secret-value-0xdeadbeef"
deadline_seconds = 2
multiplier = 0
base_url = "http://example.com"

[accounts.f]
broker = "kraken-futures"
environment = "prod"

[accounts.u]
broker = "no-such-broker"

[accounts.t]
broker = "tradovate"
"""


def _write(tmp_path: Path, text: str, name: str = "router.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run(capsys, argv: list[str], monkeypatch=None, env: dict | None = None):
    if monkeypatch is not None:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_reports_every_error_with_file_key_and_reason(tmp_path, capsys):
    path = _write(tmp_path, BAD)

    code, out = _run(capsys, ["check-config", "--config", str(path)])

    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("error: ")]
    expected = {
        "router.bogus": "unknown key",
        "router.state_dir": "must be a string",
        "server.port": "must be <= 65535",
        "server.ip_allowlist": 'must be a list or "tradingview"',
        "defaults.quantity": "must be > 0",
        "defaults.accounts.0": "names an account that is not configured: 'ghost'",
        "accounts.k.multiplier": "must be > 0",
        "accounts.k.api_key": "unknown key",
        "accounts.k.tier": 'must be one of: "starter", "intermediate", "pro"',
        "accounts.k.deadline_seconds": "must be >= 5",
        "accounts.k.base_url": "must be an https:// URL",
        "accounts.f.environment": 'must be one of: "live", "demo"',
        "accounts.u.broker": "no broker named 'no-such-broker' is installed",
        "accounts.t.app_id": "required key is missing",
    }
    for key, reason in expected.items():
        matching = [line for line in lines if line.startswith(f"error: {path}: {key}: ")]
        assert len(matching) == 1, (key, lines)
        assert reason in matching[0], (key, matching[0])
    assert len(lines) == len(expected), lines
    assert f"{path}: {len(expected)} error(s)" in out
    # a value found in the file is never printed back (it may be a misplaced secret)
    assert "pasted-secret-value" not in out
    assert "Traceback" not in out


def test_a_valid_config_with_its_environment_is_ok(tmp_path, capsys, monkeypatch):
    code, out = _run(capsys, ["check-config", "-c", str(ROOT / "examples" / "kraken.toml")],
                     monkeypatch, KRAKEN_ENV)
    assert code == 0, out
    assert out.strip().endswith("kraken.toml: OK")
    assert "account kraken-spot: broker kraken-spot, live; credentials set: KRAKEN_API_KEY, " \
           "KRAKEN_API_SECRET" in out
    for value in KRAKEN_ENV.values():
        assert value not in out


def test_unset_credential_variables_are_named_never_valued(tmp_path, capsys, monkeypatch):
    env = dict(KRAKEN_ENV)
    del env["KRAKEN_API_SECRET"], env["ALERT_ROUTER_ADMIN_TOKEN"]
    monkeypatch.delenv("KRAKEN_API_SECRET", raising=False)
    monkeypatch.delenv("ALERT_ROUTER_ADMIN_TOKEN", raising=False)
    path = ROOT / "examples" / "kraken.toml"

    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch, env)

    assert code == 1
    assert (f"error: {path}: accounts.kraken-spot.api_secret_env: environment variable "
            "KRAKEN_API_SECRET is not set") in out
    assert (f"error: {path}: server.admin_token_env: environment variable "
            "ALERT_ROUTER_ADMIN_TOKEN is not set") in out
    assert "2 error(s)" in out
    for value in env.values():
        assert value not in out


def test_live_account_without_any_webhook_secret_is_an_error(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, '[accounts.k]\nbroker = "kraken-spot"\n')
    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch,
                     {"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "s"})
    assert code == 1
    assert f"error: {path}: server.passphrase_env: live account(s) k but nothing guards" in out


def test_live_account_guarded_only_by_a_route_token_is_a_warning(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, '[server.route_tokens_env]\nmain = "ROUTE_TOKEN"\n\n'
                  '[accounts.k]\nbroker = "kraken-spot"\n')
    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch,
                     {"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "s", "ROUTE_TOKEN": "t"})
    assert code == 0, out
    assert f"warning: {path}: server.passphrase_env: live account(s) k with no webhook " \
           "passphrase configured" in out
    assert "OK with 1 warning(s)" in out


def test_paper_and_demo_accounts_need_no_passphrase(tmp_path, capsys, monkeypatch):
    # simulated brokers (paper; Kraken Futures on its demo host) are not live accounts
    path = _write(tmp_path, '[accounts.p]\nbroker = "paper"\n\n'
                  '[accounts.f]\nbroker = "kraken-futures"\nenvironment = "demo"\n')
    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch,
                     {"KRAKEN_FUTURES_API_KEY": "k", "KRAKEN_FUTURES_API_SECRET": "s"})
    assert code == 0, out
    assert "passphrase" not in out


def test_validate_only_account_is_live_keyed_and_needs_a_passphrase(tmp_path, capsys,
                                                                    monkeypatch):
    # validate = true sends nothing, but with live keys: only the broker's `simulated` flag
    # makes an account not live, never the name of a setting
    path = _write(tmp_path, '[accounts.k]\nbroker = "kraken-spot"\nvalidate = true\n')
    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch,
                     {"KRAKEN_API_KEY": "k", "KRAKEN_API_SECRET": "s"})
    assert code == 1, out
    assert "server.passphrase_env: live account(s) k but nothing guards the webhook" in out


def test_stub_and_disabled_accounts_only_warn_about_credentials(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, '[accounts.rithmic-eval]\nbroker = "rithmic"\n'
                  'gateway_url = "wss://rithmic.example/gateway"\n'
                  'system_name = "Rithmic Paper Trading"\napp_name = "alert-router"\n\n'
                  '[accounts.topstep]\nbroker = "projectx"\nenabled = false\n')
    for name in ("RITHMIC_USERNAME", "PROJECTX_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, out = _run(capsys, ["check-config", "-c", str(path)], monkeypatch, {})
    assert code == 0, out
    assert ("warning: " f"{path}: accounts.rithmic-eval.username_env: environment variable "
            "RITHMIC_USERNAME is not set (rithmic is a stub") in out
    assert "accounts.topstep.api_key_env: environment variable PROJECTX_API_KEY is not set " \
           "(the account is disabled)" in out


def test_passphrase_file_must_exist_and_hold_something(tmp_path, capsys):
    path = _write(tmp_path, '[server]\npassphrase_file = "pp.txt"\n\n'
                  '[accounts.p]\nbroker = "paper"\n')
    code, out = _run(capsys, ["check-config", "-c", str(path)])
    assert code == 1
    assert "server.passphrase_file: cannot read" in out

    (tmp_path / "pp.txt").write_text("  \n")
    code, out = _run(capsys, ["check-config", "-c", str(path)])
    assert code == 1
    assert "server.passphrase_file: the passphrase file" in out and "is empty" in out

    (tmp_path / "pp.txt").write_text("a-passphrase-value\n")
    code, out = _run(capsys, ["check-config", "-c", str(path)])
    assert code == 0, out
    assert "a-passphrase-value" not in out


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("[accounts.a\n", "", "not valid TOML"),
    ('[router]\nplugins = ["not-a-plugin"]\n[accounts.a]\nbroker = "paper"\n', "router.plugins",
     "not-a-plugin"),
    ("[server]\n", "accounts", "required key is missing"),
    ("[accounts]\n", "accounts", "at least one [accounts.NAME] table is required"),
    ('[accounts.a]\nbroker = "paper"\n[routr]\n', "routr", "unknown key"),
    ('[accounts.a]\nbroker = "paper"\n[accounts.a.risk]\nmax_positon = "1"\n',
     "accounts.a.risk.max_positon", "unknown key"),
    ('[accounts.a]\nbroker = "paper"\nquantity_type = "lots"\n', "accounts.a.quantity_type",
     'must be one of: "fixed_quantity"'),
    ('[accounts.a]\nbroker = "paper"\nfill_price = "abc"\n', "accounts.a.fill_price",
     "must be a decimal number"),
    ('[accounts.a]\nbroker = "kraken-futures"\nprocess_before_seconds = 0\n',
     "accounts.a.process_before_seconds", "must be > 0"),
    ('[accounts.a]\nbroker = "projectx"\ngateway = "custom"\n', "accounts.a",
     "gateway 'custom' needs base_url"),
])
def test_single_mistakes(tmp_path, text, key, reason):
    path = _write(tmp_path, text)
    report = check(path, {})
    errors = [f for f in report.findings if f.level == "error"]
    assert errors, report
    first = errors[0]
    assert (first.file, first.key) == (str(path), key), errors
    assert reason in first.reason, errors


def test_missing_file(tmp_path, capsys):
    code, out = _run(capsys, ["check-config", "-c", str(tmp_path / "nope.toml")])
    assert code == 1
    assert f"error: {tmp_path / 'nope.toml'}: file not found" in out


def test_embedded_default_is_ok(capsys):
    code, out = _run(capsys, ["check-config"])
    assert code == 0
    assert "the embedded default config: OK" in out


@pytest.mark.parametrize("name", ["paper.toml", "propfirm.toml", "kraken.toml"])
def test_every_example_passes_with_its_environment(name, capsys, monkeypatch):
    env = {**KRAKEN_ENV, **PROPFIRM_ENV}
    code, out = _run(capsys, ["check-config", "-c", str(ROOT / "examples" / name)],
                     monkeypatch, env)
    assert code == 0, out


def test_the_dashboard_metrics_and_plugin_settings_variables_must_be_set(tmp_path: Path) -> None:
    path = _write(tmp_path, """
[dashboard]
password_env = "ROUTER_DASH_PASSWORD"

[metrics]
token_env = "ROUTER_METRICS_TOKEN"

[plugins.notify]
urls_env = ["ROUTER_NOTIFY_URL"]

[accounts.paper]
broker = "paper"
""")
    lines = [str(f) for f in check(path, {}).findings]
    assert f"error: {path}: dashboard.password_env: environment variable ROUTER_DASH_PASSWORD " \
        "is not set" in lines
    assert f"error: {path}: metrics.token_env: environment variable ROUTER_METRICS_TOKEN " \
        "is not set" in lines
    assert f"error: {path}: plugins.notify.urls_env.0: environment variable ROUTER_NOTIFY_URL " \
        "is not set" in lines
    env = {"ROUTER_DASH_PASSWORD": "a-long-dashboard-password",
           "ROUTER_METRICS_TOKEN": "t" * 24, "ROUTER_NOTIFY_URL": "json://127.0.0.1:9/x"}
    assert check(path, env).findings == []


def test_a_bad_plugin_settings_table_is_reported_with_its_key(tmp_path: Path) -> None:
    path = _write(tmp_path, """
[plugins.notify]
level = "sometimes"

[plugins.nosuchplugin]
x = 1

[accounts.paper]
broker = "paper"
""")
    lines = [str(f) for f in check(path, {}).findings]
    assert any(line.startswith(f"error: {path}: plugins.nosuchplugin: no loaded plugin")
               for line in lines), lines
    path.write_text(path.read_text().replace("[plugins.nosuchplugin]\nx = 1\n", ""))
    lines = [str(f) for f in check(path, {}).findings]
    assert any(line.startswith(f"error: {path}: plugins.notify.level:") for line in lines), lines
