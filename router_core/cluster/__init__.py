"""Several ``serve`` instances on one PostgreSQL journal (see docs/operations.md, "Several
instances"): each API key driven by one instance at a time under a lease, work routed to the
key's owner through a table, takeover with reconciliation when an instance dies.

A single instance imports only ``keys`` (which lease an account's fill stream belongs to); the
instance machinery is ``router_core.cluster.node``, imported where the config enables it.
"""

from __future__ import annotations

from .keys import lease_key, lease_keys

__all__ = ["lease_key", "lease_keys"]
