"""Secrets are never echoed: one canary string, planted everywhere a secret can be, must not
come back out of any command, log line, HTTP answer or journal file.

The canary goes (1) as a *value* into every ``*_env`` setting, where a variable's name belongs
(the config must refuse it without repeating it), (2) into every environment variable the
config names, and (3) into the alert fields that carry a secret (``passphrase``, PickMyTrade's
``token``). Then the CLI (check-config, check-config --online, validate, send, send --dry-run,
journal, serve) runs in-process, and the webhook through its ASGI app, with DEBUG logging on.

tests/test_secrets_in_logs.py follows fresh random secrets through one router flow (venue
errors, ambiguous replies, Kraken Futures); this file covers the commands and the config.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from router_core import make_plugin_manager
from router_core.brokers import BrokerConfig, env_name_reason
from router_core.cli import main
from router_core.cli.check_config import check
from router_core.config import ServerConfig
from router_core.errors import ConfigError
from router_core.security import SIGNATURE_HEADER, WebhookSettings, signature_header
from router_core.testing import serve_fake

# Valid base64 (so it can be the Kraken API secret too) and, for its "+" and "/", never a
# valid environment variable name.
CANARY = "CANARY+s3cr3t/9f8e7d"

# The environment variables the good config names; every one holds the canary.
ENV_NAMES = ("T_PASSPHRASE", "T_ADMIN", "T_HMAC", "T_ROUTE", "T_KR_KEY", "T_KR_SECRET",
             "T_KR_OTP")

CONFIG = """
[router]
state_dir = "state"
reconcile_attempts = 2
reconcile_window_seconds = 0.2

[server]
passphrase_env = "T_PASSPHRASE"
admin_token_env = "T_ADMIN"
hmac_secrets_env = ["T_HMAC"]

[server.route_tokens_env]
main = "T_ROUTE"

[accounts.paper]
broker = "paper"
fill_price = 100

[accounts.kr]
broker = "kraken-spot"
base_url = "{kraken}"
api_key_env = "T_KR_KEY"
api_secret_env = "T_KR_SECRET"
otp_env = "T_KR_OTP"
"""


def _bad_config(kraken: str) -> str:
    """The good config with the canary pasted into every ``*_env`` setting."""
    text = CONFIG.format(kraken=kraken)
    for name in ENV_NAMES:
        text = text.replace(f'"{name}"', f'"{CANARY}"')
    assert CANARY in text and not any(f'"{name}"' in text for name in ENV_NAMES)
    return text


ALERTS: dict[str, dict[str, Any]] = {
    "paper": {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
              "accounts": ["paper"], "id": "canary-paper", "passphrase": CANARY},
    "kraken": {"ticker": "XBTUSD", "action": "buy", "quantity": "0.01", "accounts": ["kr"],
               "id": "canary-kraken", "passphrase": CANARY},
    "invalid": {"ticker": "BTCUSD", "action": "buy", "quantity": "not-a-number",
                "accounts": ["paper"], "passphrase": CANARY},
    "pickmytrade": {"symbol": "BTCUSD", "data": "sell", "quantity": 1, "price": 100,
                    "token": CANARY, "multiple_accounts": [{"account_id": "paper"}]},
}


def _body(name: str, **changes: Any) -> bytes:
    """The named alert as JSON; a change to ``None`` drops the field."""
    body = {**ALERTS[name], **changes}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.fixture(scope="module")
def kraken() -> Iterator[str]:
    """The Kraken spot fake on loopback, keyed with the canary (key and base64 secret), so
    every path (send, dry run, the online check, the webhook) signs with it for real."""
    with serve_fake("router_kraken_spot.fake", "--api-key", CANARY, "--secret", CANARY) as url:
        yield url


@pytest.fixture()
def setup(tmp_path: Path, kraken: str, monkeypatch: pytest.MonkeyPatch,
          caplog: pytest.LogCaptureFixture) -> Path:
    """The configs and alert files in tmp_path, the canary in the environment, DEBUG logs."""
    for name in ENV_NAMES:
        monkeypatch.setenv(name, CANARY)
    (tmp_path / "router.toml").write_text(CONFIG.format(kraken=kraken))
    (tmp_path / "bad.toml").write_text(_bad_config(kraken))
    for name in ALERTS:
        (tmp_path / f"{name}.json").write_bytes(_body(name))
    caplog.set_level(logging.DEBUG)
    for logger in ("httpx", "httpcore", "router_core", "router_paper", "router_kraken_spot",
                   "fastapi", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=logger)
    return tmp_path


def _assert_no_canary(where: str, text: str) -> None:
    assert CANARY not in text, f"the canary secret leaked into {where}:\n{text}"


def _assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged: the log check would prove nothing"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        _assert_no_canary(f"a log record of {record.name}", text)
    _assert_no_canary("the formatted log", caplog.text)


def _assert_state_clean(state_dir: Path) -> None:
    """The journal's SQLite files (and its WAL) and every other state file, as bytes."""
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("journal") for p in files), files
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), f"the canary is in {path}"


