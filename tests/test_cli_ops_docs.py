"""docs/operations.md stays in step with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from router_core.cli import build_parser
from router_core.security import TRADINGVIEW_IPS

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def test_kraken_spot_permissions_are_exactly_the_plugins():
    from router_kraken_spot.endpoints import permissions

    row = next(line for line in OPERATIONS.splitlines() if line.startswith("| `kraken-spot` |"))
    documented = set(re.findall(r"\*\*([^*]+)\*\*", row.split("|")[2]))
    needed = {permission.split(": ", 1)[1] for permission in permissions()}
    assert documented == needed


def test_tradingview_addresses_match_the_allowlist_preset():
    for address in TRADINGVIEW_IPS:
        # the text, the nginx example and the Caddy example
        assert OPERATIONS.count(address) >= 3, address


def test_the_commands_it_names_exist():
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    for name in set(re.findall(r"(?:`|^|\$ )alert-router ([a-z-]+)", OPERATIONS, re.M)):
        assert name in commands, name


def test_the_server_keys_it_names_exist():
    from router_core.config import ServerConfig

    for key in ("passphrase_env", "passphrase_file", "ip_allowlist", "trusted_proxies",
                "hmac_secrets_env", "max_body_bytes", "max_lag_seconds", "admin_token_env"):
        assert key in ServerConfig.model_fields
        assert f"{key}" in OPERATIONS
