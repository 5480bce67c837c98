"""Entry point of the notify plugin: the hooks, on one ``NotifyPlugin`` object.

The entry point names ``plugin``, the instance below. Tests (and an embedding program) can
register a fresh ``NotifyPlugin()`` of their own through ``make_plugin_manager(extra=...)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from router_core import ExecutionReport, Fill, hookimpl

from .settings import NotifySettings

if TYPE_CHECKING:
    from .service import NotifyService

log = logging.getLogger("router_notify")


class NotifyPlugin:
    """Holds the running ``NotifyService`` between ``router_startup`` and ``router_shutdown``."""

    def __init__(self, environ: Mapping[str, str] | None = None, *,
                 summary_poll_seconds: float | None = None) -> None:
        self.environ = environ  # None: the process environment, read at start
        self.summary_poll_seconds = summary_poll_seconds  # None: the service's default
        self.service: NotifyService | None = None  # while the router runs

    @hookimpl
    def router_plugin_settings(self) -> type[NotifySettings]:
        return NotifySettings

    @hookimpl
    async def router_startup(self, settings: NotifySettings, context: dict[str, Any]) -> None:
        """Read the URLs (a ConfigError names the variable that is not set) and start the
        worker. Without ``urls_env`` the plugin stays idle."""
        await self.router_shutdown()  # a second start replaces the first
        if not settings.urls_env:
            # DEBUG: installed but unconfigured is the ordinary case (requirements.txt installs
            # every first-party plugin), not news at every start
            log.debug("notify: no [plugins.notify] urls_env configured; notifications are off")
            return
        from .sender import AppriseSender
        from .service import SUMMARY_POLL_SECONDS, NotifyService

        sender = AppriseSender.from_settings(
            settings, os.environ if self.environ is None else self.environ)
        self.service = NotifyService(
            sender, settings, context["clock"],
            summary_poll_seconds=self.summary_poll_seconds or SUMMARY_POLL_SECONDS)
        self.service.start()
        log.info("notify: %d notifier(s), level %s%s", len(sender), settings.level,
                 f", daily summary at {settings.summary_time:%H:%M} {settings.summary_timezone}"
                 if settings.summary_time else "")

    @hookimpl
    def router_execution_finished(self, report: ExecutionReport) -> None:
        # Synchronous on purpose: decide, render, enqueue; never a network wait.
        if self.service is not None:
            self.service.offer(report)

    @hookimpl
    def router_fill_recorded(self, fill: Fill, context: dict[str, Any]) -> None:
        # Synchronous too: a fill stream awaits its observers; this one only enqueues.
        if self.service is not None:
            self.service.offer_fill(fill, context)

    @hookimpl
    async def router_shutdown(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            await service.stop()


plugin = NotifyPlugin()
