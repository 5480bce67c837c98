"""The ``[plugins.notify]`` table of the config file, validated by the core with this model.

The notifier URLs hold secrets (a Telegram bot token, a Discord webhook token, an SMTP
password), so the table never holds them: ``urls_env`` names the environment variables that
do. Each variable holds one apprise URL, or several separated by spaces or commas.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router_core import ENV_NAME_MAX_LENGTH, ENV_NAME_PATTERN

Level = Literal["failures", "fills", "all"]

_ENV_NAME = re.compile(ENV_NAME_PATTERN)


class NotifySettings(BaseModel):
    """Where notifications go, which ones, and how delivery behaves."""

    # hide_input_in_errors: a URL pasted where a variable's name belongs is never echoed.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    urls_env: list[str] = Field(default_factory=list)
    level: Level = "failures"
    summary_time: time | None = None
    summary_timezone: str = "UTC"
    queue_size: int = Field(100, ge=1, le=10_000)
    retries: int = Field(3, ge=0, le=10)
    backoff_seconds: float = Field(2, gt=0, le=300)
    backoff_cap_seconds: float = Field(60, gt=0, le=3600)
    timeout_seconds: float = Field(10, gt=0, le=120)
    drain_seconds: float = Field(5, ge=0, le=60)

    @field_validator("urls_env")
    @classmethod
    def _names_only(cls, names: list[str]) -> list[str]:
        for name in names:
            if len(name) > ENV_NAME_MAX_LENGTH or not _ENV_NAME.fullmatch(name):
                raise ValueError("urls_env must name environment variables (such as "
                                 "ALERT_ROUTER_TELEGRAM_URL); the value given looks like a URL "
                                 "or a secret and is not shown")
        if len(set(names)) != len(names):
            raise ValueError("urls_env names a variable twice")
        return names

    @field_validator("summary_time", mode="before")
    @classmethod
    def _hour_and_minute(cls, value: object) -> object:
        # TOML has a local-time type (21:00:00) and people also write "21:00"; both mean the
        # same. Anything else gets one plain reason instead of pydantic's time grammar.
        if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
            raise ValueError('must be a time of day such as "21:00"')
        return value

    @field_validator("summary_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "\"Europe/Berlin\", or \"UTC\")") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.summary_timezone)
