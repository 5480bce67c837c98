"""This process's part in a cluster of ``serve`` instances sharing one PostgreSQL journal.

``Cluster`` runs four small loops beside the webhook:

* heartbeat: renews this incarnation every ``heartbeat_seconds``, takes free keys up to its fair
  share, gives an idle key back when it holds more than its share, and stops driving everything
  when it could not renew within ``lease_seconds`` (then it comes back as a new incarnation);
* takeover: for each key taken, the legs of its accounts left without a final outcome are looked
  up by client order id (``Router.recover(accounts=...)``) before its work runs;
* work: claims the rows of the keys it drives (woken by LISTEN/NOTIFY, polling as a fallback)
  and executes each with the router's own account executor;
* sweeper: adopts alerts answered 2xx whose assembling instance died, and finishes them.

The router calls ``run_account`` for each account of an alert; the account runs here when this
instance drives its key, and on the owner otherwise; either way the result comes back through
the work table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..account import AccountResult
from ..config import AccountConfig
from ..models import LegPurpose, LegReport, OrderResult, OrderStatus
from . import cluster_enabled
from .db import Connection
from .keys import api_key, lease_keys
from .leases import LeaseTable
from .nonce_ceilings import PgCeilings
from .results import result_from_dict, result_to_dict
from .schema import ensure_schema
from .work import DONE_CHANNEL, WORK_CHANNEL, WorkRow, WorkTable

if TYPE_CHECKING:
    from ..alert import Alert
    from ..brokers import Broker
    from ..journal_location import PgTarget
    from ..router import Router

log = logging.getLogger("router_core.cluster")

# The holder stops driving its keys this far (a fraction of the lease) before the database
# would let another instance take them: room for a slow clock and a late timer.
DEADLINE_FRACTION = 0.8
MIN_HOLD_BEATS = 5  # a key is held this many heartbeats before it may be given back
CLOSE_SECONDS = 10.0  # on shutdown, how long local work may still run before it is cancelled
PURGE_INTERVAL_SECONDS = 3600.0  # finished work rows go with the journal's retention


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    instance_id: str
    lease_seconds: float = 5.0
    heartbeat_seconds: float = 1.0
    poll_seconds: float = 1.0


@dataclass
class _Key:
    """A key this incarnation drives."""

    generation: int
    taken_at: float  # monotonic
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # takeover recovery finished
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    busy: int = 0  # run_account calls between "mine?" and the start of their local task
    draining: bool = False  # being given back: no new work starts here, running work finishes

    @property
    def open(self) -> bool:
        """New work for the key starts here."""
        return self.ready.is_set() and not self.draining


class Cluster:
    def __init__(self, router: Router, settings: ClusterSettings, target: PgTarget,
                 ceilings: PgCeilings | None = None) -> None:
        self.router = router
        self.ceilings = ceilings  # the nonce ceilings shared with the key's next owner
        self.settings = settings
        self.target = target
        self.leases = LeaseTable(Connection(target, "leases"), settings.lease_seconds)
        self.work = WorkTable(Connection(target, "work"))
        self.incarnation = ""
        self._registered = False
        self._keys: dict[str, _Key] = {}
        self._waiters: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._assembling: set[str] = set()
        self._valid_until = 0.0
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[Any]] = []
        self._stopping = False
        # Set by close just before it cancels the loops: each loop also checks it, because on
        # Python 3.11 a cancellation arriving as asyncio.wait_for's inner await finishes can be
        # swallowed, and a loop that only waited for it would then run on and close would hang.
        self._loops_ending = False
        self.live = 1
        self.share = 0
        self._outage_logged = False
        self._new_incarnation()

    # -- what the router and the server ask -----------------------------------------------------

    @property
    def account_keys(self) -> dict[str, str]:
        """Account name -> lease key, under the running config (a reload may change it)."""
        return lease_keys(self.router.config.accounts.values())

    def drives(self, account: str) -> bool:
        """Whether this instance drives the account's key now (key checks, status pages)."""
        key = self.account_keys.get(account)
        return key is not None and key in self._keys

    def status(self) -> dict[str, Any]:
        """For /healthz: who this is and what it drives; no secrets (keys are fingerprints)."""
        return {
            "instance_id": self.settings.instance_id,
            "incarnation": self.incarnation,
            "instances_alive": self.live,
            "keys_driven": sorted(self._keys),
            "accounts_driven": sorted(a for a, k in self.account_keys.items() if k in self._keys),
            "lease_valid": time.monotonic() < self._valid_until,
        }

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the tables, register, take a first share of the keys (their takeover runs in
        the background: their work waits for it, the webhook does not), start the loops."""
        await asyncio.to_thread(ensure_schema, self.target)
        await self._beat()
        self._loops = [asyncio.create_task(loop(), name=f"cluster {loop.__name__}")
                       for loop in (self._heartbeat_loop, self._work_loop, self._listen_loop,
                                    self._poll_loop, self._sweep_loop)]
        log.info("cluster: instance %s started (%d instance(s) alive, driving %d of %d keys)",
                 self.settings.instance_id, self.live, len(self._keys),
                 len(set(self.account_keys.values())))

    async def close(self) -> None:
        """Stop: local work finishes (within a bound), the keys are released so the others take
        them at their next heartbeat instead of waiting for the lease to expire."""
        self._stopping = True
        running = {task for key in self._keys.values() for task in key.tasks}
        if running:
            _, late = await asyncio.wait(running, timeout=CLOSE_SECONDS)
            for task in late:
                task.cancel()
        self._loops_ending = True
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._keys.clear()
        try:
            await asyncio.wait_for(self.leases.retire(self.incarnation),
                                   self.settings.lease_seconds)
        except (Exception, TimeoutError) as exc:  # the leases expire by themselves
            log.warning("cluster: could not release the leases (%s); they expire in %.0f s",
                        type(exc).__name__, self.settings.lease_seconds)
        for db in (self.leases.db, self.work.db):
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(db.close(), self.settings.lease_seconds)
        if self.ceilings is not None:
            self.ceilings.close()

    # -- the accounts of an alert ----------------------------------------------------------------

    async def run_account(self, alert: Alert, alert_id: str, intent_key: str,
                          account: AccountConfig, multiplier: Decimal,
                          broker: Broker) -> AccountResult:
        """The account's part of the alert, executed by whoever drives its key, once."""
        key = self.account_keys.get(account.name)
        if key is None:  # disabled since: the router refuses such accounts before this
            raise RuntimeError(f"account {account.name} has no lease key")
        assembler = None  # the first account's row also says who assembles the report
        if alert_id not in self._assembling:
            self._assembling.add(alert_id)
            assembler = self.incarnation
        pair = (alert_id, account.name)
        waiter = self._waiters.get(pair)
        if waiter is None:
            waiter = self._waiters[pair] = asyncio.get_running_loop().create_future()
        held = self._keys.get(key)
        mine = held is not None and held.open
        if held is not None:
            held.busy += 1
        try:
            row = await self.work.enqueue(alert_id, account.name, key, format(multiplier, "f"),
                                          self.incarnation if mine else None,
                                          assembler=assembler)
            if row.inserted and mine and held is self._keys.get(key):
                assert held is not None
                self._start(held, row, alert, intent_key)
            elif row.state == "done" and row.result is not None:
                self._resolve(pair, row.result)
        finally:
            if held is not None:
                held.busy -= 1
        try:
            data = await asyncio.shield(waiter)
        finally:
            if waiter.done():
                self._assembling.discard(alert_id)
        return result_from_dict(data)

    def _resolve(self, pair: tuple[str, str], data: dict[str, Any]) -> None:
        waiter = self._waiters.pop(pair, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(data)

    def _start(self, held: _Key, row: WorkRow, alert: Alert | None = None,
               intent_key: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._execute(row, alert, intent_key))
        held.tasks.add(task)
        task.add_done_callback(held.tasks.discard)

    async def _execute(self, row: WorkRow, alert: Alert | None, intent_key: str | None) -> None:
        """Run one account's part here (this instance drives its key), store the result."""
        router = self.router
        if alert is None or intent_key is None:
            from ..alert import Alert

            record = await asyncio.to_thread(router.journal.get_alert, row.alert_id)
            if record is None:
                log.error("cluster: work for alert %s, which is not in the journal", row.alert_id)
                return
            alert, intent_key = Alert.model_validate(record.alert), record.intent_key
        account = router.config.accounts.get(row.account)
        broker = router.brokers.get(row.account)
        if account is None or broker is None or not account.enabled:
            reason = (f"account {row.account} is not configured (or disabled) on instance "
                      f"{self.settings.instance_id}: give every instance the same config")
            result = AccountResult([LegReport(row.account, "?", LegPurpose.OPEN,
                                              OrderResult(OrderStatus.DENIED, "", reason=reason))],
                                   [], None)
        else:
            result = await router.accounts.execute(alert, row.alert_id, intent_key, account,
                                                   Decimal(row.multiplier), broker)
        await router.journal.flush()  # the legs' outcomes are stored before the row says done
        data = result_to_dict(result)
        while True:
            try:
                if await self.work.complete(row.alert_id, row.account, self.incarnation, data):
                    self._resolve((row.alert_id, row.account), data)
                return
            except Exception as exc:  # the database is away: keep the result, try again
                log.warning("cluster: could not store the result of alert %s on %s: %s",
                            row.alert_id, row.account, type(exc).__name__)
                await asyncio.sleep(self.settings.poll_seconds)

    # -- heartbeat and leases ----------------------------------------------------------------------

    def _new_incarnation(self) -> None:
        self.incarnation = f"{self.settings.instance_id}/{uuid.uuid4().hex[:8]}"
        self._registered = False

    async def _heartbeat_loop(self) -> None:
        while not self._loops_ending:
            started = time.monotonic()
            try:
                await asyncio.wait_for(self._beat(), timeout=self.settings.lease_seconds / 2)
                if self._outage_logged:
                    log.warning("cluster: the database answers again")
                    self._outage_logged = False
            except (Exception, TimeoutError) as exc:
                if not self._outage_logged:
                    log.error("cluster: heartbeat failed (%s); the keys are dropped if it keeps "
                              "failing for %.1f s", type(exc).__name__,
                              self.settings.lease_seconds * DEADLINE_FRACTION)
                    self._outage_logged = True
            if self._keys and time.monotonic() > self._valid_until:
                self._lose("its lease could not be renewed in time")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.settings.heartbeat_seconds - elapsed))

    async def _beat(self) -> None:
        """One heartbeat: renew (or register), then balance the keys."""
        started = time.monotonic()
        if not self._registered:
            await self.leases.register(self.incarnation, self.settings.instance_id)
            self._registered = True
        elif not await self.leases.renew(self.incarnation):
            self._lose("it had expired (its heartbeat stopped for longer than the lease)")
            return
        self._valid_until = started + self.settings.lease_seconds * DEADLINE_FRACTION
        keys = sorted(set(self.account_keys.values()))
        balance = await self.leases.balance(self.incarnation, keys)
        self.live, self.share = balance.live, balance.share
        lost = set(self._keys) - balance.owned
        if lost:  # only if someone broke the rules (a manual UPDATE): stop driving them
            self._drop(lost)
        for key, generation in balance.taken.items():
            self._take(key, generation)
        if not balance.taken:
            await self._give_back_one(balance.share)

    def _take(self, key: str, generation: int) -> None:
        held = self._keys[key] = _Key(generation, time.monotonic())
        accounts = sorted(a for a, k in self.account_keys.items() if k == key)
        log.info("cluster: %s takes key %s (accounts %s, generation %d)",
                 self.settings.instance_id, key, ", ".join(accounts), generation)
        task = asyncio.get_running_loop().create_task(self._takeover(key, held, accounts))
        held.tasks.add(task)
        task.add_done_callback(held.tasks.discard)

    async def _takeover(self, key: str, held: _Key, accounts: list[str]) -> None:
        """Settle the legs a previous owner left without a final outcome (looked up by client
        order id), then let the key's work run."""
        try:
            self._refresh_nonces(accounts)
            await self.router.recover(accounts=set(accounts))
        except Exception as exc:  # the next takeover looks again; the work re-runs look up too
            log.error("cluster: takeover of key %s: reconciling failed: %s", key,
                      type(exc).__name__)
        held.ready.set()
        self._wake.set()

    def _refresh_nonces(self, accounts: list[str]) -> None:
        """Nonces for the key start above the ceiling its previous owner stored."""
        nonces = getattr(self.router, "_nonces", None)
        for name in accounts:
            account = self.router.config.accounts.get(name)
            public = api_key(account) if account is not None else None
            if nonces is not None and public is not None:
                nonces.refresh(public)

    async def _give_back_one(self, share: int) -> None:
        """Rebalance: when this instance drives more keys than its share, it gives one back so
        a newer instance takes it. The key drains first (no new work starts here; what runs
        finishes), then its lease is released; its pending work waits in the table for the
        next owner."""
        over = len(self._keys) > share and not self._stopping
        draining = [(key, held) for key, held in self._keys.items() if held.draining]
        if not over:
            for _, held in draining:  # an instance died meanwhile: keep driving it
                held.draining = False
            return
        if not draining:
            now = time.monotonic()
            settled = [(len(held.tasks), key, held) for key, held in self._keys.items()
                       if held.ready.is_set()
                       and now - held.taken_at > MIN_HOLD_BEATS * self.settings.heartbeat_seconds]
            if not settled:
                return
            _, key, held = min(settled, key=lambda item: (item[0], item[1]))
            held.draining = True
            draining = [(key, held)]
        key, held = draining[0]
        if held.tasks or held.busy:
            return  # still finishing its work: the next heartbeat looks again
        del self._keys[key]  # no await since the check: no work can start on it now
        await self.leases.release(self.incarnation, [key])
        log.info("cluster: %s gives key %s back (it drives more than its share, %d)",
                 self.settings.instance_id, key, share)

    def _drop(self, keys: set[str]) -> None:
        for key in keys:
            held = self._keys.pop(key, None)
            if held is not None:
                for task in held.tasks:
                    task.cancel()

    def _lose(self, why: str) -> None:
        """Stop driving every key at once (their in-flight legs are looked up by the next
        owner) and come back as a new incarnation at the next heartbeat."""
        if self._keys:
            log.error("cluster: %s stops driving %d key(s): %s", self.settings.instance_id,
                      len(self._keys), why)
        self._drop(set(self._keys))
        self._new_incarnation()

    # -- work -------------------------------------------------------------------------------------

    async def _work_loop(self) -> None:
        while not self._loops_ending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
            self._wake.clear()
            ready = {key: held for key, held in self._keys.items() if held.open}
            if not ready or self._stopping:
                continue
            try:
                rows = await self.work.claim(self.incarnation, sorted(ready))
            except Exception as exc:
                log.warning("cluster: claiming work failed: %s", type(exc).__name__)
                continue
            for row in rows:
                held = self._keys.get(row.lease_key)
                if held is not None:
                    self._start(held, row)

    async def _listen_loop(self) -> None:
        """LISTEN for new work and finished rows; reconnects after an error (polling covers
        the gap)."""
        while not self._loops_ending:
            try:
                async with await self.target.connect_async(autocommit=True) as conn:
                    await conn.execute(f"LISTEN {WORK_CHANNEL}")
                    await conn.execute(f"LISTEN {DONE_CHANNEL}")
                    async for note in conn.notifies():
                        if note.channel == WORK_CHANNEL:
                            if note.payload in self._keys:
                                self._wake.set()
                        else:
                            alert_id, _, account = note.payload.partition(" ")
                            if (alert_id, account) in self._waiters:
                                await self._collect([(alert_id, account)])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("cluster: listener reconnects after %s", type(exc).__name__)
                await asyncio.sleep(self.settings.poll_seconds)

    async def _poll_loop(self) -> None:
        """The fallback for a lost notification: wake the work loop, collect finished rows."""
        while not self._loops_ending:
            await asyncio.sleep(self.settings.poll_seconds)
            self._wake.set()
            pending = [pair for pair, waiter in self._waiters.items() if not waiter.done()]
            if pending:
                with contextlib.suppress(Exception):
                    await self._collect(pending)

    async def _collect(self, pairs: list[tuple[str, str]]) -> None:
        for pair, data in (await self.work.results(pairs)).items():
            self._resolve(pair, data)

    # -- orphans ----------------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        """Alerts answered 2xx whose assembling instance died are adopted and finished here."""
        grace = 2 * self.settings.lease_seconds
        purged_at = 0.0
        while not self._loops_ending:
            await asyncio.sleep(self.settings.lease_seconds)
            if self._stopping or not self._registered:
                continue
            if time.monotonic() - purged_at > PURGE_INTERVAL_SECONDS:
                purged_at = time.monotonic()
                retention = self.router.config.server.dedup_retention_days * 86400
                with contextlib.suppress(Exception):  # housekeeping: the next round retries
                    await self.work.purge(retention)
            try:
                unfinished = await asyncio.to_thread(self.router.journal.unfinished_alerts)
                cutoff = time.time() - grace
                for record in unfinished:
                    if record.received_at > cutoff or record.alert_id in self._assembling:
                        continue
                    if await self.work.adopt(record.alert_id, self.incarnation):
                        log.warning("cluster: %s adopts alert %s (its instance stopped before "
                                    "finishing it)", self.settings.instance_id, record.alert_id)
                        self._assembling.add(record.alert_id)
                        self.router.spawn(record.alert_id)
            except Exception as exc:
                log.warning("cluster: sweeping unfinished alerts failed: %s", type(exc).__name__)


def cluster_for(router: Router) -> Cluster | None:
    """The router's cluster membership under its config: ``[cluster] enabled``, by default on
    exactly when the journal is PostgreSQL (a SQLite journal cannot be shared)."""
    config = router.config.cluster
    target = getattr(router.journal, "pg_target", None)
    if not cluster_enabled(config, target):
        return None
    if target is None:
        from ..errors import ConfigError

        raise ConfigError("several instances need a shared journal: set [journal] url to a "
                          "PostgreSQL database, or remove [cluster] enabled = true",
                          file=str(router.config.path) if router.config.path else None,
                          key="cluster.enabled")
    settings = ClusterSettings(
        instance_id=config.instance_id or default_instance_id(),
        lease_seconds=config.lease_seconds,
        heartbeat_seconds=config.heartbeat_seconds,
        poll_seconds=config.poll_seconds,
    )
    ensure_schema(target)  # before the first shared read (instances migrate one at a time)
    ceilings = PgCeilings(target)
    nonces = getattr(router, "_nonces", None)
    if nonces is not None:  # each key's nonce ceiling is shared with its next owner
        nonces.share_ceilings(ceilings)
    return Cluster(router, settings, target, ceilings)
