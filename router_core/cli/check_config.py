"""``alert-router check-config``: every problem of a config file, one line each.

The file is checked three ways and every error is reported, not just the first: against
``schemas/config.schema.json`` (jsonschema), against the core's pydantic models, and each
account's broker keys against that broker's own schema (``BrokerClass.Config``, as JSON Schema
and as the model). Then ``load_config`` must accept it. Finally the environment: every variable
the config names for a secret must be set (only names are printed, never a value), and live
accounts need a webhook passphrase.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import ValidationError as SchemaError
    from pydantic import BaseModel

    from router_core.config import RouterConfig
    from router_core.plugins import PluginSet

HELP = "check a config file: schema, every broker section, credentials present (names only)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); default: the embedded one-paper-account config")
    parser.add_argument("--online", action="store_true",
                        help="also make one signed read-only call per account (its balance) and "
                        "say whether its keys work")


def run(args: argparse.Namespace) -> int:
    report = check(args.config, os.environ)
    for finding in report.findings:
        print(finding)
    for line in report.notes:
        print(line)
    errors = sum(1 for f in report.findings if f.level == "error")
    warnings = len(report.findings) - errors
    where = args.config or "the embedded default config"
    if errors:
        print(f"{where}: {errors} error(s), {warnings} warning(s)")
        return 1
    if args.online and not _online(args.config):
        print(f"{where}: OK offline, but some accounts' keys do not work (see above)")
        return 1
    print(f"{where}: OK" + (f" with {warnings} warning(s)" if warnings else ""))
    return 0


def _online(path: str | None) -> bool:
    """One verdict line per enabled account; True when every account can trade."""
    import asyncio

    from router_core.config import load_config
    from router_core.credentials import check_configured_accounts
    from router_core.plugins import make_plugin_manager
    from router_core.router import enabled_plugins

    plugins = make_plugin_manager(enabled_plugins(path))
    config = load_config(path, plugins.brokers)
    journal_ok = _journal_online(config)
    checks = asyncio.run(check_configured_accounts(config, plugins, os.environ))
    for check in checks:
        print(f"{'online' if check.state.usable else 'error'}: accounts.{check.line()}")
    return journal_ok and all(check.state.usable for check in checks)


def _journal_online(config: RouterConfig) -> bool:
    """A PostgreSQL journal ([journal] url) must answer: one connection, closed at once."""
    from router_core.errors import RouterError
    from router_core.journal_location import PgTarget

    try:
        target = config.journal_target(os.environ)
        if not isinstance(target, PgTarget):
            return True  # SQLite: a local file, created at start
        target.connect().close()
    except RouterError as exc:
        print(f"error: journal: {exc}")
        return False
    print(f"online: journal (PostgreSQL {target.display}): ok")
    return True


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "error" or "warning"
    file: str | None
    key: str
    reason: str

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{self.level}: {where}: {self.reason}"


@dataclass
class Report:
    findings: list[Finding]
    notes: list[str]


class _Collector:
    """Findings in order, one per key and reason; a key already reported by the schema is not
    reported again by the model (both usually see the same mistake)."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def add(self, key: str, reason: str, level: str = "error") -> None:
        finding = Finding(level, self.file, key, reason)
        if finding not in self.findings:
            self.findings.append(finding)

    def covered(self, key: str) -> bool:
        return any(key == f.key or key.startswith(f.key + ".") or f.key.startswith(key + ".")
                   for f in self.findings if f.level == "error")

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")


def check(path: str | Path | None, environ: Mapping[str, str]) -> Report:
    """Check the config at ``path`` (``None``: the embedded default) against ``environ``."""
    from router_core.config import DEFAULT_CONFIG, read_toml
    from router_core.errors import ConfigError

    file = str(path) if path is not None else None
    out = _Collector(file)
    notes: list[str] = []
    if path is None:
        data: dict[str, Any] = DEFAULT_CONFIG
    else:
        try:
            data = read_toml(Path(path))
        except ConfigError as exc:
            out.add(exc.key or "", exc.reason)
            return Report(out.findings, notes)

    _check_file_schema(data, out)
    plugins = _load_plugins(data, out)
    _check_models(data, plugins, out)
    config = None
    if out.errors == 0 and plugins is not None:
        config = _load(path, data, plugins, out)
    if config is not None and plugins is not None:
        _check_environment(config, plugins, environ, out, notes)
    return Report(_in_file_order(out.findings, data), notes)


