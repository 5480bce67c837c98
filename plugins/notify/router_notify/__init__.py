"""alert-router-notify: notifications of failed orders, fills and a daily summary, through
apprise (Telegram, Discord, Slack, email, ntfy and the rest apprise knows)."""

from __future__ import annotations

__version__ = "0.1.0"
