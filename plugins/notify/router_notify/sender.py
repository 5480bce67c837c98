"""Sending one message to every configured notifier, through apprise.

The URLs are read from the environment variables ``urls_env`` names and kept as ``SecretStr``:
they hold tokens and passwords. They never reach a log line or an error message: errors name
the variable, and apprise's own logger (and urllib3's, which apprise's HTTP notifiers use) is
kept at WARNING with a filter that masks every part of the URLs, because at DEBUG they write
request paths, where Telegram and Discord carry their tokens.

apprise is imported here, when notifications are configured, not when the plugin loads
(``alert-router --help`` and ``validate`` must not pay for it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from pydantic import SecretStr

from router_core import ConfigError

from .messages import Message
from .settings import NotifySettings

if TYPE_CHECKING:
    import apprise

log = logging.getLogger("router_notify")

QUIETED_LOGGERS = ("apprise", "urllib3")


class Sender(Protocol):
    """What the delivery worker calls: True when every notifier took the message."""

    async def send(self, message: Message) -> bool: ...


def read_urls(settings: NotifySettings, environ: Mapping[str, str]) -> list[SecretStr]:
    """The value of each ``urls_env`` variable; an unset or empty one is a ConfigError naming
    the key (``urls_env.N``) and the variable, never a value."""
    urls = []
    for index, name in enumerate(settings.urls_env):
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is not set (it must hold an "
                              "apprise URL such as tgram://TOKEN/CHAT_ID)",
                              key=f"urls_env.{index}")
        urls.append(SecretStr(value))
    return urls


class AppriseSender:
    """One ``apprise.Apprise`` holding every URL; ``send`` notifies them all at once, bounded
    by ``timeout_seconds`` (a notifier that hangs costs the worker that long, never more)."""

    def __init__(self, urls: list[SecretStr], names: list[str], timeout_seconds: float) -> None:
        import apprise

        quiet_apprise_logs(urls)
        self.timeout_seconds = timeout_seconds
        self._apprise: apprise.Apprise = apprise.Apprise()
        for index, (url, name) in enumerate(zip(urls, names, strict=True)):
            if not self._apprise.add(url.get_secret_value()):
                raise ConfigError(f"environment variable {name} does not hold a URL apprise "
                                  "understands (its value is not shown; see apprise's list of "
                                  "services)", key=f"urls_env.{index}")

    @classmethod
    def from_settings(cls, settings: NotifySettings,
                      environ: Mapping[str, str]) -> AppriseSender:
        return cls(read_urls(settings, environ), list(settings.urls_env),
                   settings.timeout_seconds)

    def __len__(self) -> int:
        return len(self._apprise)

    def __repr__(self) -> str:  # never the URLs
        return f"<AppriseSender notifiers={len(self)}>"

    async def send(self, message: Message) -> bool:
        """Notify every URL; False when one failed, timed out or raised."""
        try:
            result: Any = await asyncio.wait_for(
                self._apprise.async_notify(body=message.body, title=message.title,
                                           notify_type=message.kind.value),
                timeout=self.timeout_seconds)
        except TimeoutError:
            log.warning("a notifier did not answer within %.0f s", self.timeout_seconds)
            return False
        return bool(result)


def quiet_apprise_logs(urls: Iterable[SecretStr]) -> None:
    """Keep apprise and urllib3 at WARNING (unless set higher already) and mask every part of
    the URLs in apprise's records, as defence in depth."""
    secrets = url_parts(urls)
    for name in QUIETED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    apprise_log = logging.getLogger("apprise")
    for existing in [f for f in apprise_log.filters if isinstance(f, UrlMask)]:
        apprise_log.removeFilter(existing)
    apprise_log.addFilter(UrlMask(secrets))


def url_parts(urls: Iterable[SecretStr]) -> list[str]:
    """Every piece of the URLs that may be a secret: the whole URL, and each part between
    separators that is six characters or longer (tokens, passwords, webhook ids), plain and
    percent-decoded. Longest first, so a token is masked before a part of it."""
    parts: set[str] = set()
    for url in urls:
        text = url.get_secret_value()
        parts.add(text)
        for piece in re.split(r"[/:@?&=#,;\s]+", text):
            if len(piece) >= 6:
                parts.update({piece, unquote(piece)})
    return sorted(parts, key=len, reverse=True)


class UrlMask(logging.Filter):
    """Replaces every secret part of the notifier URLs in a record's message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for secret in self._secrets:
            clean = clean.replace(secret, "[redacted]")
        if clean != message:
            record.msg, record.args = clean, None
        return True