def _in_file_order(findings: list[Finding], data: Mapping[str, Any]) -> list[Finding]:
    """Grouped by section, and accounts in the order the file lists them."""
    sections = ["router", "server", "defaults", "accounts"]
    accounts = list(data.get("accounts", {})) if isinstance(data.get("accounts"), dict) else []

    def rank(finding: Finding) -> tuple[int, int]:
        parts = finding.key.split(".")
        section = sections.index(parts[0]) if parts[0] in sections else len(sections)
        account = accounts.index(parts[1]) if section == 3 and len(parts) > 1 and parts[
            1] in accounts else -1
        return section, account

    return sorted(findings, key=rank)


# -- structure ------------------------------------------------------------------------------


def _check_file_schema(data: Mapping[str, Any], out: _Collector) -> None:
    from jsonschema import Draft202012Validator

    from router_core.config_schema import packaged_schema

    validator = Draft202012Validator(packaged_schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        for key, reason in schema_problems(error):
            out.add(key, reason)


def _load_plugins(data: Mapping[str, Any], out: _Collector) -> PluginSet | None:
    from router_core.errors import RouterError
    from router_core.plugins import make_plugin_manager

    router = data.get("router")
    enabled = router.get("plugins") if isinstance(router, dict) else None
    try:
        return make_plugin_manager(enabled if isinstance(enabled, list) else None)
    except RouterError as exc:
        out.add("router.plugins", str(exc))
        return None


def _check_models(data: Mapping[str, Any], plugins: PluginSet | None, out: _Collector) -> None:
    from router_core.config import ACCOUNT_KEYS, Defaults, RouterSettings, ServerConfig
    from router_core.config import _AccountCore as AccountCore
    from router_core.errors import ConfigError

    for section, model in (("router", RouterSettings), ("server", ServerConfig),
                           ("defaults", Defaults)):
        _model_problems(model, data.get(section, {}), section, out)
    accounts = data.get("accounts")
    if not isinstance(accounts, dict):
        return
    for name, table in accounts.items():
        key = f"accounts.{name}"
        if not isinstance(table, dict):
            continue  # the file schema said so already
        core = {k: v for k, v in table.items() if k in ACCOUNT_KEYS}
        broker_part = {k: v for k, v in table.items() if k not in ACCOUNT_KEYS}
        _model_problems(AccountCore, core, key, out)
        broker_name = table.get("broker")
        if plugins is None or not isinstance(broker_name, str):
            continue
        try:
            broker = plugins.brokers.get(broker_name)
        except ConfigError as exc:
            out.add(f"{key}.broker", exc.reason)
            continue
        _check_broker_section(broker.Config, broker_part, key, out)
    defaults = data.get("defaults")
    named = defaults.get("accounts") if isinstance(defaults, dict) else None
    for index, name in enumerate(named if isinstance(named, list) else []):
        if isinstance(name, str) and name not in accounts:
            out.add(f"defaults.accounts.{index}", f"names an account that is not configured: "
                    f"{name!r}")


def _check_broker_section(model: type[BaseModel], section: Mapping[str, Any], key: str,
                          out: _Collector) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(model.model_json_schema())
    for error in validator.iter_errors(section):
        for sub_key, reason in schema_problems(error):
            out.add(f"{key}.{sub_key}" if sub_key else key, reason)
    _model_problems(model, section, key, out)


def _model_problems(model: type[BaseModel], data: Any, section: str, out: _Collector) -> None:
    from pydantic import ValidationError

    from router_core.config import error_reason

    try:
        model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            # Union members add their own names to the location; they are not keys.
            parts = [str(p) for p in error["loc"] if not _is_union_tag(p)]
            key = ".".join([section, *parts]) if parts else section
            if out.covered(key):
                continue
            out.add(key, error_reason(error))


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith(("function-", "lax-", "json-"))
                                      or part in {"decimal", "str", "int", "float", "bool",
                                                  "list[str]", "literal['tradingview']"})


def _load(path: str | Path | None, data: Mapping[str, Any], plugins: PluginSet,
          out: _Collector) -> RouterConfig | None:
    from router_core.config import build_config
    from router_core.errors import ConfigError

    try:
        return build_config(data, plugins.brokers, path=Path(path) if path else None)
    except ConfigError as exc:
        out.add(exc.key or "", exc.reason)
        return None


# -- JSON Schema errors as (key, reason), never echoing a value --------------------------------


