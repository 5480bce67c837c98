"""The running config as the dashboard shows it, with every secret masked.

The config file holds no secret values (only the names of the variables or files holding
them), but a broker may keep a ``SecretStr`` in its settings and a careless value may sit
under a secret-looking key. So: ``SecretStr`` values, values under a key that names a secret
(except the ``*_env`` / ``*_file`` keys, which hold a variable's or file's name), and any
string equal to a loaded secret are all shown as ``MASK``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

from ..config import RouterConfig

MASK = "********"
_SECRET_KEY = re.compile(r"(secret|password|passphrase|token|api_?key|private|signature)", re.I)


def masked_config(config: RouterConfig, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The config as plain data, secrets masked; ``secrets``: loaded secret values."""
    known = {value for value in secrets if value}
    data: dict[str, Any] = {
        "file": str(config.path) if config.path else "(none: the embedded default)",
        "router": config.router.model_dump(mode="python"),
        "server": config.server.model_dump(mode="python"),
        "dashboard": config.dashboard.model_dump(mode="python"),
        "defaults": config.defaults.model_dump(mode="python"),
        "accounts": {
            name: {
                "broker": account.broker,
                "enabled": account.enabled,
                "multiplier": account.multiplier,
                "reverse": account.reverse,
                "quantity": account.quantity,
                "quantity_type": account.quantity_type,
                "position_source": account.position_source,
                "leverage": account.leverage,
                "risk": account.risk.model_dump(mode="python"),
                "settings": account.settings.model_dump(mode="python"),
            }
            for name, account in config.accounts.items()
        },
    }
    return mask(data, known)


def mask(value: Any, secrets: set[str], key: str = "") -> Any:
    """``value`` with every secret in it replaced by ``MASK`` (see the module docstring)."""
    if isinstance(value, dict):
        return {str(k): mask(v, secrets, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(item, secrets, key) for item in value]
    if isinstance(value, SecretStr):
        return MASK
    if value is None or isinstance(value, bool):
        return value
    text = str(value)
    names_a_source = key.endswith(("_env", "_file"))
    if not names_a_source and _SECRET_KEY.search(key):
        return MASK
    if text in secrets:
        return MASK
    return text
