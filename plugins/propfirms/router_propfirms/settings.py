"""Config field types the five stubs share."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from router_core import ENV_NAME_MAX_LENGTH, ENV_NAME_PATTERN, BrokerConfig

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
