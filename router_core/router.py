"""The data path, in order. The only module that knows the order of the steps.

``accept`` takes a raw body to a durable claim in the journal (the webhook answers here);
``execute`` takes a claimed alert to an ExecutionReport: the accounts it was routed to fan out
concurrently, each run by ``account`` (resolve, plan with ``account_plan``, send with
``sequencing``); ``recover`` settles what an earlier run left unfinished.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .account import AccountExecutor, AccountResult
from .account_plan import AccountPlanner
from .brokers import Broker, BrokerContext
from .clock import Clock, SystemClock
from .cluster import cluster_enabled
from .config import AccountConfig, RouterConfig, load_config, plugin_settings
from .errors import AlertError, ConfigError, RouterError
from .execution import LegRunner, ReconcilePolicy
from .fills import FillEvents, FillStreams
from .hooks import StartupContext
from .journal import AlertState, Claim, ClaimOutcome, Journal
from .json_text import text_encoder
from .models import (
    Action,
    ExecutionReport,
    LegPurpose,
    LegReport,
    OrderResult,
    OrderStatus,
    Plan,
    PositionReport,
    Side,
)
from .nonces import NonceRegistry
from .normalize import normalize
from .orders import uuid_text
from .plugins import PluginSet, make_plugin_manager
from .ratelimit import RateLimiterRegistry
from .risk import check_lag, check_recovered_lag
from .sequencing import PlanSequencer

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from .alert import Alert
    from .metrics import RouterMetrics

log = logging.getLogger("router_core")

HALT_FLAG = "halt"
ACCOUNT_HALT_PREFIX = "halt:account:"  # + the account's name: that account alone is halted
MAX_CLAIMED_IN_MEMORY = 10_000
MAX_ROUTINGS_KEPT = 256  # distinct account lists whose routing is kept (``_routing_of``)


# The journal's alert text (``json.dumps(public)``) and the fingerprint's (keys sorted).
_ALERT_TEXT = text_encoder()
_FINGERPRINT_TEXT = text_encoder(sort_keys=True)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The answer to a delivery: what the webhook tells the sender."""

    outcome: ClaimOutcome
    alert_id: str
    alert: Alert | None = None
    # The journal group that committed the claim when its fsync was deferred
    # (``accept_async(durable=False)``): ``make_durable`` waits for it. None: on disk already.
    deferred_group: int | None = None


