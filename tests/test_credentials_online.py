"""``check-config --online`` tells a working key from a wrong one, against the Kraken fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from router_kraken_futures.fake import FAKE_API_KEY as FUTURES_KEY
from router_kraken_futures.fake import FAKE_API_SECRET as FUTURES_SECRET
from router_kraken_spot.fake_data import FAKE_API_KEY as SPOT_KEY
from router_kraken_spot.fake_data import FAKE_API_SECRET as SPOT_SECRET

from router_core.cli import main
from router_core.config import load_config
from router_core.credentials import KeyState, check_configured_accounts
from router_core.plugins import make_plugin_manager
from router_core.testing import serve_fake

pytestmark = pytest.mark.slow

RIGHT = {"ROUTER_PASSPHRASE": "a webhook passphrase",
         "KRAKEN_API_KEY": SPOT_KEY, "KRAKEN_API_SECRET": SPOT_SECRET,
         "KRAKEN_FUTURES_API_KEY": FUTURES_KEY, "KRAKEN_FUTURES_API_SECRET": FUTURES_SECRET}
# a well-formed secret that is not the account's: base64 of other bytes
WRONG = {**RIGHT, "KRAKEN_API_SECRET": "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==",
         "KRAKEN_FUTURES_API_SECRET": "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with serve_fake("router_kraken_spot.fake") as spot, \
            serve_fake("router_kraken_futures.fake") as futures:
        path = tmp_path_factory.mktemp("online") / "router.toml"
        path.write_text(f"""
[server]
passphrase_env = "ROUTER_PASSPHRASE"

[accounts.spot]
broker = "kraken-spot"
base_url = "{spot}"

[accounts.futures]
broker = "kraken-futures"
base_url = "{futures}"

[accounts.paper]
broker = "paper"

[accounts.prop]
broker = "rithmic"
gateway_url = "wss://rithmic.example/gateway"
system_name = "Rithmic Paper Trading"
app_name = "alert-router"
""")
        yield path


def verdicts(path: Path, environ: dict[str, str]) -> dict[str, KeyState]:
    plugins = make_plugin_manager()
    loaded = load_config(path, plugins.brokers)
    checks = asyncio.run(check_configured_accounts(loaded, plugins, environ))
    return {check.account: check.state for check in checks}


def test_right_keys_pass_and_wrong_ones_are_named(config: Path) -> None:
    assert verdicts(config, RIGHT) == {
        "spot": KeyState.OK, "futures": KeyState.OK, "paper": KeyState.OK,
        "prop": KeyState.CANNOT_CHECK,
    }
    wrong = verdicts(config, WRONG)
    assert wrong["spot"] is KeyState.REJECTED_KEY
    assert wrong["futures"] is KeyState.REJECTED_KEY
    missing = verdicts(config, {})
    assert missing["spot"] is KeyState.NOT_CONFIGURED


def test_the_command_says_which_account_fails(config: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in WRONG.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", "--online", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "error: accounts.spot (kraken-spot): rejected key" in out
    assert "online: accounts.prop (rithmic): cannot check" in out
    assert WRONG["KRAKEN_API_SECRET"] not in out
    for name, value in RIGHT.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", "--online", "--config", str(config)]) == 0
