"""Several ``serve`` instances on one PostgreSQL journal (see docs/operations.md, "Several
instances"): each API key driven by one instance at a time under a lease, work routed to the
key's owner through a table, takeover with reconciliation when an instance dies.

Nothing here is imported unless the config enables the cluster: a single instance pays nothing.
"""

from __future__ import annotations

from .keys import lease_key, lease_keys
from .node import Cluster, ClusterSettings, cluster_for, default_instance_id

__all__ = ["Cluster", "ClusterSettings", "cluster_for", "default_instance_id", "lease_key",
           "lease_keys"]
