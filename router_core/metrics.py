"""Prometheus metrics for ``GET /metrics``: what the router did and how long it took.

One ``RouterMetrics`` per app, on its own ``CollectorRegistry`` (never prometheus_client's
global one), so several apps in one process (tests) never share or collide on a series.

Cost on the order path is what one counter increment or one histogram observation costs
(about a microsecond); the call sites hold ``None`` when metrics are off and test for it, so
an app without metrics pays one attribute test. Most figures come from what the path computes
anyway (the ``ExecutionReport`` at the end of each alert); the few timers (webhook ack, plan,
venue round trip, journal commit) are one ``perf_counter`` pair each. Gauges that describe
state (rate-limit headroom, halt flags, legs and alerts in flight) are read when Prometheus
scrapes, by a custom collector, so the hot path does not maintain them.

Every label value is bounded: account and route names from the config, broker names from the
installed plugins, status enums, reason codes chosen here, rate-limit keys built by the venue
plugins from a key fingerprint and a traded pair. Nothing taken from a request body becomes a
label (a refused body's ticker or text never does), and no secret is ever a label.

This module imports prometheus_client, so only ``serve`` imports it (through ``server``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from pydantic import SecretStr

from . import __version__
from .errors import ConfigError
from .models import OrderStatus

if TYPE_CHECKING:
    from .config import MetricsConfig
    from .models import ExecutionReport
    from .router import Router

log = logging.getLogger("router_core.metrics")

T = TypeVar("T")

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "alert_router"

# Buckets, in seconds, for this workload: a webhook ack or a plan takes a fraction of a
# millisecond to a few; 3 s is TradingView's deadline for the ack.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0, 5.0)
PLAN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0)
# A venue answers in milliseconds to seconds; a lookup after an ambiguous outcome can take the
# reconcile window (tens of seconds), which end to end then includes.
VENUE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                 30.0, 60.0)
# A commit without fsync takes tens of microseconds; with one, a millisecond to tens.
JOURNAL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 1.0)

# Why a delivery or an alert was refused: the webhook's checks, then execution's. A code is a
# label value, so the set is closed; the free-text reason stays in the journal.
WEBHOOK_REASONS = (
    "not_ready", "ip_not_allowed", "unknown_route_token", "unsupported_media_type",
    "body_too_large", "bad_signature", "invalid_alert", "too_late", "unreadable_body",
    "unauthorized", "dry_run_unauthorized", "conflict", "journal_unavailable",
)
EXECUTION_REASONS = ("halted", "too_late", "not_routable", "risk")
# The refusals ``Router.execute`` writes, told apart by how their text starts (its own words).
_HALTED_PREFIX = "trading is halted"
_ACCOUNT_HALTED = " is halted ("  # "account NAME is halted (REASON); ..." (halt --account)
_RECOVERED_LATE_PREFIX = "accepted but not executed before the router stopped"
_RISK_PREFIX = "risk: "
MAX_PENDING_RECEIPTS = 10_000  # alerts acknowledged and not yet reported (end to end)


class RouterMetrics:
    """The metrics of one app: the objects the order path records into, and the registry
    ``/metrics`` renders."""

    def __init__(self, router: Router) -> None:
        # No ``*_created`` series beside every counter and histogram: they double what a scrape
        # carries and nobody reads them here (a process-wide switch of prometheus_client).
        disable_created_metrics()
        self.router = router
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.alerts_received = Counter(
            f"{PREFIX}_alerts_received", "Alerts the webhook claimed in the journal, by source "
            "(webhook or webhook:ROUTE) and claim (new, or duplicate of an earlier delivery)",
            ["source", "claim"], registry=registry)
        self.alerts_refused = Counter(
            f"{PREFIX}_alerts_refused", "Deliveries and alerts refused, by reason code (see "
            "docs/metrics.md); risk counts each account whose plan a risk check denied",
            ["reason"], registry=registry)
        self.alerts_executed = Counter(
            f"{PREFIX}_alerts_executed", "Alerts executed to a report, by outcome: ok (every "
            "leg sent and taken), failed (some leg denied, rejected or unknown), refused",
            ["outcome"], registry=registry)
        self.legs = Counter(
            f"{PREFIX}_legs", "Order legs reported, by broker and final status",
            ["broker", "status"], registry=registry)
        self.webhook_ack = Histogram(
            f"{PREFIX}_webhook_ack_seconds", "From the webhook taking a delivery to its answer "
            "(deliveries without ?wait=true)", buckets=ACK_BUCKETS, registry=registry)
        self.plan_time = Histogram(
            f"{PREFIX}_plan_seconds", "One account's plan for one alert: position, price, "
            "size, legs and risk checks, by broker", ["broker"], buckets=PLAN_BUCKETS,
            registry=registry)
        self.venue_time = Histogram(
            f"{PREFIX}_venue_round_trip_seconds", "One order sent to the venue until its "
            "answer (or error), by broker", ["broker"], buckets=VENUE_BUCKETS,
            registry=registry)
        self.end_to_end = Histogram(
            f"{PREFIX}_end_to_end_seconds", "From the webhook taking an alert to its execution "
            "report", buckets=VENUE_BUCKETS, registry=registry)
        self.journal_commit = Histogram(
            f"{PREFIX}_journal_commit_seconds", "One group of journal writes: the statements "
            "and the commit (an fsync when durable), by durability", ["durable"],
            buckets=JOURNAL_BUCKETS, registry=registry)
        self.journal_writes = Counter(
            f"{PREFIX}_journal_writes", "Journal writes committed, by durability",
            ["durable"], registry=registry)
        registry.register(_StateCollector(self))
        # Children resolved once per label set: ``labels()`` takes a lock and builds a key.
        self._children: dict[tuple[Any, ...], Any] = {}
        self._received: dict[str, float] = {}  # alert id -> perf_counter at receipt
        self.in_flight: dict[str, int] = {}  # broker -> legs sent and not answered yet
        for reason in (*WEBHOOK_REASONS, *EXECUTION_REASONS):
            self.alerts_refused.labels(reason)  # every reason shows, at zero until it happens
        for outcome in ("ok", "failed", "refused"):
            self.alerts_executed.labels(outcome)

    # -- wiring -------------------------------------------------------------------------------

    def attach(self) -> None:
        """Make the router's order path record into these metrics."""
        self.router.attach_metrics(self)
        writer = getattr(self.router.journal, "_writer", None)
        if writer is not None and hasattr(writer, "on_commit"):
            writer.on_commit = self.journal_committed

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # -- the order path -----------------------------------------------------------------------

    def refused(self, reason: str) -> None:
        """A delivery or an alert refused; ``reason`` is one of the codes above."""
        self._child(self.alerts_refused, reason).inc()

    def claimed(self, source: str, duplicate: bool) -> None:
        self._child(self.alerts_received, source, "duplicate" if duplicate else "new").inc()

    def received(self, alert_id: str, started: float) -> None:
        """A new alert, acknowledged; ``started``: ``perf_counter()`` when the webhook took
        it (end to end is measured from there)."""
        pending = self._received
        if len(pending) >= MAX_PENDING_RECEIPTS:  # accepted, never executed here
            del pending[next(iter(pending))]
        pending[alert_id] = started

    def acked(self, seconds: float) -> None:
        self.webhook_ack.observe(seconds)

    def planned(self, broker: str, seconds: float) -> None:
        self._child(self.plan_time, broker).observe(seconds)

    async def timed_submit(self, broker: str, submit: Awaitable[T]) -> T:
        """Await one order's submission, counted in flight and timed per broker."""
        in_flight = self.in_flight
        in_flight[broker] = in_flight.get(broker, 0) + 1
        started = time.perf_counter()
        try:
            return await submit
        finally:
            self._child(self.venue_time, broker).observe(time.perf_counter() - started)
            in_flight[broker] -= 1

    def executed(self, report: ExecutionReport) -> None:
        """One alert's report: legs by broker and status, its outcome, refusals, end to
        end. Read from the report the router built anyway."""
        started = self._received.pop(report.alert_id, None)
        if started is not None:
            self.end_to_end.observe(time.perf_counter() - started)
        if report.refused is not None:
            self.refused(execution_reason(report.refused))
            self._child(self.alerts_executed, "refused").inc()
            return
        denied: dict[str, str] = {}  # account -> reason code, once per account
        for leg in report.legs:
            result = leg.result
            self._child(self.legs, leg.broker, result.status.value).inc()
            if result.status is OrderStatus.DENIED and result.reason is not None:
                code = leg_denial_reason(result.reason)
                if code is not None:
                    denied[leg.account] = code
        for code in denied.values():
            self.refused(code)
        self._child(self.alerts_executed, "ok" if report.ok else "failed").inc()

    def journal_committed(self, seconds: float, writes: int, durable: bool) -> None:
        label = "true" if durable else "false"
        self._child(self.journal_commit, label).observe(seconds)
        self._child(self.journal_writes, label).inc(writes)