@dataclass
class Router:
    config: RouterConfig
    plugins: PluginSet
    journal: Journal
    clock: Clock = field(default_factory=SystemClock)
    transport: httpx.AsyncBaseTransport | None = None
    brokers: dict[str, Broker] = field(default_factory=dict)
    _nonces: NonceRegistry | None = None
    _limiters: RateLimiterRegistry | None = None
    _config_plugins: Sequence[str] | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _runner: LegRunner | None = None
    _planner: AccountPlanner | None = None
    _sequencer: PlanSequencer | None = None
    _accounts: AccountExecutor | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _plugins_started: bool = False  # router_startup ran: close() calls router_shutdown
    # Alerts claimed by this process and not executed yet, with their intent keys: execute
    # takes them from here instead of reading the journal back and validating again.
    _claimed: dict[str, tuple[Alert, str, dict[str, dict[str, str]] | None]] = field(
        default_factory=dict
    )
    metrics: RouterMetrics | None = None  # set by the web app when [metrics] is on
    # Each account's digest (``account_digest``) with the AccountConfig it was computed from:
    # computed once per account config, again for the new object a reload builds.
    _digests: dict[str, tuple[AccountConfig, str]] = field(default_factory=dict)
    # Several instances on one PostgreSQL journal (router_core.cluster.Cluster); None: this
    # process drives every account itself, as a single instance always has.
    cluster: Any = None
    # Real-time fills (router_core.fills): ``serve`` sets ``stream_fills`` before ``start()``;
    # ``send`` and dry runs never open a stream.
    stream_fills: bool = False
    fill_events: FillEvents = field(default_factory=FillEvents)
    fill_streams: FillStreams | None = None
    # Accounts whose part of an alert is executing right now, over every alert: while it is
    # one, the journal may fsync leg intents on the loop (``Journal.commit_inline_when``).
    _accounts_executing: int = 0
    # Alerts accepted without an fsync of their claim (``accept_async(durable=False)``), with
    # the journal group to wait for before observers hear of them or anyone is answered.
    _deferred_claims: dict[str, int] = field(default_factory=dict)
    # The routing (and its JSON for the journal) by the account names an alert gives, for the
    # config it was computed under: every alert to the same accounts has the same one.
    _routings: dict[tuple[str, ...], tuple[dict[str, dict[str, str]] | None, str | None]] = \
        field(default_factory=dict)
    _routings_config: RouterConfig | None = None
    # Such a routing's targets as ``_routed_targets`` found them, when every account was
    # still as chosen, by the routing's id (the entry keeps the routing itself, so the id is
    # not reused while kept), for the config they were found under.
    _routed: dict[int, tuple[dict[str, dict[str, str]], list[tuple[AccountConfig, Decimal]]]] = \
        field(default_factory=dict)
    _routed_config: RouterConfig | None = None

    def __post_init__(self) -> None:
        self.journal.commit_inline_when(self._executing_alone)

    def _executing_alone(self) -> bool:
        return self._accounts_executing == 1

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_config_file(
        cls,
        path: Path | str | None,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        plugins: PluginSet | None = None,
    ) -> Router:
        """Load plugins and config, open the journal, build one broker per enabled account."""
        if plugins is None:
            enabled = enabled_plugins(path)
            plugins = make_plugin_manager(enabled)
        config = load_config(path, plugins.brokers)
        state_dir = config.router.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        clock = clock or SystemClock()
        journal = Journal(config.journal_target(), clock=clock)  # SQLite, or [journal] url
        router = cls(
            config=config, plugins=plugins, journal=journal, clock=clock, transport=transport
        )
        router._build_brokers()
        # Several instances on one PostgreSQL journal; without them, the instance machinery
        # is not imported.
        if cluster_enabled(config.cluster, journal.pg_target):
            from .cluster.node import cluster_for

            router.cluster = cluster_for(router)
        return router

    def _build_brokers(self) -> None:
        self._nonces = NonceRegistry(self.config.router.state_dir)
        self._limiters = RateLimiterRegistry(self.clock)
        for name, account in self.config.accounts.items():
            if account.enabled:
                self.brokers[name] = self.make_broker(name, account)
        self._config_plugins = enabled_plugins(self.config.path)
        self._runner = LegRunner(self.journal, self.plugins.hook, self.clock,
                                 self.reconcile_policy())

        self._planner = AccountPlanner(self.journal, self.plugins.hook, self.clock)
        self._sequencer = PlanSequencer(self._runner, self.journal, self.clock)
        self._sequencer.fill_events = self.fill_events
        self._accounts = AccountExecutor(self._planner, self._sequencer, self.journal,
                                         self.clock)

    def swap_config(self, config: RouterConfig, brokers: dict[str, Broker]) -> None:
        """Take a reloaded config and its brokers (``reload``); alerts already executing keep
        the account settings and brokers they started with."""
        self.config, self.brokers = config, brokers
        if self.fill_streams is not None:  # streams follow the accounts' new brokers
            from .cluster.keys import lease_keys

            self.fill_streams.update(brokers, lease_keys(config.accounts.values()))

    def reconcile_policy(self) -> ReconcilePolicy:
        return ReconcilePolicy(
            attempts=self.config.router.reconcile_attempts,
            window_seconds=self.config.router.reconcile_window_seconds,
        )

    def attach_metrics(self, metrics: RouterMetrics) -> None:
        """Record the order path into ``metrics`` (``serve`` with ``[metrics]`` on)."""
        self.metrics = self.runner.metrics = self.accounts.metrics = metrics

    @property
    def limiters(self) -> RateLimiterRegistry:
        """The rate budgets shared by the accounts' brokers (read by ``/metrics``)."""
        assert self._limiters is not None
        return self._limiters

    def in_flight(self) -> set[asyncio.Task[Any]]:
        """The alerts executing in the background now."""
        return set(self._tasks)

    @property
    def config_plugins(self) -> Sequence[str] | None:
        """The ``[router] plugins`` this process loaded (a reload cannot change them)."""
        return self._config_plugins

    def make_broker(self, name: str, account: AccountConfig) -> Broker:
        """One account's broker, sharing the process's nonce ceilings and rate budgets."""
        assert self._nonces is not None and self._limiters is not None
        context = BrokerContext(
            account=name,
            state_dir=self.config.router.state_dir,
            nonces=self._nonces,
            limiters=self._limiters,
            clock=self.clock,
            transport=self.transport,
        )
        return self.plugins.brokers.get(account.broker)(account.settings, context)

    @property
    def runner(self) -> LegRunner:
        assert self._runner is not None
        return self._runner

    @property
    def planner(self) -> AccountPlanner:
        assert self._planner is not None
        return self._planner

    @property
    def sequencer(self) -> PlanSequencer:
        assert self._sequencer is not None
        return self._sequencer

    @property
    def accounts(self) -> AccountExecutor:
        assert self._accounts is not None
        return self._accounts

    async def start(self) -> list[str]:
        """Start every broker, then settle what an earlier run left unfinished, before any new
        alert executes. Returns one line per problem found (a broker that did not start).
        Plugins' settings are validated first and their ``router_startup`` runs after the
        brokers, before recovery (a notifier sees the reports of resumed alerts)."""
        settings = self.plugin_settings()
        problems = await self.start_brokers()
        self._plugins_started = True  # close() stops whatever did start, even after a failure
        await self.plugins.calls.startup(
            settings, StartupContext(clock=self.clock, state_dir=self.config.router.state_dir),
            file=str(self.config.path) if self.config.path else None)
        if self.cluster is not None:  # each key's takeover settles its accounts' legs
            await self.cluster.start()
        else:
            await self.recover()
        if self.stream_fills:
            self.start_fill_streams()
        return problems

    def start_fill_streams(self) -> list[str]:
        """Open the fill streams of the accounts whose broker has one (one per API key; with
        the cluster, each runs only while this instance drives its key). Returns those
        accounts."""
        from .cluster.keys import lease_keys

        if self.fill_streams is None:
            self.fill_streams = FillStreams(self.journal, self.fill_events,
                                            cluster=self.cluster, now=self.clock.time,
                                            hooks=self.plugins.calls)
        return self.fill_streams.start(self.brokers, lease_keys(self.config.accounts.values()))

    def plugin_settings(self) -> dict[str, BaseModel]:
        """Each plugin's ``[plugins.NAME]`` table validated by its model (ConfigError naming the
        file and key otherwise)."""
        loaded = [name for name, _ in self.plugins.pm.list_name_plugin()]
        return plugin_settings(self.config, self.plugins.calls.settings_models(), loaded)

    async def start_brokers(self) -> list[str]:
        """Start every broker and nothing else (a dry run must not resume pending alerts)."""
        problems = []
        results = await asyncio.gather(
            *(broker.start() for broker in self.brokers.values()), return_exceptions=True
        )
        for name, result in zip(self.brokers, results, strict=True):
            if isinstance(result, ConfigError):
                raise result
            if isinstance(result, Exception):
                problems.append(f"account {name}: {result}")
                log.error("account %s did not start: %s", name, result)
        return problems

    async def close(self, drain_seconds: float | None = None) -> None:
        """Finish the alerts being executed (within ``drain_seconds`` when given: what is still
        running then stays journaled and is settled at the next start), then close brokers and
        the journal."""
        if self._tasks:
            _, running = await asyncio.wait(set(self._tasks), timeout=drain_seconds)
            if running:
                log.warning("%d alert(s) still executing after %.0f s; their legs are "
                            "journaled and are looked up at the next start", len(running),
                            drain_seconds or 0)
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        if self.fill_streams is not None:  # before the brokers close their connections
            await self.fill_streams.close()
        if self.cluster is not None:  # release the leases: the others take over at once
            await self.cluster.close()
        if self._plugins_started:  # after the last reports, before brokers and journal close
            self._plugins_started = False
            await self.plugins.calls.shutdown()
        for broker in self.brokers.values():
            try:
                await broker.close()
            except Exception as exc:  # closing must not hide anything else
                log.warning("closing %s failed: %s", broker, exc)
        await self.journal.flush()  # outcomes queued without waiting
        self.journal.close()

    # -- intake -------------------------------------------------------------------------------

    def accept(
        self,
        raw: bytes,
        content_type: str | None,
        *,
        peer: str | None = None,
        source: str = "webhook",
        authorize: Callable[[Alert], None] | None = None,
    ) -> Acceptance:
        """Parse and durably claim a delivery. Raises AlertError for a bad body, and for an
        alert older than ``[server] max_lag_seconds`` or without a time while it is set
        (nothing is journaled). A duplicate or a conflict names the earlier alert.
        ``authorize`` sees the parsed alert before the claim (the webhook's passphrase check);
        whatever it raises propagates and nothing is journaled."""
        alert, fields = self._claim_fields(raw, content_type, peer, source, authorize)
        earlier = self._too_late(alert, fields)
        if earlier is not None:
            self.journal.ensure_durable()  # the earlier claim may have deferred its fsync
            return earlier
        return self._accepted(self.journal.claim(**fields), alert, fields)

    async def accept_async(
        self,
        raw: bytes,
        content_type: str | None,
        *,
        peer: str | None = None,
        source: str = "webhook",
        authorize: Callable[[Alert], None] | None = None,
        durable: bool = True,
        delivery_key: str | None = None,
    ) -> Acceptance:
        """``accept`` for the event loop: the claim joins the journal's next group commit.
        ``delivery_key``: the body's sha256 in hex, when the caller has it already (the
        webhook hashes every body it reads).

        ``durable=False``: for a caller that executes the alert before answering anyone
        (``accept_and_execute``, the webhook's ``?wait=true``): the claim skips its own fsync,
        and the caller awaits ``make_durable`` before it answers. Before that, the claim is
        made durable by the first leg intent's commit, or by the sequencer before a cancel."""
        alert, fields = self._claim_fields(raw, content_type, peer, source, authorize,
                                           delivery_key)
        earlier = self._too_late(alert, fields)
        if earlier is not None:
            await self.journal.ensure_durable_async()  # the earlier claim may be deferred
            return earlier
        if durable:
            return self._accepted(await self.journal.claim_async(**fields), alert, fields)
        claim, group = await self.journal.claim_deferred_async(**fields)
        acceptance = self._accepted(claim, alert, fields, group)
        if acceptance.outcome is ClaimOutcome.NEW:
            self._deferred_claims[acceptance.alert_id] = group
        return acceptance

    async def make_durable(self, acceptance: Acceptance) -> None:
        """Return once the claim behind ``acceptance`` is on disk: at once when a durable
        commit (a leg intent's, or the claim's own) has covered it, else after one fsync."""
        self._deferred_claims.pop(acceptance.alert_id, None)
        if acceptance.deferred_group is not None:
            await self.journal.ensure_durable_async(acceptance.deferred_group)

    async def accept_and_execute(
        self,
        raw: bytes,
        content_type: str | None,
        *,
        peer: str | None = None,
        source: str = "webhook",
        authorize: Callable[[Alert], None] | None = None,
    ) -> tuple[Acceptance, ExecutionReport | None]:
        """Accept a delivery and execute it at once, for callers that answer only afterwards
        (``alert-router send``). One fsync per alert instead of two: the claim commits without
        its own, and is on disk before anything reaches a venue (covered by the first leg
        intent's durable commit) and before this returns. The report is None for a duplicate
        or a conflict, which are not executed again here."""
        acceptance = await self.accept_async(raw, content_type, peer=peer, source=source,
                                             authorize=authorize, durable=False)
        report = None
        try:
            if acceptance.outcome is ClaimOutcome.NEW:
                report = await self.execute(acceptance.alert_id)
        finally:
            await self.make_durable(acceptance)
        return acceptance, report

    def _too_late(self, alert: Alert, fields: dict[str, Any]) -> Acceptance | None:
        """The ``max_lag_seconds`` check, before the claim, so the sender is told at once.
        Raises AlertError (the webhook's 422) for an alert that arrived too late or does not
        say when it fired. A late re-delivery of an alert journaled already (checked in time
        then) answers as the DUPLICATE it is; nothing is claimed either way."""
        if self.config.server.max_lag_seconds is None:  # check_lag's own first answer
            return None
        refusal = check_lag(
            alert.timenow,
            alert.time,
            datetime.fromtimestamp(self.clock.time(), UTC),
            self.config.server.max_lag_seconds,
        )
        if refusal is None:
            return None
        earlier = self.journal.earlier_claim(
            fields["delivery_key"], fields["intent_key"], fields["fingerprint"]
        )
        if earlier is not None and earlier.outcome is ClaimOutcome.DUPLICATE:
            return Acceptance(ClaimOutcome.DUPLICATE, earlier.alert_id, alert)
        raise AlertError(refusal.field, refusal.reason)

    def _accepted(self, claim: Claim, alert: Alert, fields: dict[str, Any],
                  deferred_group: int | None = None) -> Acceptance:
        if claim.outcome is ClaimOutcome.NEW:
            if len(self._claimed) >= MAX_CLAIMED_IN_MEMORY:  # accepted, never executed here
                del self._claimed[next(iter(self._claimed))]
            self._claimed[claim.alert_id] = (alert, fields["intent_key"], fields["routing"])
        return Acceptance(claim.outcome, claim.alert_id, alert, deferred_group)

    def _claim_fields(
        self,
        raw: bytes,
        content_type: str | None,
        peer: str | None,
        source: str,
        authorize: Callable[[Alert], None] | None,
        delivery_key: str | None = None,
    ) -> tuple[Alert, dict[str, Any]]:
        alert = _parse_alert()(raw, content_type, self.plugins)
        if authorize is not None:
            authorize(alert)
        if delivery_key is None:  # not hashed by the caller: ~0.5 µs for a webhook body
            delivery_key = hashlib.sha256(raw).hexdigest()
        public = alert.public_dict()
        # Two deliveries are one alert when everything but the fire time (and the secret) is
        # equal; a same-intent body that differs in anything else is a conflict. (The public
        # dict never holds the passphrase; a copy only when it holds a fire time: ~0.7 µs.)
        fixed = public if "timenow" not in public and "passphrase" not in public else {
            k: v for k, v in public.items() if k not in ("timenow", "passphrase")}
        fingerprint = hashlib.sha256(_FINGERPRINT_TEXT(fixed).encode()).hexdigest()
        routing, routing_json = self._routing_of(alert)
        return alert, {
            "alert_id": new_alert_id(),
            "delivery_key": delivery_key,
            "intent_key": self.intent_key(alert, raw, delivery_key),
            "fingerprint": fingerprint,
            "alert": public,
            "alert_json": _ALERT_TEXT(public),  # the journal's text of it, made here
            "peer": peer,
            "source": source,
            "routing": routing,
            "routing_json": routing_json,
        }

    def _routing_of(
        self, alert: Alert
    ) -> tuple[dict[str, dict[str, str]] | None, str | None]:
        """``_routing`` and its JSON text, kept by the account names the alert gives for as
        long as the config stays the same object (a reload builds a new one): the same
        accounts under the same config always route the same way, and every alert to them
        shares one dict (read only) and one encoding instead of building both again."""
        if self._routings_config is not self.config:
            self._routings.clear()
            self._routings_config = self.config
        key = tuple(target.account for target in alert.accounts)
        kept = self._routings.get(key)
        if kept is None:
            if len(self._routings) >= MAX_ROUTINGS_KEPT:
                self._routings.clear()
            routing = self._routing(alert)
            kept = self._routings[key] = (
                routing, json.dumps(routing) if routing is not None else None)
        return kept

    def _routing(self, alert: Alert) -> dict[str, dict[str, str]] | None:
        """The accounts this alert goes to under the running config, each with a digest of
        its broker and settings; ``None`` when the alert names no usable account (execution
        then refuses it, naming why)."""
        try:
            targets = self._targets(alert)
        except ConfigError:
            return None
        return {account.name: {"broker": account.broker, "digest": self._digest(account)}
                for account, _ in targets}

    def _digest(self, account: AccountConfig) -> str:
        """``account_digest``, computed once per account config (it is frozen): the same
        object gives the digest kept, the new object a reload builds is digested again."""
        cached = self._digests.get(account.name)
        if cached is None or cached[0] is not account:
            cached = self._digests[account.name] = (account, account_digest(account))
        return cached[1]

    def spawn(self, alert_id: str) -> asyncio.Task[ExecutionReport]:
        """Execute in the background (the webhook has already answered)."""
        task = asyncio.get_running_loop().create_task(self.execute(alert_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- execution ----------------------------------------------------------------------------

    async def execute(self, alert_id: str) -> ExecutionReport:
        claimed = self._claimed.pop(alert_id, None)
        received_at = None  # an alert claimed by this process was checked for lag just now
        if claimed is not None:
            alert, intent_key, routing = claimed
        else:
            record = self.journal.get_alert(alert_id)
            if record is None:
                raise RouterError(f"no alert {alert_id} in the journal")
            if record.state in (AlertState.DONE, AlertState.REFUSED) and record.report is not None:
                return report_from_dict(record.report)
            from .alert import Alert  # pydantic-heavy; only alerts read back need it here

            alert = Alert.model_validate(record.alert)
            intent_key, routing = record.intent_key, record.routing
            # Accepted before a restart: its age is checked again, unless it had begun
            # executing (legs journaled). That one resumes whatever its age, so the legs it may
            # have sent are looked up by client order id, not left unresolved.
            if not self.journal.legs_for_alert(alert_id):
                received_at = record.received_at
        try:
            targets, moved = self._routed_targets(alert, routing)
            unroutable = None
        except ConfigError as exc:
            targets, moved, unroutable = [], [], str(exc)
        # The halt flags, read from the journal for every alert (another process may have
        # halted): the global one and each target account's, in one query.
        flags = self.journal.get_flags(self._halt_flags(alert, targets))
        refusal = self._refusal(alert, received_at, flags.get(HALT_FLAG))
        if refusal is not None:
            return await self._refuse(alert_id, intent_key, refusal)
        if unroutable is not None:
            return await self._refuse(alert_id, intent_key, unroutable)
        targets, halted = self._unhalted(alert, targets, flags)
        if halted and not targets and not moved:  # every account it goes to is halted
            refusal = "; ".join(str(r.reports[0].result.reason) for r in halted)
            return await self._refuse(alert_id, intent_key, refusal)
        moved.extend(halted)
        # Brokers are taken with the accounts, in one step: a reload swapping both between
        # two accounts of this alert cannot pair an account with another config's broker.
        runs = [
            (self.cluster.run_account if self.cluster is not None else self.accounts.execute)(
                alert, alert_id, intent_key, account, multiplier, self.brokers[account.name]
            )
            for account, multiplier in targets
        ]
        self._accounts_executing += len(runs)
        try:
            # one account (the common case) needs no task of its own
            per_account = [await runs[0]] if len(runs) == 1 else await asyncio.gather(*runs)
        finally:
            self._accounts_executing -= len(runs)
        per_account.extend(moved)
        legs = tuple(leg for result in per_account for leg in result.reports)
        notes = tuple(note for result in per_account for note in result.notes)
        positions = tuple(r.position for r in per_account if r.position is not None)
        report = ExecutionReport(alert_id, intent_key, legs, notes, positions=positions)
        await self.journal.set_state_async(alert_id, AlertState.DONE, report=report.to_dict())
        if log.isEnabledFor(logging.INFO):  # its arguments are built only for a line written
            log.info(
                "alert %s %s: %s",
                alert_id,
                alert.summary(),
                "; ".join(f"{leg.account}/{leg.purpose}={leg.result.status}" for leg in legs)
                or "no legs",
            )
        await self._notify(report)
        return report

    @staticmethod
    def _halt_flags(alert: Alert, targets: list[tuple[AccountConfig, Decimal]]) -> list[str]:
        """The journal flags that can stop ``alert``: the global halt, and each target
        account's own unless it is a cancel (cancels pass an account's halt)."""
        if alert.action is Action.CANCEL:
            return [HALT_FLAG]
        return [HALT_FLAG, *(account_halt_flag(account.name) for account, _ in targets)]

    def _refusal(
        self, alert: Alert, received_at: float | None, halted: str | None
    ) -> str | None:
        """Why an accepted alert must not execute now: the halt flag (``halted``, its value
        read from the journal), or, for an alert read back from the journal
        (``received_at``: accepted before a restart), an age that has grown past
        ``max_lag_seconds`` while it waited. An alert claimed by this process passed the lag
        check at acceptance (``accept``), so it is not checked again."""
        if halted is not None and alert.action is not Action.CANCEL:
            return f"trading is halted ({halted}); run `alert-router resume` to trade again"
        if received_at is None:
            return None
        return check_recovered_lag(
            alert.timenow,
            datetime.fromtimestamp(received_at, UTC),
            datetime.fromtimestamp(self.clock.time(), UTC),
            self.config.server.max_lag_seconds,
        )

    def _unhalted(
        self, alert: Alert, targets: list[tuple[AccountConfig, Decimal]],
        flags: dict[str, str],
    ) -> tuple[list[tuple[AccountConfig, Decimal]], list[AccountResult]]:
        """The targets whose account is not halted on its own (``halt --account``; ``flags``:
        the flags set, as read from the journal for this alert), and a denied leg naming the
        halt for each that is. Cancels pass, as under the global halt."""
        if alert.action is Action.CANCEL or not flags:  # not flags: no account is halted
            return targets, []
        kept, halted = [], []
        for account, multiplier in targets:
            reason = flags.get(account_halt_flag(account.name))
            if reason is None:
                kept.append((account, multiplier))
                continue
            why = (f"account {account.name} is halted ({reason}); run `alert-router resume "
                   f"--account {account.name}` to trade on it again")
            result = OrderResult(OrderStatus.DENIED, "", reason=why)
            leg = LegReport(account.name, account.broker, LegPurpose.OPEN, result)
            halted.append(AccountResult([leg], [], None))
        return kept, halted

    def _routed_targets(
        self, alert: Alert, routing: dict[str, dict[str, str]] | None
    ) -> tuple[list[tuple[AccountConfig, Decimal]], list[AccountResult]]:
        """The accounts chosen when the alert was accepted, as configured now; an account
        that is gone, disabled, or whose broker settings (venue, URL, credentials) changed
        since is refused with the reason, never swapped for another config's account."""
        if routing is None:
            return self._targets(alert), []
        overrides = {t.account: t.multiplier for t in alert.accounts if t.multiplier is not None}
        if self._routed_config is not self.config:
            self._routed.clear()
            self._routed_config = self.config
        kept = self._routed.get(id(routing))
        if kept is not None and kept[0] is routing:
            # The same routing under the same config (frozen): the same accounts, still as
            # chosen; a fan-out's checks are not done again for every alert (~0.6 µs each).
            if not overrides:
                return list(kept[1]), []
            return [(account, overrides.get(account.name, multiplier))
                    for account, multiplier in kept[1]], []
        targets, moved = [], []
        for name, chosen in routing.items():
            account = self.config.accounts.get(name)
            reason = None
            if account is None:
                reason = f"account {name} was chosen when the alert was accepted and is no " \
                         f"longer configured; nothing sent to it"
            elif not account.enabled:
                reason = f"account {name} has been disabled since the alert was accepted"
            elif self._digest(account) != chosen.get("digest"):
                reason = (f"account {name} changed (broker, venue URL or credentials) since the "
                          f"alert was accepted under another config; nothing sent to it")
            if reason is not None:
                result = OrderResult(OrderStatus.DENIED, "", reason=reason)
                leg = LegReport(name, chosen.get("broker", "?"), LegPurpose.OPEN, result)
                moved.append(AccountResult([leg], [], None))
                continue
            assert account is not None
            targets.append((account, overrides.get(name, account.multiplier)))
        if not moved:
            if len(self._routed) >= MAX_ROUTINGS_KEPT:
                self._routed.clear()
            self._routed[id(routing)] = (
                routing, [(account, account.multiplier) for account, _ in targets])
        return targets, moved

    def _routing_changes(self, routing: dict[str, dict[str, str]] | None) -> list[str]:
        """The accounts of a recorded routing that the running config no longer matches."""
        changed = []
        for name, chosen in (routing or {}).items():
            account = self.config.accounts.get(name)
            if account is None or not account.enabled or (
                    self._digest(account) != chosen.get("digest")):
                changed.append(name)
        return changed

    def _targets(self, alert: Alert) -> list[tuple[AccountConfig, Decimal]]:
        requested = [t.account for t in alert.accounts] or None
        overrides = {t.account: t.multiplier for t in alert.accounts if t.multiplier is not None}
        targets = []
        for name in self.config.targets(requested):
            account = self.config.accounts[name]
            if not account.enabled:
                raise ConfigError(f"account {name!r} is disabled", key=f"accounts.{name}.enabled")
            targets.append((account, overrides.get(name, account.multiplier)))
        return targets

    async def preview(self, alert: Alert, intent_key: str = "dry-run") -> list[Plan | str]:
        """Every target account's plan for ``alert``, read from the venues and never sent
        (``send --dry-run``); an account that cannot be planned gives the reason instead."""
        return [
            await self.accounts.preview(alert, intent_key, account, multiplier,
                                        self.brokers[account.name])
            for account, multiplier in self._targets(alert)
        ]

    async def dry_run(self, alert: Alert, raw: bytes) -> list[dict[str, Any]]:
        """``preview`` as a dry run answers it (``send --dry-run``, ``?dry_run=true``): each
        account's plan, or why there is none, with the client order ids the alert would use."""
        plans = await self.preview(alert, self.intent_key(alert, raw))
        return [plan.to_dict() if not isinstance(plan, str) else {"refused": plan}
                for plan in plans]

    @staticmethod
    def intent_key(alert: Alert, raw: bytes, delivery_key: str | None = None) -> str:
        """The alert's own intent key, or one from the body's hash when it carries none."""
        return alert.intent_key() or f"body:{delivery_key or hashlib.sha256(raw).hexdigest()}"

    def parse(self, raw: bytes, content_type: str | None) -> Alert:
        """A body read and validated as an alert, claiming nothing (dry runs)."""
        from .intake import parse_alert

        return parse_alert(raw, content_type, self.plugins)

    async def _refuse(self, alert_id: str, intent_key: str, refusal: str) -> ExecutionReport:
        """Refuse the whole alert before any leg: journaled, logged and reported to observers."""
        report = ExecutionReport(alert_id, intent_key, (), refused=refusal)
        await self.journal.set_state_async(
            alert_id, AlertState.REFUSED, reason=refusal, report=report.to_dict()
        )
        log.info("alert %s refused: %s", alert_id, refusal)
        await self._notify(report)
        return report

    async def _notify(self, report: ExecutionReport) -> None:
        group = self._deferred_claims.pop(report.alert_id, None)
        if group is not None:
            # Observers (notifications, the dashboard's feed) hear of an alert only once its
            # claim is on disk. Free when a leg intent's fsync covered it; a refusal or an
            # alert with nothing to send pays here the fsync its answer would pay anyway.
            await self.journal.ensure_durable_async(group)
        if self.metrics is not None:
            self.metrics.executed(report)
        # each observer isolated: one never hides a fill from another
        await self.plugins.calls.execution_finished(report)

    # -- restart recovery ---------------------------------------------------------------------

    async def recover(self, accounts: set[str] | None = None) -> int:
        """Settle every leg without a final outcome, then finish every alert that was
        answered 2xx but not executed. Runs before any new alert. Returns alerts resumed.

        ``accounts``: only those accounts' legs, and no alert resumed (a cluster instance taking
        over an API key; the key's unfinished work is re-run through the work table)."""
        for leg in self.journal.unresolved_legs():
            if accounts is not None and leg.account not in accounts:
                continue
            record = self.journal.get_alert(leg.alert_id)
            if record is not None and record.state in (AlertState.RECEIVED, AlertState.EXECUTING):
                continue  # re-executing the alert below resumes this leg with its order
            broker = self.brokers.get(leg.account)
            if broker is None:
                log.error(
                    "leg %s belongs to account %s, which is not configured",
                    leg.client_order_id,
                    leg.account,
                )
                continue
            try:
                instrument = await broker.resolve(normalize(leg.order["ticker"]))
                await self.runner.resume(broker, leg.client_order_id, None, instrument)
            except RouterError as exc:
                log.error("could not reconcile leg %s: %s", leg.client_order_id, exc)
        await self.journal.flush()  # reconciled outcomes are on disk before anything new
        if accounts is not None:
            return 0
        unfinished = self.journal.unfinished_alerts()
        for record in unfinished:
            changed = self._routing_changes(record.routing)
            if changed:
                log.warning("alert %s was accepted under another config: accounts %s are gone "
                            "or changed and get nothing; the others execute", record.alert_id,
                            ", ".join(changed))
        for record in unfinished:
            await self.execute(record.alert_id)
        return len(unfinished)

    # -- operations ---------------------------------------------------------------------------

    def halt(self, reason: str, account: str | None = None) -> None:
        """Refuse new alerts (cancels pass): all of them, or only ``account``'s legs."""
        flag = HALT_FLAG if account is None else account_halt_flag(account)
        self.journal.set_flag(flag, reason or "halted by the operator")

    def resume(self, account: str | None = None) -> None:
        self.journal.set_flag(HALT_FLAG if account is None else account_halt_flag(account), None)


@functools.cache
def _parse_alert() -> Callable[[bytes, str | None, PluginSet], Alert]:
    """``intake.parse_alert``, imported on first use (pydantic-heavy: only paid by paths that
    take alerts) and kept: a relative import statement run for every alert cost ~1 µs."""
    from .intake import parse_alert

    return parse_alert


def new_alert_id() -> str:
    """A random alert id: the text of a version 4 UUID, as ``str(uuid.uuid4())`` gives it, from
    the same 16 bytes of ``os.urandom``, without building the UUID object (one per delivery;
    ~1 µs instead of ~2.5)."""
    return uuid_text(os.urandom(16), 4)


def account_halt_flag(account: str) -> str:
    """The journal flag that halts one account (``halt --account``), beside ``HALT_FLAG``."""
    return ACCOUNT_HALT_PREFIX + account


def account_digest(account: AccountConfig) -> str:
    """What must not change under an accepted alert: the broker and its settings (venue URL,
    the names of the credentials' variables, ...). Limits and sizing may change: a reload
    that tightens a limit applies to alerts still waiting."""
    settings = account.settings.model_dump(mode="json")
    text = json.dumps({"broker": account.broker, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def report_from_dict(data: dict[str, Any]) -> ExecutionReport:
    legs = tuple(
        LegReport(
            account=leg["account"],
            broker=leg["broker"],
            purpose=LegPurpose(leg["leg"]),
            result=OrderResult.from_dict(leg),
            side=Side(leg["side"]) if leg.get("side") else None,
            symbol=leg.get("symbol"),
        )
        for leg in data.get("legs", [])
    )
    return ExecutionReport(
        data["alert_id"],
        data["intent_key"],
        legs,
        tuple(data.get("notes", ())),
        refused=data.get("refused"),
        positions=tuple(PositionReport.from_dict(p) for p in data.get("positions", ())),
    )


def enabled_plugins(path: Path | str | None) -> Sequence[str] | None:
    """``[router] plugins`` read before the full config (which needs the brokers)."""
    if path is None:
        return None
    from .config import read_toml

    router = read_toml(Path(path)).get("router", {})
    plugins = router.get("plugins") if isinstance(router, dict) else None
    return plugins if isinstance(plugins, list) else None
