"""The web dashboard: server-rendered pages (Jinja2, autoescaped) under ``/ui/``, live over
server-sent events, behind a password login (see docs/dashboard.md).

Imported only by ``router_core.server`` (``alert-router serve``): Jinja2 and the web stack are
never loaded by the other commands.
"""

from __future__ import annotations

from .app import mount_dashboard
from .settings import DashboardSettings

__all__ = ["DashboardSettings", "mount_dashboard"]