def scrape_token(config: MetricsConfig, file: Path | None,
                 environ: Mapping[str, str] | None = None) -> SecretStr | None:
    """The bearer token ``[metrics] token_env`` names, read at start; ``None`` without one.
    Raises ConfigError (naming the key, never a value) when the variable is unset or empty."""
    if config.token_env is None:
        return None
    value = (os.environ if environ is None else environ).get(config.token_env, "").strip()
    if not value:
        raise ConfigError(f"environment variable {config.token_env} is not set or empty",
                          file=str(file) if file else None, key="metrics.token_env")
    return SecretStr(value)


def execution_reason(refused: str) -> str:
    """The reason code of a refusal ``Router.execute`` wrote (its text starts the same way
    each time): halted (globally, or every account it goes to), too_late (accepted before a
    restart and too old now), or not_routable (no usable account)."""
    if refused.startswith(_HALTED_PREFIX) or _ACCOUNT_HALTED in refused:
        return "halted"
    if refused.startswith(_RECOVERED_LATE_PREFIX):
        return "too_late"
    return "not_routable"


def leg_denial_reason(reason: str) -> str | None:
    """The reason code of a denied leg that counts as a refusal: risk (a risk check denied the
    account's plan) or halted (its account is halted); ``None`` for other denials (sizing, a
    skipped dependent leg), which show only in ``legs{status="denied"}``."""
    if reason.startswith(_RISK_PREFIX):
        return "risk"
    if reason.startswith("account ") and _ACCOUNT_HALTED in reason:
        return "halted"
    return None


