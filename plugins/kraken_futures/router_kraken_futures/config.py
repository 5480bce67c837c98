"""The account settings of a Kraken Futures account (its section of the config file)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from router_core import BrokerConfig

HOSTS = {
    "live": "https://futures.kraken.com",
    "demo": "https://demo-futures.kraken.com",
}
API_PATH = "/derivatives/api/v3"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class KrakenFuturesConfig(BrokerConfig):
    """Settings for one Kraken Futures account.

    Secrets are never written here: ``api_key_env`` and ``api_secret_env`` name the
    environment variables that hold them.
    """

    api_key_env: str = "KRAKEN_FUTURES_API_KEY"
    api_secret_env: str = "KRAKEN_FUTURES_API_SECRET"  # noqa: S105 - a variable name
    environment: Literal["live", "demo"] = "live"
    default_contract: Literal["PF", "PI"] = Field(
        "PF",
        description="contract family for tickers without a venue prefix: PF (linear, "
        "multi-collateral) or PI (inverse); dated tickers use FF or FI accordingly",
    )
    reverse_mode: Literal["two_legs", "single_order"] = Field(
        "single_order",
        description="single_order (default): one order closes and opens, the venue nets it; "
        "two_legs: a reduce-only close, then the open once the close has filled",
    )
    process_before_seconds: float = Field(
        10.0, gt=0, le=60, description="orders not processed within this many seconds are dropped"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    ws_url: str | None = Field(
        None,
        description="private WebSocket v1 for the fill stream under serve; default "
        "wss://<environment's host>/ws/v1, none (no stream) with a base_url unless this is set",
    )
    stream_timeout_seconds: float = Field(
        10.0, gt=0, le=120,
        description="the fill stream counts as dead after this long without any message",
    )

    @field_validator("ws_url")
    @classmethod
    def _check_ws_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme == "wss" or (parts.scheme == "ws" and parts.hostname in _LOOPBACK):
            return value
        raise ValueError("ws_url must be a wss:// URL (plain ws only for 127.0.0.1/localhost)")

    @property
    def stream_url(self) -> str | None:
        """Where the fill stream connects: ``ws_url``, else the environment's host; None
        (no stream: fills are looked up) with a ``base_url`` and no ``ws_url``."""
        if self.ws_url is not None:
            return self.ws_url
        return None if self.base_url else f"wss://{urlsplit(self.host).netloc}/ws/v1"

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// (or http:// for a local fake)")
        return value.rstrip("/").removesuffix(API_PATH)

    @property
    def host(self) -> str:
        """The scheme and host every path is appended to."""
        return self.base_url or HOSTS[self.environment]

    @property
    def is_demo(self) -> bool:
        """True when orders go to Kraken's demo host (play money), whatever else is set."""
        return urlsplit(self.host).hostname == urlsplit(HOSTS["demo"]).hostname
