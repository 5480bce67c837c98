"""The account's ``[accounts.<name>]`` section for ``broker = "ccxt"``.

Every check that needs ccxt's knowledge of an exchange (its id, the credentials it requires,
whether it has a testnet or the market type) runs here, so a wrong setting is refused when the
config is read, naming the field, before any request. ccxt is imported by these checks only:
a config without a ccxt account never imports it.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from router_core import BrokerConfig

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Our ``*_env`` settings and the ccxt credential each one fills (``requiredCredentials`` keys).
CREDENTIAL_FIELDS: dict[str, str] = {
    "api_key_env": "apiKey",
    "secret_env": "secret",
    "password_env": "password",
    "uid_env": "uid",
}
# What each credential is called in exchanges' own documentation, for the refusal's message.
_CREDENTIAL_WORDS = {
    "apiKey": "an API key",
    "secret": "an API secret",
    "password": "an API passphrase",
    "uid": "a user id",
}


def _ccxt_async() -> Any:
    """ccxt's async API, imported on first use (about half a second)."""
    import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

    return ccxt_async


@lru_cache(maxsize=1)
def known_exchanges() -> tuple[str, ...]:
    """Every exchange id of the installed ccxt."""
    return tuple(_ccxt_async().exchanges)


@lru_cache(maxsize=64)
def describe(exchange: str) -> dict[str, Any]:
    """What ccxt declares about ``exchange`` without any network: required credentials,
    ``has``, ``urls``, ``features``. Cached: an exchange's class does not change in a process."""
    instance = getattr(_ccxt_async(), exchange)()  # no session is opened until a request
    return {
        "requiredCredentials": dict(instance.requiredCredentials),
        "has": dict(instance.has),
        "urls": dict(instance.urls),
        "features": instance.features,
    }


def _url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return value.rstrip("/")
    raise ValueError(f"{field} must be an https:// URL (plain http only for 127.0.0.1/localhost)")


class CcxtConfig(BrokerConfig):
    """Settings for one account on one exchange, through ccxt.

    Secrets are never written here: the ``*_env`` settings name the environment variables that
    hold them.
    """

    exchange: str = Field(
        description="the ccxt exchange id (binance, bybit, okx, kraken, krakenfutures...)"
    )
    market_type: Literal["spot", "swap", "future"] = Field(
        "spot", description="the markets this account trades: spot, swap (perpetuals) or "
        "future (dated futures)"
    )
    contract: Literal["linear", "inverse"] | None = Field(
        None, description="swap and future accounts: trade only linear (quoted and settled in "
        "the quote currency) or only inverse contracts; without it a ticker matching both "
        "(Kraken Futures' PF_XBTUSD and PI_XBTUSD) is refused as ambiguous"
    )
    api_key_env: str | None = Field(
        None, validate_default=True,
        description="environment variable with the API key (required by every exchange that "
        "trades)",
    )
    secret_env: str | None = Field(
        None, validate_default=True, description="environment variable with the API secret"
    )
    password_env: str | None = Field(
        None, validate_default=True,
        description="environment variable with the API passphrase, for exchanges whose ccxt "
        "requiredCredentials list a password (okx, kucoin, bitget...)",
    )
    uid_env: str | None = Field(
        None, validate_default=True,
        description="environment variable with the user id, for exchanges whose ccxt "
        "requiredCredentials list a uid",
    )
    sandbox: bool = Field(
        False, description="use the exchange's testnet through ccxt (set_sandbox_mode); refused "
        "for an exchange without one"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="passed to ccxt as the exchange's options (defaultType, recvWindow...)",
    )
    base_url: str | None = Field(
        None, description="replace the scheme and host of every API URL of the exchange (a "
        "proxy, or a loopback fake in tests); paths are kept"
    )
    urls: dict[str, str] = Field(
        default_factory=dict,
        description="replace single API URLs by ccxt's name for them (public, private...)",
    )
    enable_rate_limit: bool = Field(
        True, description="ccxt's own spacing of requests (its rateLimit); keep it on for a "
        "real exchange"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="HTTP timeout per request")

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        known = known_exchanges()
        if value in known:
            return value
        close = difflib.get_close_matches(value.lower(), known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            "; the ccxt documentation lists the ids")
        raise ValueError(f"{value!r} is not an exchange id ccxt knows{hint}")

    @field_validator("api_key_env", "secret_env", "password_env", "uid_env")
    @classmethod
    def _required_credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        exchange = info.data.get("exchange")
        field = info.field_name or ""
        if value is not None or exchange is None:
            return value
        credential = CREDENTIAL_FIELDS[field]
        if describe(exchange)["requiredCredentials"].get(credential):
            raise ValueError(
                f"{exchange} requires {_CREDENTIAL_WORDS[credential]} (ccxt "
                f"requiredCredentials.{credential}): set {field} to the name of the environment "
                "variable that holds it")
        return value

    @field_validator("sandbox")
    @classmethod
    def _sandbox_exists(cls, value: bool, info: ValidationInfo) -> bool:
        exchange = info.data.get("exchange")
        if value and exchange is not None and not describe(exchange)["urls"].get("test"):
            raise ValueError(f"{exchange} has no testnet in ccxt (no urls.test): remove sandbox")
        return value

    @field_validator("market_type")
    @classmethod
    def _market_type_exists(cls, value: str, info: ValidationInfo) -> str:
        exchange = info.data.get("exchange")
        if exchange is not None and not describe(exchange)["has"].get(value):
            raise ValueError(f"{exchange} has no {value} markets in ccxt (has.{value} is not "
                             "true)")
        return value

    @field_validator("contract")
    @classmethod
    def _contract_needs_contracts(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("market_type") == "spot":
            raise ValueError("contract applies to swap and future accounts, not spot")
        return value

    @field_validator("options")
    @classmethod
    def _no_blind_retries(cls, value: dict[str, Any]) -> dict[str, Any]:
        # ccxt would send a failed request again by itself, an order included; the router
        # looks an order up by its client order id before anything is sent again
        if value.get("maxRetriesOnFailure"):
            raise ValueError("maxRetriesOnFailure is refused: ccxt would re-send a failed "
                             "order blindly; the router retries itself, after a look-up")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else _url(value, "base_url")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _url(url, f"urls.{name}") for name, url in value.items()}