class _StateCollector(Collector):
    """The gauges read at scrape time: nothing on the order path keeps them up to date."""

    def __init__(self, metrics: RouterMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []  # read at scrape time; the names are not fixed before the first scrape

    def collect(self) -> Iterator[Any]:
        router = self.metrics.router
        yield InfoMetricFamily(f"{PREFIX}_build", "The alert-router version serving",
                               value={"version": __version__})
        in_flight = GaugeMetricFamily(
            f"{PREFIX}_legs_in_flight", "Orders sent to a venue and not answered yet, by broker",
            labels=["broker"])
        for broker, count in sorted(self.metrics.in_flight.items()):
            in_flight.add_metric([broker], count)
        yield in_flight
        yield GaugeMetricFamily(f"{PREFIX}_alerts_executing",
                                "Alerts executing in the background now",
                                value=len(router.in_flight()))
        yield from _rate_limits(router)
        yield from _halts(router)
        yield from _fill_streams(router)


def _rate_limits(router: Router) -> Iterator[Any]:
    """Per rate-limit key (one budget per API key, named by the venue plugin with a key
    fingerprint, never the key): what is left, the maximum, and a venue-imposed pause."""
    headroom = GaugeMetricFamily(
        f"{PREFIX}_rate_limit_headroom", "Cost units a rate-limit budget can take now "
        "(capacity minus the decaying level), by key", labels=["key"])
    capacity = GaugeMetricFamily(
        f"{PREFIX}_rate_limit_capacity", "The maximum of a rate-limit budget, in cost units, "
        "by key", labels=["key"])
    paused = GaugeMetricFamily(
        f"{PREFIX}_rate_limit_paused_seconds", "Seconds a budget still holds every call after "
        "the venue said its limit was hit, by key", labels=["key"])
    for key, limiter in router.limiters.items():
        headroom.add_metric([key], max(0.0, limiter.capacity - limiter.level))
        capacity.add_metric([key], limiter.capacity)
        paused.add_metric([key], limiter.paused_for)
    yield from (headroom, capacity, paused)


def _halts(router: Router) -> Iterator[Any]:
    """The halt flags, read from the journal (two reads, whatever the number of accounts):
    global, and per configured account."""
    from .journal_views import halted_accounts
    from .router import HALT_FLAG

    try:
        halted = router.journal.get_flag(HALT_FLAG) is not None
        by_account = halted_accounts(router.journal)
        accounts = {name: name in by_account for name in sorted(router.config.accounts)}
    except Exception as exc:  # a closed or failing journal must not break the scrape
        log.warning("metrics: could not read the halt flags: %s", type(exc).__name__)
        return
    yield GaugeMetricFamily(f"{PREFIX}_halted", "1 while trading is halted for every account",
                            value=1 if halted else 0)
    per_account = GaugeMetricFamily(
        f"{PREFIX}_account_halted", "1 while this account alone is halted (alert-router halt "
        "--account)", labels=["account"])
    for name, flag in accounts.items():
        per_account.add_metric([name], 1 if flag else 0)
    yield per_account


def _fill_streams(router: Router) -> Iterator[Any]:
    """Per configured account with a fill stream (router_core.fills), as the stream's status
    record holds it: up or not, seconds since its last message, reconnects, fills recorded.
    An account sharing another's API key shows that stream's figures; an account whose broker
    or config has no stream has no series (its fills are polled, as designed)."""
    streams = router.fill_streams  # None: not streaming (not started yet): no samples
    up = GaugeMetricFamily(
        f"{PREFIX}_fill_stream_up", "1 while the account's fill stream is connected and "
        "subscribed, else 0 (connecting, backing off, refused, stopped, another "
        "instance's lease)",
        labels=["account"])
    silent = GaugeMetricFamily(
        f"{PREFIX}_fill_stream_last_message_age_seconds", "Seconds since the account's fill "
        "stream last said anything (accounts whose stream never did are left out)",
        labels=["account"])
    reconnects = CounterMetricFamily(
        f"{PREFIX}_fill_stream_reconnects", "Connections of the account's fill stream that "
        "went live after the first", labels=["account"])
    fills = CounterMetricFamily(
        f"{PREFIX}_fill_stream_fills", "New fills journaled from the account's fill stream "
        "and its REST catch-ups", labels=["account"])
    configured = set(router.config.accounts)  # labels stay bounded by the config
    now = router.clock.time()
    for account, status in sorted(streams.states().items() if streams is not None else ()):
        if account not in configured or not status.has_stream:
            continue
        up.add_metric([account], 1 if status.state == "live" else 0)
        if status.last_message is not None:
            silent.add_metric([account], max(0.0, now - status.last_message))
        reconnects.add_metric([account], status.reconnects)
        fills.add_metric([account], status.fills)
    yield from (up, silent, reconnects, fills)