def schema_problems(error: SchemaError) -> list[tuple[str, str]]:
    """One or more ``(key, reason)`` for a jsonschema error. Reasons never include the value
    found in the file: a secret pasted in the wrong place must not be printed back."""
    base = ".".join(str(part) for part in error.absolute_path)
    # jsonschema's stubs allow "unset"; an error from iter_errors always has these
    validator, instance = error.validator, error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(schema.get("properties", {}))
        return [(_join(base, k), "unknown key") for k in instance if k not in allowed]
    if validator == "required" and isinstance(instance, dict):
        return [(_join(base, k), "required key is missing") for k in expected
                if k not in instance]
    if validator == "minProperties" and base == "accounts":
        return [(base, "at least one [accounts.NAME] table is required")]
    return [(base, _reason(error))]


def _reason(error: SchemaError) -> str:
    validator = error.validator
    expected: Any = error.validator_value
    field = str(error.absolute_path[-1]) if error.absolute_path else ""
    if field.endswith("_env") and validator in ("pattern", "maxLength"):
        from router_core.brokers import env_name_reason

        return env_name_reason(field)  # a plugin's pattern for a name: the model's own words
    if validator == "type":
        return f"must be {_types(expected)}"
    if validator in ("anyOf", "oneOf"):
        return _union_reason(error)
    if validator == "enum":
        return "must be one of: " + ", ".join(map(_show, expected))
    if validator == "const":
        return f"must be {_show(expected)}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
              "exclusiveMaximum": "<"}
    if validator in bounds:
        return f"must be {bounds[validator]} {_number(expected)}"
    if validator == "minLength":
        return f"must have at least {expected} character(s)"
    if validator == "maxLength":
        return f"must have at most {expected} characters"
    if validator == "pattern" and expected == _DECIMAL_PATTERN:
        return 'must be a decimal number, such as "0.5"'
    if validator == "pattern":
        return f"must match the pattern {expected}"
    if validator == "minItems":
        return f"must have at least {expected} item(s)"
    if validator == "maxItems":
        return f"must have at most {expected} items"
    if validator == "minProperties":
        return f"must have at least {expected} entr{'y' if expected == 1 else 'ies'}"
    return f"fails the schema's {validator} check"


def _union_reason(error: SchemaError) -> str:
    from jsonschema.exceptions import best_match

    # A branch whose type matched failed on something else (a bound, a pattern): say that.
    matched_type = [e for e in error.context or () if e.validator not in ("type", "const")]
    if matched_type:
        best = best_match(matched_type)
        if best is not None:
            return _reason(best)
    types: list[str] = []
    branches: Any = error.validator_value
    for branch in branches:
        types.extend(_branch_types(branch, error))
    return f"must be {' or '.join(dict.fromkeys(types)) or 'of another type'}"


def _branch_types(branch: Mapping[str, Any], error: SchemaError) -> Iterable[str]:
    if "const" in branch:
        return [_show(branch["const"])]
    if "enum" in branch:
        return ["one of: " + ", ".join(map(_show, branch["enum"]))]
    if "type" in branch:
        kind = branch["type"]
        return [_types(kind)] if kind != "null" else []
    if "$ref" in branch:
        try:
            resolved = error._get_resolver().lookup(branch["$ref"]).contents  # type: ignore[attr-defined]
        except Exception:  # an unresolvable reference only makes the message vaguer
            return ["an object"]
        return _branch_types(resolved, error)
    return []


# The pattern pydantic gives a Decimal written as a string.
_DECIMAL_PATTERN = r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$"

_TYPE_WORDS = {"string": "a string", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "object": "a table", "array": "a list",
               "null": "empty"}


def _types(kind: str | list[str]) -> str:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(
        value, bool) else str(value)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


# -- environment --------------------------------------------------------------------------------


