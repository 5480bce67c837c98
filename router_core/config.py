"""The config file (TOML): router settings, server, defaults and accounts.

Each account names a broker; every key of the account table that is not one of the core's own
(``ACCOUNT_KEYS``: ``broker``, ``enabled``, ``multiplier``, ``reverse``, ``quantity``,
``quantity_type``, ``risk`` and the order-semantics keys such as ``position_source``) belongs
to the broker and is validated against the broker's ``Config`` model, so a typo is reported
with the file, the key and the reason. Secrets are never written in the file: the file names
the environment variable (or file) that holds them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .brokers import BrokerConfig, BrokerRegistry, check_env_names, env_name_reason
from .errors import ConfigError
from .journal_location import PgTarget, url_problem
from .models import QuantityType

DEFAULT_STATE_DIR = "alert-router-state"
ACCOUNT_KEYS = frozenset(
    {
        "broker", "enabled", "multiplier", "reverse", "quantity", "quantity_type", "risk",
        "position_source", "leverage", "close_fill_timeout_seconds", "on_close_timeout",
        "cancel_foreign_orders", "spot_tickers_as_perpetual",
    }
)


class _Strict(BaseModel):
    # hide_input_in_errors: a ValidationError printed anywhere must not show a pasted secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class RiskLimits(_Strict):
    """Per-account pre-trade limits; ``None`` means no limit."""

    max_order_notional: Decimal | None = Field(None, gt=0)
    max_position: Decimal | None = Field(None, gt=0)
    max_orders_per_minute: int | None = Field(None, gt=0)
    daily_loss_limit: Decimal | None = Field(None, gt=0)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    passphrase_env: str | None = None
    passphrase_file: Path | None = None
    admin_token_env: str | None = None
    route_tokens_env: dict[str, str] = Field(default_factory=dict)  # route name -> env var
    ip_allowlist: list[str] | Literal["tradingview"] | None = None
    trusted_proxies: list[str] = Field(default_factory=list)
    hmac_secrets_env: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(64 * 1024, gt=0, le=1024 * 1024)
    dedup_retention_days: float = Field(7, ge=1)
    max_lag_seconds: float | None = Field(None, gt=0)

    @field_validator("*")
    @classmethod
    def _env_settings_name_variables(cls, value: Any, info: ValidationInfo) -> Any:
        return check_env_names(value, info)  # the same rule as every broker's *_env settings


class JournalConfig(_Strict):
    """``[journal]``: a PostgreSQL journal, which several instances can share, in place of the
    SQLite file of ``[router] journal`` (docs/operations.md, "PostgreSQL journal"). The URL
    carries no password: ``password_env`` names the variable holding it, or libpq finds it (a
    service file, ``~/.pgpass``)."""

    url: str | None = None  # postgresql://user@host:port/database; unset: SQLite
    password_env: str | None = None
    connect_timeout_seconds: int = Field(5, ge=2, le=60)

    @field_validator("*")
    @classmethod
    def _env_settings_name_variables(cls, value: Any, info: ValidationInfo) -> Any:
        return check_env_names(value, info)

    @field_validator("url")
    @classmethod
    def _postgresql_without_password(cls, value: str | None) -> str | None:
        problem = url_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _password_needs_url(self) -> JournalConfig:
        if self.password_env and not self.url:
            raise ValueError("password_env is set but url is not: name the PostgreSQL "
                             "database in url, or remove password_env")
        return self


class ClusterConfig(_Strict):
    """``[cluster]``: several ``serve`` instances sharing one PostgreSQL journal (docs/
    operations.md, "Several instances"). Each API key is driven by one instance at a time
    under a lease the instance renews every ``heartbeat_seconds``; when it stops, another
    takes its keys over once ``lease_seconds`` have passed."""

    enabled: bool | None = None  # None: on when [journal] url is PostgreSQL
    instance_id: str | None = Field(None, min_length=1, max_length=100)  # None: hostname-pid
    lease_seconds: float = Field(5, ge=1, le=300)
    heartbeat_seconds: float = Field(1, gt=0, le=60)
    poll_seconds: float = Field(1, gt=0, le=60)

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> ClusterConfig:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lease_seconds: a "
                             "lease must survive one late heartbeat")
        return self


class DashboardConfig(_Strict):
    """The web dashboard served by ``serve`` under ``/`` (see docs/dashboard.md)."""

    enabled: bool = True
    password_env: str | None = None  # unset: the [server] admin token opens it
    session_hours: float = Field(12, gt=0, le=24 * 30)

    @field_validator("*")
    @classmethod
    def _env_settings_name_variables(cls, value: Any, info: ValidationInfo) -> Any:
        return check_env_names(value, info)


class MetricsConfig(_Strict):
    """``GET /metrics`` in Prometheus text format (see docs/metrics.md). Without ``token_env``
    only loopback peers are answered, unless ``public`` says any address may read it."""

    enabled: bool = True
    token_env: str | None = None  # a bearer token every scrape must carry
    public: bool = False  # no token, any address (a private network only)

    @field_validator("*")
    @classmethod
    def _env_settings_name_variables(cls, value: Any, info: ValidationInfo) -> Any:
        return check_env_names(value, info)

    @model_validator(mode="after")
    def _public_or_token(self) -> MetricsConfig:
        if self.public and self.token_env:
            raise ValueError("public and token_env exclude each other: public answers every "
                             "address without a token; remove one of them")
        return self


class RouterSettings(_Strict):
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    journal: Path | None = None  # default: state_dir / "journal.sqlite3"
    plugins: list[str] | None = None  # entry-point names to load; None loads every installed
    reconcile_attempts: int = Field(4, ge=1, le=50)
    reconcile_window_seconds: float = Field(40, gt=0)

    @property
    def journal_path(self) -> Path:
        return self.journal or self.state_dir / "journal.sqlite3"


class Defaults(_Strict):
    quantity: Decimal = Field(Decimal(1), gt=0)
    quantity_type: QuantityType = QuantityType.FIXED_QUANTITY
    reverse: bool = True
    accounts: list[str] | None = None  # where alerts without "accounts" go; None: every account

    @field_validator("quantity", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value


class _AccountCore(_Strict):
    broker: str
    enabled: bool = True
    multiplier: Decimal = Field(Decimal(1), gt=0)
    reverse: bool | None = None
    quantity: Decimal | None = Field(None, gt=0)
    quantity_type: QuantityType | None = None
    risk: RiskLimits = RiskLimits()
    position_source: Literal["auto", "venue_balance"] = "auto"
    leverage: Decimal | None = Field(None, gt=0)
    close_fill_timeout_seconds: float = Field(10, ge=0, le=600)
    on_close_timeout: Literal["cancel", "leave"] = "cancel"
    cancel_foreign_orders: bool = False
    spot_tickers_as_perpetual: bool = False

    @field_validator("multiplier", "quantity", "leverage", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value


@dataclass(frozen=True, slots=True)
class AccountConfig:
    name: str
    broker: str
    settings: BrokerConfig
    enabled: bool
    multiplier: Decimal
    reverse: bool
    quantity: Decimal
    quantity_type: QuantityType
    risk: RiskLimits
    # Where a cash account's position comes from: "auto" (what the router bought and still
    # holds) or "venue_balance" (the whole free base balance: dangerous on a shared wallet).
    position_source: str = "auto"
    leverage: Decimal | None = None  # for margin and futures opens when the alert gives none
    close_fill_timeout_seconds: float = 10.0  # how long an open waits for its close to fill
    on_close_timeout: str = "cancel"  # or "leave": what becomes of a close that did not fill
    cancel_foreign_orders: bool = False  # exit/reversal also cancel orders not placed here
    spot_tickers_as_perpetual: bool = False  # a futures account takes BTCUSD as its perpetual


@dataclass(frozen=True, slots=True)
class RouterConfig:
    path: Path | None
    router: RouterSettings
    server: ServerConfig
    defaults: Defaults
    accounts: Mapping[str, AccountConfig]
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)  # [journal]: PostgreSQL
    # [plugins.NAME] tables as written; validated by each plugin's model at start
    # (``plugin_settings``), because only the loaded plugins know their models.
    plugins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def journal_target(self, environ: Mapping[str, str] | None = None) -> Path | PgTarget:
        """Where the journal is: the SQLite file, or the PostgreSQL database with its password
        read from the environment now (``ConfigError`` naming the key when it is missing)."""
        return journal_target(self.router, self.journal, environ,
                              file=str(self.path) if self.path else None)


    cluster: ClusterConfig = field(default_factory=ClusterConfig)  # [cluster]
    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # [metrics]: GET /metrics

    def targets(self, requested: list[str] | None) -> list[str]:
        """Account names an alert goes to; unknown names raise ConfigError."""
        names = (
            requested
            or self.defaults.accounts
            or [name for name, account in self.accounts.items() if account.enabled]
        )
        unknown = [n for n in names if n not in self.accounts]
        if unknown:
            raise ConfigError(
                f"no account named {', '.join(map(repr, unknown))} "
                f"(configured: {', '.join(self.accounts) or 'none'})",
                key="accounts",
            )
        return list(dict.fromkeys(names))


DEFAULT_CONFIG: dict[str, Any] = {
    "accounts": {"paper": {"broker": "paper"}},
}


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None


def load_config(path: Path | str | None, brokers: BrokerRegistry) -> RouterConfig:
    """Read and validate the whole config; ``None`` gives the embedded default (one paper
    account). Every error names the file, the key and the reason."""
    if path is None:
        return build_config(DEFAULT_CONFIG, brokers, path=None)
    path = Path(path)
    return build_config(read_toml(path), brokers, path=path)


def load_router_settings(path: Path | str | None) -> RouterSettings:
    """Only the ``[router]`` section, resolved exactly as ``load_config`` resolves it, without
    loading plugins or validating accounts: for commands that open the journal and need no
    broker and no credentials (``journal``, ``halt``, ``resume``)."""
    if path is None:
        return RouterSettings()
    path = Path(path)
    data = read_toml(path).get("router", {})
    return _relative_to(path, _validate(RouterSettings, data, str(path), "router"))


def load_journal_target(
    path: Path | str | None, environ: Mapping[str, str] | None = None
) -> Path | PgTarget:
    """Where the journal is for this config, from ``[router]`` and ``[journal]`` only (no
    plugins, no accounts): for ``journal``, ``halt``, ``resume`` and ``holdings``."""
    if path is None:
        return RouterSettings().journal_path
    data = read_toml(Path(path))
    journal = _validate(JournalConfig, data.get("journal", {}), str(path), "journal")
    return journal_target(load_router_settings(path), journal, environ, file=str(path))


def journal_target(
    router: RouterSettings, journal: JournalConfig, environ: Mapping[str, str] | None = None,
    *, file: str | None = None,
) -> Path | PgTarget:
    """The SQLite path of ``[router]``, or the ``[journal]`` PostgreSQL database."""
    import os

    from pydantic import SecretStr

    if journal.url is None:
        return router.journal_path
    environ = os.environ if environ is None else environ
    password = None
    if journal.password_env:
        value = environ.get(journal.password_env, "")
        if not value:
            raise ConfigError(f"environment variable {journal.password_env} is not set",
                              file=file, key="journal.password_env")
        password = SecretStr(value)
    return PgTarget(journal.url, password, journal.connect_timeout_seconds)


def _relative_to(path: Path, router: RouterSettings) -> RouterSettings:
    """Relative paths in ``[router]`` are relative to the config file, not the working dir."""
    update = {}
    if not router.state_dir.is_absolute():
        update["state_dir"] = path.parent / router.state_dir
    if router.journal is not None and not router.journal.is_absolute():
        update["journal"] = path.parent / router.journal
    return router.model_copy(update=update) if update else router


def build_config(
    data: Mapping[str, Any], brokers: BrokerRegistry, *, path: Path | None
) -> RouterConfig:
    file = str(path) if path else None
    known = {"router", "server", "defaults", "accounts", "journal", "plugins", "dashboard",
             "metrics", "cluster"}
    for key in data:
        if key not in known:
            raise ConfigError(
                f"unknown section (expected one of {', '.join(sorted(known))})",
                file=file,
                key=key,
            )
    router = _validate(RouterSettings, data.get("router", {}), file, "router")
    if path is not None:
        router = _relative_to(path, router)
    server = _validate(ServerConfig, data.get("server", {}), file, "server")
    defaults = _validate(Defaults, data.get("defaults", {}), file, "defaults")
    accounts_data = data.get("accounts", {})
    if not isinstance(accounts_data, dict) or not accounts_data:
        raise ConfigError(
            "at least one [accounts.NAME] table is required", file=file, key="accounts"
        )
    accounts = {}
    for name, section in accounts_data.items():
        accounts[name] = _account(name, section, defaults, brokers, file)
    for name in defaults.accounts or []:
        if name not in accounts:
            raise ConfigError(
                f"names an account that is not configured: {name!r}",
                file=file,
                key="defaults.accounts",
            )
    journal = _validate(JournalConfig, data.get("journal", {}), file, "journal")
    dashboard = _validate(DashboardConfig, data.get("dashboard", {}), file, "dashboard")
    return RouterConfig(path, router, server, defaults, accounts, journal=journal,
                        dashboard=dashboard,
                        plugins=_plugin_tables(data.get("plugins", {}), file),
                        metrics=_validate(MetricsConfig, data.get("metrics", {}), file, "metrics"),
                        cluster=_validate(ClusterConfig, data.get("cluster", {}), file, "cluster"))


def _plugin_tables(data: Any, file: str | None) -> dict[str, dict[str, Any]]:
    """The ``[plugins.NAME]`` tables: each must be a table; what is in them is the plugin's."""
    if not isinstance(data, dict):
        raise ConfigError("must be a table of [plugins.NAME] tables", file=file, key="plugins")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError("must be a table", file=file, key=f"plugins.{name}")
    return dict(data)


