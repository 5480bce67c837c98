"""Re-reading the config while serving (SIGHUP, ``alert-router reload``, ``POST /admin/reload``).

The new file is validated in full first; if it is invalid, the running config stays and the
reason is logged and returned. If it is valid, it is swapped in between alerts: an alert being
executed keeps the account settings and the broker it started with, the next alert sees the
new ones. Accounts whose broker settings did not change keep their broker (its connections,
caches and rate budgets); the others get a new one, started before the swap, and the old one
is closed once the alerts using it have finished.

What a reload cannot change without a restart (the plugins loaded, the state directory and
journal, the webhook's listening address and credentials) is refused or reported as such.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ConfigError, RouterError

if TYPE_CHECKING:
    from .brokers import Broker
    from .config import RouterConfig
    from .router import Router

log = logging.getLogger("router_core.reload")

# [server] keys the webhook reads once, when it starts
SERVER_KEYS_NEEDING_RESTART = (
    "host", "port", "passphrase_env", "passphrase_file", "admin_token_env", "route_tokens_env",
    "ip_allowlist", "trusted_proxies", "hmac_secrets_env", "max_body_bytes",
    "dedup_retention_days",
)


@dataclass(frozen=True)
class ReloadOutcome:
    reloaded: bool
    message: str
    accounts_changed: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {"reloaded": self.reloaded, "message": self.message,
                "accounts_changed": list(self.accounts_changed),
                "needs_restart": list(self.needs_restart)}


async def reload_config(router: Router) -> ReloadOutcome:
    """Re-read ``router.config.path`` and swap it in; never raises for a bad file."""
    from .config import load_config
    from .router import enabled_plugins

    path = router.config.path
    try:
        if path is not None and enabled_plugins(path) != router.config_plugins:
            raise ConfigError("[router] plugins changed: that needs a restart", key="router")
        new = load_config(path, router.plugins.brokers)
        _same_state(router.config, new)
    except RouterError as exc:
        log.error("config not reloaded, the running one stays: %s", exc)
        return ReloadOutcome(False, f"config not reloaded, the running one stays: {exc}")
    async with router.reload_lock:
        return await _swap(router, new)


def _same_state(old: RouterConfig, new: RouterConfig) -> None:
    if (old.router.state_dir, old.router.journal_path) != (new.router.state_dir,
                                                            new.router.journal_path):
        raise ConfigError("[router] state_dir or journal changed: that needs a restart",
                          key="router")
    if old.journal != new.journal:
        raise ConfigError("[journal] changed: that needs a restart", key="journal")


async def _swap(router: Router, new: RouterConfig) -> ReloadOutcome:
    old = router.config
    brokers: dict[str, Broker] = {}
    started: list[Broker] = []
    for name, account in new.accounts.items():
        if not account.enabled:
            continue
        before = old.accounts.get(name)
        kept = router.brokers.get(name)
        if (kept is not None and before is not None and before.broker == account.broker
                and before.settings == account.settings):
            brokers[name] = kept
            continue
        broker = router.make_broker(name, account)
        brokers[name] = broker
        started.append(broker)
    results = await asyncio.gather(*(b.start() for b in started), return_exceptions=True)
    for broker, result in zip(started, results, strict=True):
        if isinstance(result, Exception):
            log.error("account %s did not start after the reload: %s", broker.account, result)
    retired = [b for name, b in router.brokers.items() if brokers.get(name) is not b]
    changed = tuple(sorted(
        {b.account for b in started} | {b.account for b in retired}
        | {n for n in new.accounts if new.accounts[n] != old.accounts.get(n)}
        | {n for n in old.accounts if n not in new.accounts}
    ))
    router.swap_config(new, brokers)  # between two statements: no await, so between alerts
    router.runner.policy = router.reconcile_policy()
    if retired:
        asyncio.get_running_loop().create_task(_close_after_in_flight(router, retired))
    restart = tuple(key for key in SERVER_KEYS_NEEDING_RESTART
                    if getattr(old.server, key) != getattr(new.server, key))
    message = "config reloaded" + (f"; accounts changed: {', '.join(changed)}" if changed
                                   else "; no account changed")
    if restart:
        message += (f"; [server] {', '.join(restart)} changed and take effect after a "
                    "restart")
    log.warning("%s", message)
    return ReloadOutcome(True, message, changed, restart)


async def _close_after_in_flight(router: Router, retired: list[Broker]) -> None:
    """Close replaced brokers once every alert that may still use them has finished."""
    in_flight = list(router.in_flight())
    if in_flight:
        await asyncio.gather(*in_flight, return_exceptions=True)
    for broker in retired:
        try:
            await broker.close()
        except Exception as exc:  # closing must not hide anything else
            log.warning("closing the replaced %s failed: %s", broker, exc)