def _check_environment(config: RouterConfig, plugins: PluginSet, environ: Mapping[str, str],
                       out: _Collector, notes: list[str]) -> None:
    from router_core.security import live_accounts

    server = config.server
    server_vars: list[tuple[str, str]] = []
    if server.passphrase_env:
        server_vars.append(("server.passphrase_env", server.passphrase_env))
    if server.admin_token_env:
        server_vars.append(("server.admin_token_env", server.admin_token_env))
    server_vars += [(f"server.route_tokens_env.{route}", name)
                    for route, name in server.route_tokens_env.items()]
    server_vars += [(f"server.hmac_secrets_env.{i}", name)
                    for i, name in enumerate(server.hmac_secrets_env)]
    if config.journal.password_env:  # the PostgreSQL journal's password
        server_vars.append(("journal.password_env", config.journal.password_env))
    if config.dashboard.enabled and config.dashboard.password_env:
        server_vars.append(("dashboard.password_env", config.dashboard.password_env))
    if config.metrics.enabled and config.metrics.token_env:
        server_vars.append(("metrics.token_env", config.metrics.token_env))
    for key, name in server_vars:
        if not environ.get(name, "").strip():
            out.add(key, f"environment variable {name} is not set")
    if server.passphrase_file and not server.passphrase_env:
        _check_passphrase_file(config, out)

    _check_plugin_settings(config, plugins, environ, out)
    live = live_accounts(config, plugins)
    for account_name, account in config.accounts.items():
        broker = plugins.brokers.get(account.broker)
        level = "error" if account.enabled and not broker.stub else "warning"
        names = list(credential_variables(account.settings))
        missing = [(field, name) for field, name in names if not environ.get(name, "").strip()]
        for field, name in missing:
            why = ("" if level == "error" else
                   " (the account is disabled)" if not account.enabled else
                   f" ({account.broker} is a stub; needed once it places orders)")
            out.add(f"accounts.{account_name}.{field}",
                    f"environment variable {name} is not set{why}", level)
        kind = ("disabled" if not account.enabled else "live" if account_name in live
                else "stub" if broker.stub else "simulated")
        present = [name for _, name in names if (_, name) not in missing]
        creds = f"; credentials set: {', '.join(present)}" if present else ""
        notes.append(f"account {account_name}: broker {account.broker}, {kind}{creds}")

    has_passphrase = bool(server.passphrase_env or server.passphrase_file)
    if live and not has_passphrase:
        others = bool(server.route_tokens_env or server.hmac_secrets_env)
        accounts = ", ".join(live)
        if others:
            out.add("server.passphrase_env",
                    f"live account(s) {accounts} with no webhook passphrase configured (only "
                    "route tokens or HMAC guard the webhook); set passphrase_env or "
                    "passphrase_file", "warning")
        else:
            out.add("server.passphrase_env",
                    f"live account(s) {accounts} but nothing guards the webhook: no "
                    "passphrase, route token or HMAC secret is configured, so `serve` refuses "
                    "to start; set passphrase_env or passphrase_file")


def _check_plugin_settings(config: RouterConfig, plugins: PluginSet,
                           environ: Mapping[str, str], out: _Collector) -> None:
    """Each ``[plugins.NAME]`` table against its plugin's model, then the variables it names
    (a notifier URL is a secret: only the variable's name is ever printed)."""
    from router_core.config import plugin_settings
    from router_core.errors import RouterError

    loaded = [name for name, _ in plugins.pm.list_name_plugin()]
    try:
        settings = plugin_settings(config, plugins.calls.settings_models(), loaded)
    except RouterError as exc:
        out.add(getattr(exc, "key", None) or "plugins", getattr(exc, "reason", str(exc)))
        return
    for name, model in settings.items():
        for field, variable in credential_variables(model):
            if not environ.get(variable, "").strip():
                out.add(f"plugins.{name}.{field}", f"environment variable {variable} is not set")


def credential_variables(settings: BaseModel) -> Iterable[tuple[str, str]]:
    """``(key, environment variable)`` for every ``*_env`` setting of a broker section."""
    for field, value in settings.model_dump(by_alias=True).items():
        if not field.endswith("_env") or value is None:
            continue
        if isinstance(value, str):
            yield field, value
        elif isinstance(value, list):
            yield from ((f"{field}.{i}", v) for i, v in enumerate(value) if isinstance(v, str))
        elif isinstance(value, dict):
            yield from ((f"{field}.{k}", v) for k, v in value.items() if isinstance(v, str))


def _check_passphrase_file(config: RouterConfig, out: _Collector) -> None:
    path = config.server.passphrase_file
    assert path is not None
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    try:
        if not path.read_text(encoding="utf-8").strip():
            out.add("server.passphrase_file", f"the passphrase file {path} is empty")
    except OSError as exc:
        out.add("server.passphrase_file", f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:  # its text (the secret) is never part of the message
        out.add("server.passphrase_file", f"the passphrase file {path} is not UTF-8 text")