def plugin_settings(
    config: RouterConfig, models: Mapping[str, type[BaseModel]], loaded: Iterable[str]
) -> dict[str, BaseModel]:
    """Every plugin's settings: its ``[plugins.NAME]`` table (``{}`` when absent) validated by
    the model it declared (``router_plugin_settings``). Errors name the file, the key and the
    reason, never the value; a table for a plugin that is not loaded, or that takes no
    settings, is an error too (a typo in a plugin's name must not pass silently)."""
    file = str(config.path) if config.path else None
    loaded = set(loaded)
    for name in config.plugins:
        if name not in loaded:
            raise ConfigError(
                f"no loaded plugin is named {name!r} (loaded: "
                f"{', '.join(sorted(n for n in loaded if '.' not in n)) or 'none'}); install "
                "it, list it in [router] plugins, or remove the table",
                file=file, key=f"plugins.{name}")
        if name not in models:
            raise ConfigError(f"plugin {name!r} takes no settings", file=file,
                              key=f"plugins.{name}")
    return {name: _validate(model, config.plugins.get(name, {}), file, f"plugins.{name}")
            for name, model in models.items()}


def _account(
    name: str, section: Any, defaults: Defaults, brokers: BrokerRegistry, file: str | None
) -> AccountConfig:
    key = f"accounts.{name}"
    if not isinstance(section, dict):
        raise ConfigError("must be a table", file=file, key=key)
    core_part = {k: v for k, v in section.items() if k in ACCOUNT_KEYS}
    broker_part = {k: v for k, v in section.items() if k not in ACCOUNT_KEYS}
    core = _validate(_AccountCore, core_part, file, key)
    try:
        broker_cls = brokers.get(core.broker)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=file, key=f"{key}.broker") from None
    settings = _validate(broker_cls.Config, broker_part, file, key)
    return AccountConfig(
        name=name,
        broker=core.broker,
        settings=settings,
        enabled=core.enabled,
        multiplier=core.multiplier,
        reverse=defaults.reverse if core.reverse is None else core.reverse,
        quantity=core.quantity or defaults.quantity,
        quantity_type=core.quantity_type or defaults.quantity_type,
        risk=core.risk,
        position_source=core.position_source,
        leverage=core.leverage,
        close_fill_timeout_seconds=core.close_fill_timeout_seconds,
        on_close_timeout=core.on_close_timeout,
        cancel_foreign_orders=core.cancel_foreign_orders,
        spot_tickers_as_perpetual=core.spot_tickers_as_perpetual,
    )


def _validate(model: type[BaseModel], data: Any, file: str | None, section: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        loc = ".".join(str(part) for part in error["loc"])
        raise ConfigError(
            error_reason(error), file=file, key=f"{section}.{loc}" if loc else section
        ) from None


def error_reason(error: Mapping[str, Any]) -> str:
    """One pydantic error as a reason a user reads, the same whatever pydantic's version."""
    kind = error["type"]
    field = str(error["loc"][-1]) if error.get("loc") else ""
    if field.endswith("_env") and kind in ("string_pattern_mismatch", "string_too_long"):
        return env_name_reason(field)  # a plugin's own pattern for a variable name
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("decimal_parsing", "decimal_type"):
        return 'must be a decimal number, such as "0.5"'
    return str(error["msg"]).removeprefix("Value error, ")
