"""Which lease an account is driven under: its API key's, since nonces are per key.

Kraken checks nonces per API key, and rate limits are counted per key: two accounts that share a
key must be driven by the same instance. So the unit of ownership is the key, named by a
fingerprint of its public part (``api_key_env``'s value), never the key itself. An account
without an ``api_key_env`` setting (the paper venue, a stub) is its own unit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ..config import AccountConfig
from ..nonces import key_fingerprint


def api_key(account: AccountConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The public API key the account signs with (from ``api_key_env``), if it has one."""
    env_name = getattr(account.settings, "api_key_env", None)
    if not env_name:
        return None
    return (environ if environ is not None else os.environ).get(env_name) or None


def lease_key(account: AccountConfig, environ: Mapping[str, str] | None = None) -> str:
    """The lease an account belongs to: ``key:<broker>:<fingerprint>`` of its API key, or
    ``account:<name>`` when its broker takes no API key (or the variable is unset: the broker
    refuses to start then, and the account still needs one owner)."""
    value = api_key(account, environ)
    if value is not None:
        return f"key:{account.broker}:{key_fingerprint(value)}"
    return f"account:{account.name}"


def lease_keys(accounts: Iterable[AccountConfig],
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Account name -> lease key, for the enabled accounts."""
    return {account.name: lease_key(account, environ) for account in accounts if account.enabled}
