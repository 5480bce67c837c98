"""Real-time fills: the core's side of a broker's fill stream (``Capabilities.fill_stream``).

Under ``serve`` the router runs one stream per API key (``FillStreams``) for the accounts whose
broker declares ``fill_stream``; ``send`` and dry runs never open one. For each:

* connect (``Broker.stream_fills``); once the broker says the subscription is live (it yields
  ``None``), catch up through REST (``Broker.fills_since``) from the last fill the journal
  holds, so what executed while disconnected is not missed;
* journal each fill once per trade id (``Journal.record_fill_async``: the leg's filled size,
  average price, fees and state, and the holdings ledger, in one transaction) and wake whoever
  waits for that order (``FillEvents``: a reversal's open waits for its close this way);
* when the stream ends or fails, reconnect after a jittered exponential backoff (full
  jitter: many routers restarting together do not reconnect in step), slower after a
  refusal (a bad key or signature is not fixed by hammering the venue).

With several instances (``router_core.cluster``) only the instance driving the key's lease runs
its stream; the others wait, and one that loses the lease stops its stream within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .brokers import Broker
from .errors import AuthError, BrokerError, PermissionDenied
from .hooks import FillContext, HookCaller
from .journal import FillOutcome, Journal
from .models import Fill

log = logging.getLogger("router_core.fills")

BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_LONGEST_SECONDS = 30.0
REFUSED_BACKOFF_SECONDS = 60.0  # after the venue refused the stream (key, signature)
LEASE_CHECK_SECONDS = 1.0
# With nothing journaled yet for an account, the first backfill reaches back this far.
FIRST_BACKFILL_SECONDS = 3600.0
# The backfill starts this much before the newest journaled fill: venues' clocks and
# timestamp rounding differ, and a repeat costs only a duplicate check.
BACKFILL_OVERLAP_SECONDS = 2.0
ERROR_TEXT_LIMIT = 160  # characters of a stream's last error kept for /healthz and the page

# A stream's states, as /healthz, /metrics and the dashboard show them.
CONNECTING, LIVE, BACKING_OFF, REFUSED, STOPPED, NOT_STREAMING = (
    "connecting", "live", "backing off", "refused", "stopped", "not streaming")


@dataclass
class StreamStatus:
    """What one fill stream is doing, kept as it goes (a few assignments per event) so
    ``/healthz``, ``/metrics`` and the dashboard read it without asking the venue. Holds no
    secret: the key is named by its lease (a fingerprint), errors by class and reason."""

    key: str  # the API key's lease name (router_core.cluster.keys)
    accounts: list[str]  # the accounts this stream serves (those sharing the key)
    state: str = CONNECTING
    why: str | None = None  # why NOT_STREAMING
    connected_since: float | None = None  # Unix time the current connection went live
    last_message: float | None = None  # Unix time of the stream's last item
    reconnects: int = 0  # connections that went live after the first
    fills: int = 0  # new fills journaled from this stream and its REST catch-ups
    last_error: str | None = None  # "ClassName: reason", short
    has_stream: bool = True  # False: the account's broker or config has none (``why``)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "accounts": list(self.accounts), "state": self.state,
                "why": self.why, "connected_since": self.connected_since,
                "last_message": self.last_message, "reconnects": self.reconnects,
                "fills": self.fills, "last_error": self.last_error}


def short_error(exc: BaseException) -> str:
    """An error as its class and the first line of its reason, cut short (the router's
    errors never carry a secret; the cut keeps a venue's long answer off the page)."""
    reason = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT - 1] + "…"


def _why_not_streaming(broker: Broker) -> str:
    """Why an account's broker opens no stream: the broker has none, or this account's
    config gives it nowhere to connect (a REST override without ``ws_url``)."""
    if type(broker).capabilities.fill_stream:
        return "no ws_url (fills are polled)"
    return f"broker {broker.name} has no fill stream (fills are polled)"


