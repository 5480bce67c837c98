"""The account's ``[accounts.<name>]`` section for ``broker = "kraken-spot"``.

Secrets are never in the config: it names the environment variables that hold them.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator

from router_core import BrokerConfig

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_BASE_URL = "https://api.kraken.com"
DEFAULT_WS_URL = "wss://ws-auth.kraken.com/v2"


class KrakenSpotConfig(BrokerConfig):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_key_env: str = Field("KRAKEN_API_KEY", description="environment variable with the API key")
    api_secret_env: str = Field(
        "KRAKEN_API_SECRET", description="environment variable with the base64 API secret"
    )
    otp_env: str | None = Field(
        None, description="environment variable with the key's 2FA password, if the key has one"
    )
    tier: Literal["starter", "intermediate", "pro"] = Field(
        "starter", description="the account's verification tier; sets the rate-limit budgets"
    )
    validate_only: bool = Field(
        False,
        alias="validate",
        description="send every order with validate=true: Kraken checks it, nothing is placed",
    )
    margin: bool = Field(
        False, description="margin trading: positions from OpenPositions, shorts and leverage"
    )
    base_url: str = Field(DEFAULT_BASE_URL, description="override for proxies and fakes")
    ws_url: str | None = Field(
        None,
        description="private WebSocket v2 for the fill stream under serve; default "
        "wss://ws-auth.kraken.com/v2 with the default base_url, none (no stream: fills are "
        "looked up as before) with another base_url unless this is set",
    )
    stream_timeout_seconds: float = Field(
        10.0, gt=0, le=120,
        description="the fill stream counts as dead after this long without any message",
    )
    deadline_seconds: int = Field(
        10, ge=5, le=30, description="AddOrder deadline, seconds after Kraken's server time"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="HTTP timeout per request")

    @field_validator("ws_url")
    @classmethod
    def _wss_or_loopback(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme == "wss" and parts.hostname:
            return value
        if parts.scheme == "ws" and parts.hostname in _LOOPBACK:
            return value
        raise ValueError("must be a wss:// URL (plain ws only for 127.0.0.1/localhost)")

    @field_validator("base_url")
    @classmethod
    def _https_or_loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and parts.hostname in _LOOPBACK:
            return value.rstrip("/")
        raise ValueError("must be an https:// URL (plain http only for 127.0.0.1/localhost)")

    @property
    def stream_url(self) -> str | None:
        """Where the fill stream connects; None: no stream (a proxy or a fake for REST only:
        guessing its WebSocket address could reach somewhere unintended)."""
        if self.ws_url is not None:
            return self.ws_url
        return DEFAULT_WS_URL if self.base_url == DEFAULT_BASE_URL else None