# -- 1. a secret pasted into a *_env setting is refused, never repeated -----------------------


class ThirdPartyConfig(BrokerConfig):
    """A plugin that does nothing special: it gets the check from BrokerConfig."""

    token_env: str = "TOKEN"
    keys_env: list[str] = []
    routes_env: dict[str, str] = {}


def _template_config() -> type[BaseModel]:
    """The plugin template's Config, from a plugin ``alert-router new-plugin`` generates."""
    from router_core.cli.new_plugin import scaffold

    home = Path(tempfile.mkdtemp(prefix="alert-router-canary-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    scaffold("canary-venue", home / "alert-router-canary-venue")
    sys.path.insert(0, str(home / "alert-router-canary-venue"))
    from router_canary_venue.broker import CanaryVenueBrokerConfig

    return CanaryVenueBrokerConfig


def _env_fields() -> list[tuple[str, type[BaseModel], str]]:
    models: list[tuple[str, type[BaseModel]]] = [("server", ServerConfig),
                                                 ("third-party", ThirdPartyConfig),
                                                 ("template", _template_config())]
    models += [(name, cls.Config) for name, cls in make_plugin_manager(None).brokers]
    return [(owner, model, field) for owner, model in models
            for field in model.model_fields if field.endswith("_env")]


ENV_FIELDS = _env_fields()


def _planted(model: type[BaseModel], field: str) -> Any:
    """The canary in the shape the field takes: a name, a list of names or a table."""
    annotation = str(model.model_fields[field].annotation)
    if "dict" in annotation:
        return {"main": CANARY}
    if "list" in annotation:
        return ["GOOD_NAME", CANARY]
    return CANARY


def test_every_broker_and_the_server_declare_env_settings() -> None:
    owners = {owner for owner, _, _ in ENV_FIELDS}
    assert {"server", "third-party", "template", "kraken-spot", "kraken-futures",
            "tradovate"} <= owners, owners


@pytest.mark.parametrize(("owner", "model", "field"), ENV_FIELDS,
                         ids=[f"{owner}.{field}" for owner, _, field in ENV_FIELDS])
def test_a_secret_in_an_env_setting_is_refused_without_echo(
        owner: str, model: type[BaseModel], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({field: _planted(model, field)})
    errors = refused.value.errors(include_input=False)
    assert any(e["loc"][:1] == (field,) for e in errors), errors
    _assert_no_canary("the ValidationError", str(refused.value))  # hide_input_in_errors
    _assert_no_canary("the ValidationError", repr(refused.value))


CHECKED = [f for f in ENV_FIELDS if f[0] not in ("third-party", "template")]  # installed


@pytest.mark.parametrize(("owner", "model", "field"), CHECKED,
                         ids=[f"{owner}.{field}" for owner, _, field in CHECKED])
def test_check_config_names_the_env_setting_and_hides_the_value(
        tmp_path: Path, owner: str, model: type[BaseModel], field: str) -> None:
    setting = f"{field} = {_toml(_planted(model, field))}"
    if owner == "server":
        text, key = f"[server]\n{setting}\n[accounts.acct]\nbroker = \"paper\"\n", "server"
    else:
        text, key = f"[accounts.acct]\nbroker = \"{owner}\"\n{setting}\n", "accounts.acct"
    path = tmp_path / "router.toml"
    path.write_text(text)
    findings = check(path, {}).findings
    assert any(f.key == f"{key}.{field}" and f.reason == env_name_reason(field)
               for f in findings), [str(f) for f in findings]
    for finding in findings:
        _assert_no_canary("a check-config finding", str(finding))


def _toml(value: Any) -> str:
    """A string, a list of strings or a table of strings as TOML (JSON quoting is valid)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def test_a_valid_env_name_is_accepted_and_an_overlong_one_refused() -> None:
    accepted = ThirdPartyConfig(token_env="MY_TOKEN", keys_env=["_A1"], routes_env={"r": "B"})
    assert accepted.token_env == "MY_TOKEN"
    with pytest.raises(ValidationError, match="token_env must name an environment variable"):
        ThirdPartyConfig(token_env="A" * 129)


# -- 2. the commands --------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    _assert_no_canary(f"the output of alert-router {' '.join(argv)}", out + err)
    return code, out


@pytest.mark.slow
def test_the_cli_never_prints_the_canary(setup: Path, capsys: pytest.CaptureFixture[str],
                                         caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config, bad = str(setup / "router.toml"), str(setup / "bad.toml")
    alert = {name: str(setup / f"{name}.json") for name in ALERTS}

    # The canary where variable names belong: refused, with the setting named.
    code, out = _run(capsys, "check-config", "-c", bad)
    assert code == 1
    for key in ("server.passphrase_env", "server.admin_token_env", "server.hmac_secrets_env",
                "server.route_tokens_env", "accounts.kr.api_key_env",
                "accounts.kr.api_secret_env", "accounts.kr.otp_env"):
        assert f"{key}: {key.rsplit('.', 1)[1]} must name an environment variable" in out, key
    assert _run(capsys, "check-config", "--online", "-c", bad)[0] == 1
    assert _run(capsys, "send", alert["paper"], "-c", bad)[0] == 2
    assert _run(capsys, "send", "--dry-run", alert["paper"], "-c", bad)[0] == 2
    monkeypatch.setattr("router_core.cli.serve.configure_logging", lambda: None)
    assert _run(capsys, "serve", "-c", bad)[0] == 2  # refused before it binds a port

    # The canary in the environment and in the alerts: everything works, nothing echoes it.
    code, out = _run(capsys, "check-config", "-c", config)
    assert code == 0, out
    assert "credentials set: T_KR_KEY, T_KR_SECRET, T_KR_OTP" in out
    code, out = _run(capsys, "check-config", "--online", "-c", config)
    assert code == 0, out
    code, out = _run(capsys, "validate", *alert.values())
    assert code == 1 and out.count("ok ") == 3 and "error " in out, out
    code, out = _run(capsys, "send", "--dry-run", alert["kraken"], "-c", config)
    assert code == 0, out
    ids = []
    for name in ("paper", "kraken", "pickmytrade"):
        code, out = _run(capsys, "send", alert[name], "-c", config)
        assert code == 0, out
        ids.append(json.loads(out)["alert_id"])
    assert _run(capsys, "send", alert["invalid"], "-c", config)[0] == 2
    assert _run(capsys, "journal", "-c", config)[0] == 0
    assert _run(capsys, "journal", "--json", "-c", config)[0] == 0
    for alert_id in ids:
        code, out = _run(capsys, "journal", alert_id, "-c", config)
        assert code == 0 and alert_id in out

    _assert_logs_clean(caplog)
    _assert_state_clean(setup / "state")


@pytest.mark.parametrize("content", [CANARY.encode() + b"\n", b"\xff" + CANARY.encode()],
                         ids=["text", "not-utf8"])
def test_a_passphrase_file_is_named_never_shown(tmp_path: Path, content: bytes,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "passphrase").write_bytes(content)
    config = tmp_path / "router.toml"
    config.write_text('[server]\npassphrase_file = "passphrase"\n'
                      '[accounts.paper]\nbroker = "paper"\n')
    code, out = _run(capsys, "check-config", "-c", str(config))
    assert code == (0 if content.endswith(b"\n") else 1), out
    assert code == 0 or "passphrase_file: the passphrase file" in out


# -- 3. the webhook ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_the_webhook_never_answers_or_logs_the_canary(
        setup: Path, caplog: pytest.LogCaptureFixture) -> None:
    from router_core.router import Router
    from router_core.server import create_app

    config = setup / "router.toml"
    router = Router.from_config_file(config)
    settings = WebhookSettings.from_config(router.config.server, base_dir=setup,
                                           file=str(config))
    app = create_app(router, settings, purge_interval=3600)
    admin = {"Authorization": f"Bearer {CANARY}"}
    json_type = {"content-type": "application/json"}
    answers: list[httpx.Response] = []
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="http://router",
    ) as client:
        async def post(expected: int, body: bytes, query: str = "",
                       **headers: str) -> httpx.Response:
            answer = await client.post(f"/webhook{query}", content=body,
                                       headers={**json_type, **headers})
            assert answer.status_code == expected, answer.text
            answers.append(answer)
            return answer

        await post(401, _body("paper", passphrase="wrong-" + CANARY))
        await post(401, _body("paper", passphrase=CANARY[:-1]))
        await post(422, _body("invalid"))
        await post(200, _body("paper"), "?dry_run=true", **admin)
        await post(401, _body("paper"), "?dry_run=true", Authorization="Bearer " + CANARY[:-1])
        await post(200, _body("kraken"), "?dry_run=true", **admin)
        done = await post(200, _body("paper"), "?wait=true")
        await post(200, _body("kraken"), "?wait=true")
        await post(200, _body("pickmytrade"), "?wait=true")
        signed = _body("paper", id="canary-signed", passphrase=None)
        await post(200, signed, "?wait=true",
                   **{SIGNATURE_HEADER: signature_header(CANARY, signed)})
        await post(401, signed, **{SIGNATURE_HEADER: signature_header(CANARY[:-1], signed)})

        alert_id = done.json()["alert_id"]
        for path, headers, expected in (("/healthz", {}, 200), ("/alerts", admin, 200),
                                        (f"/alerts/{alert_id}", admin, 200),
                                        ("/alerts", {"Authorization": "Bearer nope"}, 401)):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == expected, (path, answer.text)
            answers.append(answer)

    for answer in answers:
        where = f"the answer to {answer.request.method} {answer.request.url}"
        _assert_no_canary(where, answer.text)
        _assert_no_canary(where + " (headers)", json.dumps(dict(answer.headers)))
    _assert_logs_clean(caplog)
    _assert_state_clean(setup / "state")


def test_the_canary_is_refused_by_load_config_too(tmp_path: Path) -> None:
    """``serve`` and ``send`` load through load_config: one ConfigError, the key named."""
    from router_core.config import load_config

    path = tmp_path / "bad.toml"
    path.write_text(_bad_config("http://127.0.0.1:1"))
    with pytest.raises(ConfigError) as refused:
        load_config(path, make_plugin_manager(None).brokers)
    assert refused.value.key == "server.passphrase_env"
    assert refused.value.reason == env_name_reason("passphrase_env")
    _assert_no_canary("the ConfigError", str(refused.value))
