"""Are an account's keys good? One signed, read-only call per account, classified.

Used by ``alert-router check-config --online`` and by ``serve`` (at start, then in the
background, shown by ``GET /readyz``), so a wrong or expired key is found before the first
alert rather than by it. The call is the account's balance: every broker implements it, it
needs only a read permission and it changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .brokers import Broker, BrokerContext
from .errors import (
    AuthError,
    ConfigError,
    PermissionDenied,
    RateLimited,
    RouterError,
    VenueUnavailable,
)

if TYPE_CHECKING:
    from .config import RouterConfig
    from .plugins import PluginSet

log = logging.getLogger("router_core.credentials")

CHECK_TIMEOUT_SECONDS = 20.0


class KeyState(StrEnum):
    OK = "ok"
    REJECTED_KEY = "rejected key"
    MISSING_PERMISSION = "missing permission"
    CLOCK_OR_NONCE = "clock or nonce trouble"
    UNREACHABLE = "unreachable"
    NOT_CONFIGURED = "not configured"
    CANNOT_CHECK = "cannot check"
    FAILED = "failed"

    @property
    def usable(self) -> bool:
        """Whether alerts can trade on the account as far as this check can tell."""
        return self in (KeyState.OK, KeyState.CANNOT_CHECK)


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """One account's verdict and the venue's own words (never a secret: broker errors are
    written without them, and ConfigError names variables, not values)."""

    account: str
    broker: str
    state: KeyState
    detail: str

    def line(self) -> str:
        return f"{self.account} ({self.broker}): {self.state.value}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {"broker": self.broker, "state": self.state.value, "detail": self.detail}


async def check_account(name: str, broker: Broker) -> AccountCheck:
    """Start the broker if needed and read its balance; the outcome says what is wrong."""
    if broker.stub:
        return AccountCheck(name, broker.name, KeyState.CANNOT_CHECK,
                            f"{broker.name} is a stub: it has no venue to ask")
    try:
        balance = await asyncio.wait_for(broker.balance(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return AccountCheck(name, broker.name, KeyState.UNREACHABLE,
                            f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s")
    except Exception as exc:  # every failure is a verdict, never a crash
        return AccountCheck(name, broker.name, classify(exc), _words(exc))
    return AccountCheck(name, broker.name, KeyState.OK,
                        f"signed balance read accepted ({balance.currency})")


async def check_accounts(brokers: Iterable[tuple[str, Broker]]) -> list[AccountCheck]:
    """Every account at once; one slow venue does not hold up the others' verdicts."""
    pairs = list(brokers)
    return list(await asyncio.gather(*(check_account(name, b) for name, b in pairs)))


def classify(exc: BaseException) -> KeyState:
    if isinstance(exc, AuthError):
        text = f"{exc} {getattr(exc, 'venue_code', '') or ''}".lower()
        if "nonce" in text or "clock" in text:
            return KeyState.CLOCK_OR_NONCE
        return KeyState.REJECTED_KEY
    if isinstance(exc, PermissionDenied):
        return KeyState.MISSING_PERMISSION
    if isinstance(exc, VenueUnavailable | RateLimited):
        return KeyState.UNREACHABLE
    if isinstance(exc, ConfigError):
        return KeyState.NOT_CONFIGURED
    return KeyState.FAILED


def _words(exc: BaseException) -> str:
    if isinstance(exc, RouterError):
        return str(exc)
    log.error("credentials check failed with %s", type(exc).__name__, exc_info=True)
    return f"{type(exc).__name__} (a bug in the plugin or an answer it did not expect; see the log)"


async def check_configured_accounts(
    config: RouterConfig, plugins: PluginSet, environ: Mapping[str, str]
) -> list[AccountCheck]:
    """``check-config --online``: build each enabled account's broker (no journal, no
    router), check it, close it. Nonce ceilings live in the config's state directory, shared
    with ``serve``, so a check never makes the next real request look replayed."""
    from .clock import SystemClock
    from .nonces import NonceRegistry
    from .ratelimit import RateLimiterRegistry

    state_dir = config.router.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    clock = SystemClock()
    nonces, limiters = NonceRegistry(state_dir), RateLimiterRegistry(clock)
    brokers, unbuilt = [], []
    for name, account in config.accounts.items():
        if not account.enabled:
            continue
        context = BrokerContext(account=name, state_dir=state_dir, nonces=nonces,
                                limiters=limiters, clock=clock, environ=environ)
        try:
            broker = plugins.brokers.get(account.broker)(account.settings, context)
        except RouterError as exc:  # a broker that reads its keys when built
            unbuilt.append(AccountCheck(name, account.broker, classify(exc), str(exc)))
            continue
        brokers.append((name, broker))
    try:
        checks = unbuilt + await check_accounts(brokers)
        order = list(config.accounts)
        return sorted(checks, key=lambda check: order.index(check.account))
    finally:
        for _, broker in brokers:
            try:
                await broker.close()
            except Exception:  # closing must not hide the verdicts
                log.warning("closing %s failed", broker, exc_info=True)
