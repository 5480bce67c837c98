"""Several ``serve`` instances on one PostgreSQL journal (see docs/operations.md, "Several
instances"): each API key driven by one instance at a time under a lease, work routed to the
key's owner through a table, takeover with reconciliation when an instance dies.

A single instance imports only ``keys`` (which lease an account's fill stream belongs to); the
instance machinery is ``router_core.cluster.node``, imported where the config enables it.
"""

from __future__ import annotations

from typing import Any

from ..config import ClusterConfig
from .keys import lease_key, lease_keys

__all__ = ["cluster_enabled", "lease_key", "lease_keys"]


def cluster_enabled(config: ClusterConfig, pg_target: Any) -> bool:
    """``[cluster] enabled``; unset, on exactly when the journal is PostgreSQL (``pg_target``:
    the journal's, or None for SQLite, which cannot be shared)."""
    return config.enabled if config.enabled is not None else pg_target is not None
