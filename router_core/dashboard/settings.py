"""Whether the dashboard is on, and the secret that opens it.

The password comes from the environment variable ``[dashboard] password_env`` names, else
from the ``[server]`` admin token; ``serve`` without a config generates one. Without either,
the dashboard is off and ``/`` says how to turn it on. The webhook passphrase (or a route
token) never opens it: a dashboard secret equal to one of them turns the dashboard off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from ..config import RouterConfig
from ..errors import ConfigError
from ..security import WebhookSettings, secret_matches
from .auth import DashboardSecret

MIN_PASSWORD_CHARS = 12
HOW_TO_ENABLE = (
    "set [dashboard] password_env in the config file to the name of an environment variable "
    f"holding a password of at least {MIN_PASSWORD_CHARS} characters (or set [server] "
    "admin_token_env), then restart `alert-router serve`"
)


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    secret: DashboardSecret | None
    session_seconds: float
    off_reason: str | None = None  # why the dashboard is off; None when it is on

    @property
    def enabled(self) -> bool:
        return self.secret is not None

    def secret_values(self) -> list[str]:
        """For the log redactor: the password must never be written in a log line."""
        return [self.secret.value.get_secret_value()] if self.secret else []

    @classmethod
    def from_config(cls, config: RouterConfig, webhook: WebhookSettings, *,
                    environ: Mapping[str, str] | None = None,
                    generated: SecretStr | None = None) -> DashboardSettings:
        """Raises ConfigError when ``password_env`` names a variable that is not set."""
        env = os.environ if environ is None else environ
        section = config.dashboard
        lifetime = section.session_hours * 3600.0
        if not section.enabled:
            return cls(None, lifetime, "the dashboard is turned off ([dashboard] enabled = "
                                       "false in the config file)")
        secret: DashboardSecret | None = None
        if section.password_env:
            value = env.get(section.password_env, "")
            if not value:
                raise ConfigError(f"environment variable {section.password_env} is not set "
                                  "or empty", key="dashboard.password_env")
            secret = DashboardSecret(SecretStr(value),
                                     f"the variable {section.password_env}")
        elif generated is not None:
            secret = DashboardSecret(generated, "the generated password", generated=True)
        elif webhook.admin_token is not None:
            secret = DashboardSecret(webhook.admin_token, "the admin token")
        if secret is None:
            return cls(None, lifetime, f"no dashboard password is configured: {HOW_TO_ENABLE}")
        value = secret.value.get_secret_value()
        if len(value) < MIN_PASSWORD_CHARS:
            return cls(None, lifetime, f"the dashboard password ({secret.source}) is shorter "
                                       f"than {MIN_PASSWORD_CHARS} characters: {HOW_TO_ENABLE}")
        webhook_secrets = [s for s in (webhook.passphrase, *webhook.route_tokens.values()) if s]
        if secret_matches(value, webhook_secrets):
            return cls(None, lifetime, f"the dashboard password ({secret.source}) equals the "
                                       "webhook passphrase or a route token, which senders of "
                                       f"alerts know: {HOW_TO_ENABLE}")
        return cls(secret, lifetime)