class FillEvents:
    """Wakes the tasks waiting for an order's next fill (by client order id)."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Event] = {}
        self._streaming: set[str] = set()  # accounts whose stream is connected now
        # Called for every new fill after it is journaled (tests, benchmarks, metrics).
        self.listeners: list[Callable[[str, Fill, FillOutcome], None]] = []

    def streaming(self, account: str) -> bool:
        """Whether the account's fill stream is connected now (else: poll as before)."""
        return account in self._streaming

    def set_streaming(self, account: str, live: bool) -> None:
        (self._streaming.add if live else self._streaming.discard)(account)

    async def wait(self, client_order_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a fill of the order; True when one came."""
        event = self._waiting.setdefault(client_order_id, asyncio.Event())
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await event.wait()
        except TimeoutError:
            return False
        finally:
            if self._waiting.get(client_order_id) is event and not event.is_set():
                del self._waiting[client_order_id]
        return True

    def notify(self, account: str, fill: Fill, outcome: FillOutcome) -> None:
        if outcome.client_order_id is not None:
            event = self._waiting.pop(outcome.client_order_id, None)
            if event is not None:
                event.set()
        for listener in self.listeners:
            listener(account, fill, outcome)


class FillStreams:
    """The fill streams of one router: started by ``Router.start_fill_streams`` (``serve``),
    stopped by ``close``."""

    def __init__(self, journal: Journal, events: FillEvents, *,
                 cluster: Any = None, now: Callable[[], float] = time.time,
                 hooks: HookCaller | None = None) -> None:
        self.journal = journal
        self.events = events
        self.hooks = hooks  # router_fill_recorded observers; None: nobody observes
        self.cluster = cluster  # router_core.cluster.Cluster, or None (a single instance)
        self._now = now
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._brokers: dict[str, Broker] = {}  # the broker each stream runs on
        self.backoff_first = BACKOFF_FIRST_SECONDS
        self.backoff_longest = BACKOFF_LONGEST_SECONDS
        self.refused_backoff = REFUSED_BACKOFF_SECONDS
        self.connects: dict[str, int] = {}  # account -> connections made (status, tests)
        self.last_error: dict[str, str] = {}  # account -> why its stream last failed
        self.status: dict[str, StreamStatus] = {}  # stream's account -> what it is doing
        self._idle: dict[str, str] = {}  # account without a stream of its own -> why
        self._shares: dict[str, str] = {}  # account -> the account whose stream serves it

    def start(self, brokers: Mapping[str, Broker], keys: Mapping[str, str]) -> list[str]:
        """Start one stream per API key among ``brokers`` that declare ``fill_stream``
        (``keys``: account -> its key's lease name; accounts sharing a key share the first
        one's stream). Returns the accounts streaming."""
        seen: set[str] = set()
        for account, broker in brokers.items():
            key = keys.get(account, f"account:{account}")
            if not broker.capabilities.fill_stream or key in seen or account in self._tasks:
                continue
            seen.add(key)
            self.status[account] = StreamStatus(key=key, accounts=[account])
            self._brokers[account] = broker
            self._tasks[account] = asyncio.create_task(
                self._supervise(account, broker), name=f"fill stream {account}")
        self._describe(brokers, keys)
        return sorted(self._tasks)

    def _describe(self, brokers: Mapping[str, Broker], keys: Mapping[str, str]) -> None:
        """Note, for the status, which stream serves each account and why an account has
        none."""
        owners = {status.key: account for account, status in self.status.items()}
        self._idle, self._shares = {}, {}
        for account, broker in brokers.items():
            owner = owners.get(keys.get(account, f"account:{account}"))
            if not broker.capabilities.fill_stream or owner is None:
                self._idle[account] = _why_not_streaming(broker)
            elif owner != account:
                self._shares[account] = owner
        for account, status in self.status.items():
            status.accounts = [account, *sorted(a for a, o in self._shares.items()
                                                if o == account)]

    def states(self) -> dict[str, StreamStatus]:
        """Each account's stream status, for /healthz, /metrics and the dashboard: its own
        stream's, the one it shares (same API key), or a NOT_STREAMING record saying why."""
        result: dict[str, StreamStatus] = {}
        for account, why in self._idle.items():
            result[account] = StreamStatus(key="", accounts=[account], state=NOT_STREAMING,
                                           why=why, has_stream=False)
        for account, owner in self._shares.items():
            result[account] = self.status[owner]
        result.update(self.status)
        return result

    def update(self, brokers: Mapping[str, Broker], keys: Mapping[str, str]) -> list[str]:
        """After a config reload (no await: it runs between two alerts): stop the streams of
        accounts gone, disabled or given a new broker, and start those the new config has."""
        for account, task in list(self._tasks.items()):
            broker = brokers.get(account)
            if broker is None or broker is not self._brokers.get(account) \
                    or not broker.capabilities.fill_stream:
                task.cancel()  # its connection closes as the task ends
                del self._tasks[account], self._brokers[account]
                self.status.pop(account, None)
                self.events.set_streaming(account, False)
        return self.start(brokers, keys)

    async def close(self) -> None:
        """Stop every stream (each closes its connection as its task is cancelled)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for status in self.status.values():
            status.state = STOPPED
        self._brokers.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # -- one stream -----------------------------------------------------------------------------

    def _drives(self, account: str) -> bool:
        return self.cluster is None or bool(self.cluster.drives(account))

    async def _supervise(self, account: str, broker: Broker) -> None:
        attempt = 0
        while True:
            status = self.status.get(account) or StreamStatus(key="", accounts=[account])
            if not self._drives(account):
                status.state, status.why = NOT_STREAMING, "not this instance's lease"
                await asyncio.sleep(LEASE_CHECK_SECONDS)
                continue
            status.state, status.why = CONNECTING, None
            delay = 0.0
            connects = self.connects.get(account, 0)
            try:
                await self._run_while_driven(account, broker)
                self.last_error[account] = "the stream ended"
                if not self._drives(account):
                    status.state, status.why = NOT_STREAMING, "not this instance's lease"
                else:
                    status.state = BACKING_OFF
            except asyncio.CancelledError:
                status.state = STOPPED
                raise
            except BrokerError as exc:
                self.last_error[account] = str(exc)
                status.last_error = short_error(exc)
                status.state = BACKING_OFF
                if isinstance(exc, (AuthError, PermissionDenied)):
                    status.state = REFUSED
                    log.error("account %s: the venue refused the fill stream: %s (retrying "
                              "in %.0f s)", account, exc, self.refused_backoff)
                    delay = self.refused_backoff
                else:
                    log.warning("account %s: fill stream lost: %s", account, exc)
            except Exception as exc:  # a broker bug must not end the supervision
                self.last_error[account] = f"{type(exc).__name__}: {exc}"
                status.last_error, status.state = short_error(exc), BACKING_OFF
                log.exception("account %s: fill stream failed", account)
            finally:  # unless a reload gave the account a new stream already
                if self._tasks.get(account) in (None, asyncio.current_task()):
                    self.events.set_streaming(account, False)
            status.connected_since = None  # that connection is over
            if self.connects.get(account, 0) > connects:
                attempt = 0  # that connection went live: the backoff starts over
            if not delay:
                delay = random.uniform(0, min(self.backoff_longest,
                                              self.backoff_first * 2 ** attempt))
                attempt = min(attempt + 1, 16)
            await asyncio.sleep(delay)

    async def _run_while_driven(self, account: str, broker: Broker) -> bool:
        """Run one connection until it ends, or until this instance no longer drives the
        account's key. True when it got as far as a live subscription."""
        stream = asyncio.create_task(self._consume(account, broker))
        check = LEASE_CHECK_SECONDS if self.cluster is not None else None
        try:
            while True:
                await asyncio.wait({stream}, timeout=check)
                if stream.done():
                    return stream.result()
                if not self._drives(account):
                    log.info("account %s: lease lost; its fill stream stops here", account)
                    return True
        finally:  # stopped, cancelled or the lease lost: the connection closes with it
            if not stream.done():
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stream

    async def _consume(self, account: str, broker: Broker) -> bool:
        live = False
        stream = broker.stream_fills()
        try:
            async for item in stream:
                status = self.status.get(account)
                if status is not None:
                    status.last_message = self._now()
                if item is None:  # subscribed: catch up on what happened meanwhile
                    if not live:
                        live = True
                        self.connects[account] = self.connects.get(account, 0) + 1
                        if status is not None:
                            status.state, status.connected_since = LIVE, self._now()
                            status.reconnects = self.connects[account] - 1
                        await self._backfill(account, broker)
                        self.events.set_streaming(account, True)
                    continue
                await self.record(account, item, "stream")
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return live

    async def _backfill(self, account: str, broker: Broker) -> int:
        last = self.journal.last_fill_time(account)
        since = (self._now() - FIRST_BACKFILL_SECONDS if last is None
                 else last - BACKFILL_OVERLAP_SECONDS)
        added = 0
        for fill in await broker.fills_since(since):
            if (await self.record(account, fill, "rest")).new:
                added += 1
        if added:
            log.info("account %s: %d fill(s) caught up through REST", account, added)
        return added

    async def record(self, account: str, fill: Fill, source: str) -> FillOutcome:
        """Journal one fill (once per trade id) and wake whoever waits for its order."""
        outcome = await self.journal.record_fill_async(account, fill, source)
        if outcome.new:
            if account in self.status:
                self.status[account].fills += 1
            self.events.notify(account, fill, outcome)
            if self.hooks is not None:
                await self._observe(self.hooks, account, fill, outcome, source)
        return outcome

    async def _observe(self, hooks: HookCaller, account: str, fill: Fill,
                       outcome: FillOutcome, source: str) -> None:
        """``router_fill_recorded`` for a fill just journaled as new. The observers are
        isolated by the HookCaller; this guard keeps anything else (a wrapper, the leg's
        read) from ending the stream, since the fill is journaled already."""
        try:
            leg = (self.journal.get_leg(outcome.client_order_id)
                   if outcome.client_order_id is not None else None)
            await hooks.fill_recorded(fill, FillContext(
                account=account, symbol=leg.symbol if leg else fill.symbol,
                client_order_id=outcome.client_order_id, purpose=leg.purpose if leg else None,
                alert_id=leg.alert_id if leg else None, leg_status=outcome.leg_status,
                source=source))
        except Exception:
            log.exception("account %s: router_fill_recorded failed on fill %s", account,
                          fill.trade_id)
