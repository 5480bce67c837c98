"""Config field types and checks the prop-firm brokers share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field

from router_core import (
    ENV_NAME_MAX_LENGTH,
    ENV_NAME_PATTERN,
    BrokerConfig,
    CanonicalSymbol,
    InstrumentKind,
    UnknownSymbol,
)

# The *name* of an environment variable holding a secret, never the secret itself. BrokerConfig
# enforces the same rule on every *_env field; the pattern here puts it in the JSON Schema too.
EnvName = Annotated[
    str,
    Field(
        pattern=ENV_NAME_PATTERN,
        max_length=ENV_NAME_MAX_LENGTH,
        description="name of the environment variable that holds the secret",
    ),
]

SymbolText = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/!#-]{1,40}$")]
HttpsUrl = Annotated[str, Field(pattern=r"^https://[^\s/]+(/\S*)?$", max_length=300)]
WssUrl = Annotated[str, Field(pattern=r"^wss://[^\s/]+(/\S*)?$", max_length=300)]


class CfdConfig(BrokerConfig):
    """Settings the forex/CFD venues share."""

    # Build validators on first use, not at import: the plugin loads on every start-up.
    model_config = ConfigDict(defer_build=True)

    symbol_overrides: dict[SymbolText, SymbolText] = Field(
        default_factory=dict,
        description=(
            "TradingView ticker (without exchange prefix) -> the venue's instrument name, for "
            "names that differ, e.g. a broker suffix"
        ),
    )


def cfd_instrument_name(venue: str, overrides: Mapping[str, str],
                        symbol: CanonicalSymbol) -> str:
    """The plain name a forex/CFD venue gives ``symbol`` (``FX:EURUSD`` -> ``EURUSD``).

    ``overrides`` (``symbol_overrides``) win, by ticker or by the alert's raw text. Futures and
    perpetual names are not documented for these venues: without an override they are an
    ``UnknownSymbol`` that says how to map them.
    """
    override = overrides.get(symbol.ticker) or overrides.get(symbol.raw)
    if override:
        return override
    if symbol.kind is not InstrumentKind.SPOT:
        raise UnknownSymbol(
            f"{venue}: {symbol.raw!r} is a {symbol.kind.value} contract; {venue} "
            "instrument names for futures and perpetuals are not documented (map it with "
            "symbol_overrides once the account's instrument list shows its name)"
        )
    if symbol.base and symbol.quote:
        return f"{symbol.base}{symbol.quote}"
    return symbol.ticker.replace("/", "")


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_rest_base_url(value: str, *, example: str,
                        not_rest: Mapping[str, str] | None = None) -> str:
    """``base_url`` checked to be a REST root: https only (http for a local fake on 127.0.0.1),
    never a WebSocket URL or one of the ``not_rest`` hosts (host -> what it serves). Returns
    it without a trailing slash; raises ValueError, which pydantic reports under ``base_url``.
    """
    parts = urlsplit(value)
    if parts.scheme in ("ws", "wss"):
        raise ValueError(f"base_url is the REST API root ({example}), not the WebSocket URL")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"base_url must be an https:// URL such as {example}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("base_url must use https:// (http:// only for a fake on 127.0.0.1)")
    if not_rest and parts.hostname in not_rest:
        raise ValueError(f"base_url names {not_rest[parts.hostname]}, not the REST API root "
                         f"({example})")
    return value.rstrip("/")


def check_environment_host(base_url: str | None, environment: str,
                           environments: Mapping[str, str]) -> None:
    """A ``base_url`` on one of the venue's own hosts (``environments``: name -> URL) must be
    the configured ``environment``'s: a demo account never talks to the live host."""
    host = urlsplit(base_url).hostname if base_url else None
    for name, url in environments.items():
        if host == urlsplit(url).hostname and name != environment:
            raise ValueError(f"base_url is the venue's {name} host but environment is "
                             f"{environment!r}: set environment = {name!r} or drop base_url")
