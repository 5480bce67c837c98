"""Logins, sessions, CSRF tokens and the lock-out delay of the dashboard.

Sessions live in this process's memory: a random id in a cookie (HttpOnly, SameSite=Strict,
Secure over TLS) names a server-side record holding the expiry and the session's CSRF token.
Nothing secret is derived from the password, so a stolen cookie is worth one session and a
restart logs everyone out. Every state-changing request must carry the session's CSRF token
(synchroniser token pattern), compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from ..security import secret_matches

COOKIE = "alert_router_session"
MAX_SESSIONS = 1000  # the oldest is dropped beyond this: logins cannot fill the memory
FREE_FAILURES = 3  # wrong passwords from one address before the delay starts
FIRST_DELAY_SECONDS = 2.0  # then doubled at every further failure
MAX_DELAY_SECONDS = 300.0
MAX_TRACKED_ADDRESSES = 4096


@dataclass(slots=True)
class Session:
    session_id: str
    csrf_token: str
    expires_at: float
    notice: str | None = None  # what the last control did, shown once on the next page


@dataclass(frozen=True, slots=True)
class DashboardSecret:
    """The secret that opens the dashboard and where it came from (for the login page)."""

    value: SecretStr
    source: str  # where it came from, for the operator: "the variable NAME", ...
    generated: bool = False  # by ``serve`` without a config (the login page says where)


class Sessions:
    """The logged-in sessions of this process."""

    def __init__(self, lifetime_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self) -> Session:
        """A new session (a login): a fresh id and CSRF token, never reused."""
        now = self._clock()
        self._forget_expired(now)
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          now + self.lifetime)
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[session_id]
            return None
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]


def csrf_ok(session: Session, given: str | None) -> bool:
    """Whether a request carries this session's CSRF token (constant time)."""
    return hmac.compare_digest((given or "").encode(), session.csrf_token.encode())


def password_ok(given: str, secret: DashboardSecret) -> bool:
    return secret_matches(given, [secret.value])


class LoginThrottle:
    """The lock-out delay: after ``FREE_FAILURES`` wrong passwords from one address, that
    address must wait before the next attempt is even checked, twice as long after every
    further failure (up to ``MAX_DELAY_SECONDS``). A right password clears its record."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (count, locked until)

    def wait_seconds(self, address: str) -> float:
        """How long this address must still wait before a login attempt is checked."""
        _, until = self._failures.get(address, (0, 0.0))
        return max(0.0, until - self._clock())

    def failed(self, address: str) -> float:
        """Count a wrong password; returns the delay now imposed (0 while still free)."""
        count, _ = self._failures.pop(address, (0, 0.0))
        count += 1
        delay = 0.0
        if count > FREE_FAILURES:
            delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (count - FREE_FAILURES - 1))
        if len(self._failures) >= MAX_TRACKED_ADDRESSES:
            del self._failures[next(iter(self._failures))]
        self._failures[address] = (count, self._clock() + delay)
        return delay

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
