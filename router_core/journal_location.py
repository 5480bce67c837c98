"""Where a PostgreSQL journal lives (``PgTarget``), read from ``[journal] url`` and
``password_env``; importing this module does not import psycopg.

The URL never carries a password: one written into it would end up in shell history, process
lists and error messages. The password comes from the environment variable the config names
(``password_env``), or libpq finds it itself (a service file, ``~/.pgpass``, ``PGPASSWORD``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigError, RouterError

if TYPE_CHECKING:
    import psycopg
    from pydantic import SecretStr

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
APPLICATION_NAME = "alert-router"


class JournalUnavailable(RouterError):
    """The journal's database cannot be reached; names host, port and database, never a
    password."""


def is_pg_url(text: str) -> bool:
    return text.split("://", 1)[0].lower() in SCHEMES and "://" in text


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a PostgreSQL journal, or ``None``."""
    if not is_pg_url(url):
        return "must be a postgresql:// URL, such as postgresql://router@127.0.0.1:5432/journal"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.password is not None or "password" in parse_qs(parts.query):
        return ("must not contain a password: name an environment variable in "
                "journal.password_env, or use a libpq service file or ~/.pgpass")
    return None


@dataclass(frozen=True, slots=True)
class PgTarget:
    """A PostgreSQL journal: its URL (no password), the password if the config named one, and
    how long a connection attempt may take."""

    url: str
    password: SecretStr | None = None
    connect_timeout_seconds: int = 5

    @classmethod
    def from_url(cls, url: str, password: SecretStr | None = None,
                 connect_timeout_seconds: int = 5) -> PgTarget:
        problem = url_problem(url)
        if problem is not None:
            raise ConfigError(problem, key="journal.url")
        return cls(url, password, connect_timeout_seconds)

    @property
    def display(self) -> str:
        """``host:port/database`` for messages (a unix socket's directory stands for the host),
        or ``service NAME`` for a libpq service."""
        parts = urlsplit(self.url)
        query = parse_qs(parts.query)
        if "service" in query and not parts.hostname:
            return f"service {query['service'][0]}"  # libpq reads the rest from the file
        host = parts.hostname or (query.get("host") or ["localhost"])[0]
        port = parts.port or int((query.get("port") or [str(DEFAULT_PORT)])[0])
        database = parts.path.lstrip("/") or (query.get("dbname") or [parts.username or ""])[0]
        return f"{host}:{port}/{database}"

    def connect(self, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
        """A new connection (psycopg, sync). Raises ``JournalUnavailable`` naming host and port
        when the database cannot be reached or refuses the login."""
        import psycopg

        try:
            return psycopg.connect(self.url, **self._options(autocommit), **kwargs)
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from None

    async def connect_async(
        self, *, autocommit: bool = True, **kwargs: Any
    ) -> psycopg.AsyncConnection[Any]:
        """``connect`` for the event loop (psycopg's async connection)."""
        import psycopg

        try:
            return await psycopg.AsyncConnection.connect(
                self.url, **self._options(autocommit), **kwargs)
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException) -> JournalUnavailable:
        """The one-line error for a failed connection: where, and libpq's first line."""
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if self.password is not None:
            reason = reason.replace(self.password.get_secret_value(), "***")
        return JournalUnavailable(
            f"cannot reach the PostgreSQL journal at {self.display}: {reason}")

    def _options(self, autocommit: bool) -> dict[str, Any]:
        options: dict[str, Any] = {
            "autocommit": autocommit,
            "connect_timeout": self.connect_timeout_seconds,
            "application_name": APPLICATION_NAME,
        }
        if self.password is not None:
            options["password"] = self.password.get_secret_value()
        return options
