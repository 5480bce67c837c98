"""The JSON Schema of the config file, generated from the pydantic models in ``config``.

``schemas/config.schema.json`` (and its packaged copy ``router_core/schemas/``) is this
module's output; a test fails when the committed files drift from it. Regenerate with
``python -m router_core.config_schema``.

The schema covers what the core owns: ``[router]``, ``[server]``, ``[defaults]`` and the core
keys of every ``[accounts.NAME]`` table. Every other key of an account table belongs to its
broker and is validated by that broker's own schema (``BrokerClass.Config``), which only the
installed plugins know: ``alert-router check-config`` applies both.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from .config import (
    ACCOUNT_KEYS,
    ClusterConfig,
    DashboardConfig,
    Defaults,
    JournalConfig,
    MetricsConfig,
    RouterSettings,
    ServerConfig,
    _AccountCore,
)

SCHEMA_FILE = "config.schema.json"
SCHEMA_ID = "https://alert-router.invalid/schemas/config.schema.json"
BROKER_KEYS_NOTE = (
    "Additional keys are validated by the broker's own schema (the Config of the broker the "
    "account names; see `alert-router check-config` and docs/configuration.md)."
)

PLUGINS_NOTE = (
    "Every [plugins.NAME] table: the settings of the plugin named NAME (see `alert-router "
    "plugins`), validated by that plugin's own model when the router starts."
)
PLUGIN_TABLE_NOTE = (
    "The plugin's own keys (see its README; docs/configuration.md lists the first-party "
    "plugins' keys)."
)

# Why each key exists, in the words an operator needs. Kept here rather than in config.py so
# the models stay short; a test fails when a key of the models has no description.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "RouterSettings": {
        "": "[router]: where state lives and which plugins load.",
        "state_dir": "Directory for the journal, nonce ceilings and other small state files. "
                     "A relative path is relative to the config file.",
        "journal": "Path of the SQLite journal; default: STATE_DIR/journal.sqlite3. Keep it on "
                   "a local disk (WAL does not work over a network file system).",
        "plugins": "Entry-point names of the plugins to load (see `alert-router plugins`); "
                   "omit to load every installed plugin.",
        "reconcile_attempts": "How many times an order with an unknown outcome is looked up by "
                              "its client order id before it is reported absent.",
        "reconcile_window_seconds": "Over how many seconds those look-ups are spread.",
    },
    "ServerConfig": {
        "": "[server]: the webhook (alert-router serve).",
        "host": "Address to listen on. Keep 127.0.0.1 behind a reverse proxy.",
        "port": "TCP port to listen on.",
        "passphrase_env": "Environment variable holding the webhook passphrase; alerts must "
                          "carry it as \"passphrase\" in the body.",
        "passphrase_file": "File holding the webhook passphrase (alternative to "
                           "passphrase_env); a relative path is relative to the config file.",
        "admin_token_env": "Environment variable holding the bearer token for the read-only "
                           "GET /alerts endpoints; unset: those endpoints are closed.",
        "route_tokens_env": "Secret webhook URLs: route name -> environment variable holding "
                            "the token; alerts may then be posted to /webhook/TOKEN.",
        "ip_allowlist": "Addresses or networks allowed to post alerts, or \"tradingview\" for "
                        "TradingView's four published addresses; unset: any address.",
        "trusted_proxies": "Addresses or networks of reverse proxies whose X-Forwarded-For "
                           "header is believed; from any other peer it is ignored.",
        "hmac_secrets_env": "Environment variables holding HMAC secrets for the "
                            "X-Router-Signature header (two during a rotation).",
        "max_body_bytes": "Largest accepted alert body, in bytes (413 above it).",
        "dedup_retention_days": "How long finished alerts are kept for duplicate detection "
                                "and `alert-router journal`.",
        "max_lag_seconds": "Refuse alerts whose time/timenow is older than this many seconds; "
                           "unset: no check.",
    },
    "JournalConfig": {
        "": "[journal]: a PostgreSQL journal several instances can share, in place of the "
            "SQLite file of [router] journal (docs/operations.md). Read at start: a change "
            "needs a restart.",
        "url": "postgresql://USER@HOST:PORT/DATABASE of the journal; unset: the SQLite "
               "journal. Never put the password in it (refused): use password_env, a libpq "
               "service file or ~/.pgpass.",
        "password_env": "Environment variable holding the database user's password; unset: "
                        "libpq finds it (PGPASSWORD, PGSERVICEFILE, ~/.pgpass) or none is "
                        "needed.",
        "connect_timeout_seconds": "How long one connection attempt to the database may "
                                   "take before the journal counts it as unreachable.",
    },
    "DashboardConfig": {
        "": "[dashboard]: the web dashboard served by `alert-router serve` under /.",
        "enabled": "Serve the dashboard (it still needs a password to open: without one it "
                   "stays off and / says how to enable it).",
        "password_env": "Environment variable holding the dashboard login password; unset: "
                        "the [server] admin token opens it. Never the webhook passphrase.",
        "session_hours": "How long a login lasts before the dashboard asks again.",
    },
    "MetricsConfig": {
        "": "[metrics]: GET /metrics in Prometheus text format (docs/metrics.md). Read at "
            "start: a change takes effect after a restart.",
        "enabled": "Serve /metrics (default true); false: /metrics answers 404.",
        "token_env": "Environment variable holding a bearer token every scrape must send "
                     "(Authorization: Bearer TOKEN); unset: only loopback addresses may "
                     "scrape, unless public is true.",
        "public": "Without token_env, answer every address, not only loopback (a private "
                  "network or a firewall must then keep /metrics from the internet).",
    },
    "Defaults": {
        "": "[defaults]: what an alert gets when it does not say.",
        "quantity": "Order quantity when neither the alert nor the account gives one.",
        "quantity_type": "How a quantity is read when neither the alert nor the account says.",
        "reverse": "Whether an opposite signal closes the open position before opening the "
                   "new one (accounts may override).",
        "accounts": "Accounts an alert goes to when it names none; unset: every enabled "
                    "account.",
    },
    "Account": {
        "": "[accounts.NAME]: one account on one venue. Core keys are listed here. "
            + BROKER_KEYS_NOTE,
        "broker": "The broker this account trades on, by name (see `alert-router plugins`).",
        "enabled": "A disabled account keeps its settings but gets no orders.",
        "multiplier": "Every quantity for this account is multiplied by this factor.",
        "reverse": "Overrides [defaults] reverse for this account.",
        "quantity": "Overrides [defaults] quantity for this account.",
        "quantity_type": "Overrides [defaults] quantity_type for this account.",
        "risk": "Pre-trade limits of this account.",
        "position_source": "Cash (spot) accounts only. auto: the position is what this router "
                           "bought for the account and symbol and still holds, counted from "
                           "its own fills and never above the free balance. venue_balance: the "
                           "whole free base balance is the position, so a sell may sell coins "
                           "the router never bought (dangerous on a shared wallet).",
        "leverage": "Leverage for opening orders when the alert gives none. A spot margin "
                    "account needs it (from here or the alert) to open or close positions.",
        "close_fill_timeout_seconds": "Where one order cannot reverse a position, how long "
                                      "the opening order waits for the closing order to fill "
                                      "before it is given up (nothing opened).",
        "on_close_timeout": "What becomes of a closing order that did not fill in time: "
                            "cancel (default) or leave it resting.",
        "cancel_foreign_orders": "Whether exit and reversal also cancel resting orders on the "
                                 "symbol that this router did not place (default: only its "
                                 "own).",
        "spot_tickers_as_perpetual": "Futures accounts: take a spot pair's ticker (KRAKEN:"
                                     "XBTUSD) as the perpetual's, so one alert can go to a spot "
                                     "and a futures account. Off by default: a spot strategy's "
                                     "sell means 'sell what I hold', and on a futures account "
                                     "it would open a short.",
    },
    "ClusterConfig": {
        "": "[cluster]: several `serve` instances on one PostgreSQL journal (docs/operations.md,"
            " \"Several instances\").",
        "enabled": "Run as one instance of a cluster: each API key driven by one instance at a "
                   "time. Unset: on when [journal] url is PostgreSQL, off for SQLite.",
        "instance_id": "This instance's name in logs, /healthz and the lease table; unset: "
                       "hostname-pid.",
        "lease_seconds": "How long an instance's keys stay its own without a heartbeat: after "
                         "a crash, the others take them over this long after its last one.",
        "heartbeat_seconds": "How often an instance renews its lease and balances the keys "
                             "(at most half of lease_seconds).",
        "poll_seconds": "How often work for this instance's keys and results from the others "
                        "are looked for when no notification came (LISTEN/NOTIFY fallback).",
    },
    "RiskLimits": {
        "": "[accounts.NAME.risk]: pre-trade limits; a breach places nothing. Unset: no limit.",
        "max_order_notional": "Largest value of one order, in the quote currency.",
        "max_position": "Largest absolute position per symbol after an order, in units.",
        "max_orders_per_minute": "Most orders this account may send in any 60 seconds.",
        "daily_loss_limit": "Realised loss per UTC day after which new orders are denied "
                            "(persisted in the journal).",
    },
}

_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("router", RouterSettings),
    ("server", ServerConfig),
    ("defaults", Defaults),
    ("metrics", MetricsConfig),
    ("dashboard", DashboardConfig),
    ("journal", JournalConfig),
    ("cluster", ClusterConfig),
)


def config_json_schema() -> dict[str, Any]:
    """The schema of the config file (draft 2020-12)."""
    definitions: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for section, model in _SECTIONS:
        properties[section] = {"$ref": f"#/$defs/{_model_schema(model, definitions)}"}
    account_name = _model_schema(_AccountCore, definitions, name="Account")
    account = definitions[account_name]
    # The core keys are checked here; every other key is the broker's.
    account["additionalProperties"] = {"description": BROKER_KEYS_NOTE}
    assert set(account["properties"]) == ACCOUNT_KEYS, "ACCOUNT_KEYS and _AccountCore differ"
    properties["accounts"] = {
        "type": "object",
        "description": "Every [accounts.NAME] table: one account on one venue.",
        "minProperties": 1,
        "additionalProperties": {"$ref": f"#/$defs/{account_name}"},
    }
    properties["plugins"] = {
        "type": "object",
        "description": PLUGINS_NOTE,
        "additionalProperties": {"type": "object", "description": PLUGIN_TABLE_NOTE},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "alert-router config file (TOML)",
        "description": "The config file of alert-router. Secrets are never written in it: "
                       "keys ending in _env name the environment variable that holds them.",
        "type": "object",
        "additionalProperties": False,
        "required": ["accounts"],
        "properties": properties,
        "$defs": dict(sorted(definitions.items())),
    }


def _model_schema(model: type[BaseModel], definitions: dict[str, Any],
                  name: str | None = None) -> str:
    """Add ``model`` (and the models it uses) to ``definitions``; return its name there."""
    schema = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    for nested_name, nested in schema.pop("$defs", {}).items():
        definitions[nested_name] = _describe(nested_name, nested)
    name = name or model.__name__
    schema["title"] = name
    definitions[name] = _describe(name, schema)
    return name


def _describe(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    texts = DESCRIPTIONS.get(name, {})
    if "" in texts:
        schema["description"] = texts[""]
    for key, prop in schema.get("properties", {}).items():
        if key in texts:
            prop["description"] = texts[key]
    return schema


def undescribed_keys() -> list[str]:
    """Keys of the models without a description (a test keeps this empty)."""
    schema = config_json_schema()
    missing = []
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{name}.{key}")
    return missing


def config_json_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"


def packaged_schema() -> dict[str, Any]:
    """The committed schema as installed with the package (what ``check-config`` applies)."""
    from importlib.resources import files

    try:
        text = files("router_core").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    except (FileNotFoundError, OSError):
        return config_json_schema()
    return dict(json.loads(text))


def write_config_schema(root: str = ".") -> list[str]:
    """Regenerate the committed schema files under ``root`` (repository and packaged copy)."""
    from .schema_files import write_schema_files

    return write_schema_files(SCHEMA_FILE, config_json_schema_text(), root)


if __name__ == "__main__":  # python -m router_core.config_schema: regenerate the schema files
    for path in write_config_schema():
        print("wrote", path)
