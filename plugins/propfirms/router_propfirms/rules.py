"""Prop-firm rules as a risk plugin: refuse entries that would break the firm's rules, and
flatten the account at the firm's time of day.

Configured per account with a ``rules`` table (``rules_config.PropRules``). The check runs
through ``router_check_plan``; a refusal is a *denial* (decided here, nothing sent), never the
venue's *rejection*, and its reason names the rule and the figures. Plans that only close or
reduce a position are never refused: the rules guard what opens exposure.

The figures (balance, open positions) come from the account's broker, found through the
account's settings object (``projectx.broker_for_settings``); a broker offers them with
``account_figures()`` and flattens with ``flatten_account(is_ours)``. Where a rule needs
figures the broker cannot give, the check fails closed and says so.

State that must survive a restart (the trading day, its opening balance, the high-water mark,
whether today's flatten ran) is kept per account in ``<state_dir>/propfirm-rules/<account>.json``.

The flatten runs from a watcher that ``router_startup`` starts (``serve`` and ``send``), every
``FLATTEN_POLL_SECONDS`` with the time read from the router's clock. The check itself never
places an order (it also runs for dry runs): after the flatten time it refuses entries, and
exits go through as always.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time as _time
import tomllib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from router_core import Broker, BrokerError, Plan, Position, Side, hookimpl

from .rules_config import Blackout, PropRules

logger = logging.getLogger("router_propfirms.rules")

FLATTEN_POLL_SECONDS = 30.0
ZERO = Decimal(0)


class RulesAccount(Protocol):
    """What a broker offers the rules (ProjectX does; other prop-firm brokers may)."""

    async def account_figures(self) -> Any: ...

    async def flatten_account(self, is_ours: Callable[[str], bool]) -> list[str]: ...


# ---- what a plan does --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exposure:
    """The part of a plan the rules look at: the symbol's position before and after."""

    symbol: str
    root: str
    before: Decimal
    after: Decimal


def plan_exposure(plan: Plan, position: Position) -> Exposure | None:
    """The plan's effect on its symbol, or ``None`` when it only closes or reduces (exits are
    never refused by these rules)."""
    before = position.quantity
    current, opens, root = before, False, plan.symbol
    for leg in plan.legs:
        order = leg.order
        if order is None or leg.denied_reason is not None:
            continue
        root = str(order.instrument.venue.get("root", root))
        after = current + (order.quantity if order.side is Side.BUY else -order.quantity)
        if abs(after) > abs(current) or (current != 0 and (after > 0) != (current > 0)
                                         and after != 0):
            opens = True
        current = after
    return Exposure(plan.symbol, root, before, current) if opens else None


# ---- state -------------------------------------------------------------------------------


@dataclass
class RulesState:
    """What the rules remember per account (strings: Decimals survive JSON unchanged)."""

    trading_day: str | None = None
    day_start_balance: str | None = None
    high_water: str | None = None
    last_balance: str | None = None
    flattened_day: str | None = None

    @classmethod
    def load(cls, path: Path) -> RulesState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            logger.error("prop rules: cannot read %s (%s); starting from empty state", path, exc)
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1))
        temporary.replace(path)  # atomic: a crash leaves the old file or the new one


@dataclass(frozen=True, slots=True)
class Figures:
    """The account's figures as the rules read them."""

    balance: Decimal
    open_pnl: Decimal | None
    positions: Mapping[str, tuple[str, Decimal]]  # venue symbol -> (root, signed contracts)

    @property
    def equity(self) -> Decimal:
        return self.balance + (self.open_pnl or ZERO)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


# ---- the ledger: one account's rules, state and checks ------------------------------------


@dataclass
class RulesLedger:
    rules: PropRules
    path: Path
    state: RulesState = field(init=False)
    _blackouts: tuple[float, list[Blackout]] = field(init=False, default=(-1.0, []))

    def __post_init__(self) -> None:
        self.state = RulesState.load(self.path)

    # -- figures ---------------------------------------------------------------------------

    def observe(self, figures: Figures, now: float) -> None:
        """Move the day and the high-water mark with what the account shows now."""
        rules, state = self.rules, self.state
        day = rules.trading_day(now).isoformat()
        balance, equity = figures.balance, figures.equity
        high = Decimal(state.high_water) if state.high_water is not None else (
            rules.starting_balance or balance)
        if state.trading_day != day:
            # The first look at a new trading day: the balance now is where the day starts,
            # and (end of day mode) the close of the last one, which may raise the mark.
            if state.trading_day is not None and rules.drawdown_mode == "end_of_day":
                high = max(high, balance)
            state.trading_day, state.day_start_balance = day, str(balance)
        if rules.drawdown_mode == "intraday":
            high = max(high, equity)
        state.high_water, state.last_balance = str(high), str(balance)
        self.state.save(self.path)

    @property
    def needs_figures(self) -> bool:
        rules = self.rules
        return any(value is not None for value in (
            rules.daily_loss_limit, rules.trailing_drawdown, rules.max_contracts,
            rules.max_contracts_per_symbol)) or bool(rules.max_contracts_by_root)

    # -- the checks ------------------------------------------------------------------------

    def check(self, exposure: Exposure, figures: Figures | None, now: float) -> str | None:
        """The first rule the plan would break, as a sentence with the figures; or None."""
        for rule in (self._flatten_window, self._blackout):
            reason = rule(exposure, now)
            if reason:
                return reason
        if figures is None:
            return None
        for check in (self._daily_loss, self._drawdown, self._contracts):
            reason = check(exposure, figures)
            if reason:
                return reason
        return None

    def _flatten_window(self, exposure: Exposure, now: float) -> str | None:
        rules = self.rules
        if not rules.after_flatten(now):
            return None
        return (f"prop rule flatten_at: it is {rules.local(now):%H:%M} {rules.timezone}, after "
                f"the flatten time {rules.flatten_at:%H:%M}; no new entries until the trading "
                f"day opens at {rules.session_start:%H:%M}")

    def _blackout(self, exposure: Exposure, now: float) -> str | None:
        moment = datetime.fromtimestamp(now, self.rules.zone)
        for window in self.blackouts():
            if window.roots and exposure.root not in window.roots:
                continue
            start, end = self.rules.aware(window.start), self.rules.aware(window.end)
            if start <= moment < end:
                return (f"prop rule blackouts: {window.name} from {start:%Y-%m-%d %H:%M} to "
                        f"{end:%H:%M} {self.rules.timezone} (now {moment:%H:%M}); no new "
                        "entries in the window")
        return None

    def _daily_loss(self, exposure: Exposure, figures: Figures) -> str | None:
        limit = self.rules.daily_loss_limit
        if limit is None or self.state.day_start_balance is None:
            return None
        start = Decimal(self.state.day_start_balance)
        loss = start - figures.equity
        if loss < limit:
            return None
        return (f"prop rule daily_loss_limit: the account is down {_money(loss)} USD today "
                f"(equity {_money(figures.equity)}, the day began at {_money(start)}), at or "
                f"beyond the limit {_money(limit)}; no new entries until the next trading day")

    def _drawdown(self, exposure: Exposure, figures: Figures) -> str | None:
        distance = self.rules.trailing_drawdown
        if distance is None or self.state.high_water is None:
            return None
        high = Decimal(self.state.high_water)
        floor = high - distance
        if self.rules.drawdown_floor_max is not None:
            floor = min(floor, self.rules.drawdown_floor_max)
        if figures.equity > floor:
            return None
        return (f"prop rule trailing_drawdown: equity {_money(figures.equity)} is at or under "
                f"the floor {_money(floor)} ({self.rules.drawdown_mode} high-water mark "
                f"{_money(high)} less {_money(distance)}); no new entries")

    def _contracts(self, exposure: Exposure, figures: Figures) -> str | None:
        rules = self.rules
        after = abs(exposure.after)
        limit = rules.max_contracts_by_root.get(exposure.root, rules.max_contracts_per_symbol)
        if limit is not None and after > limit:
            return (f"prop rule max_contracts_per_symbol: {exposure.symbol} would hold {after} "
                    f"contracts (now {abs(exposure.before)}), over the limit {limit} for "
                    f"{exposure.root}")
        if rules.max_contracts is not None:
            others = sum((abs(q) for s, (_, q) in figures.positions.items()
                          if s != exposure.symbol), ZERO)
            total = others + after
            if total > rules.max_contracts:
                return (f"prop rule max_contracts: the account would hold {total} contracts "
                        f"({others} on other symbols, {after} on {exposure.symbol}), over the "
                        f"limit {rules.max_contracts}")
        return None

    # -- blackouts from the user's file ------------------------------------------------------

    def blackouts(self) -> list[Blackout]:
        """The inline windows and those of ``blackout_file``, read again when it changes."""
        path = self.rules.blackout_file
        if path is None:
            return list(self.rules.blackouts)
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise RulesFileError(f"blackout_file {path}: cannot read it ({exc.strerror})"
                                 ) from None
        if mtime != self._blackouts[0]:
            self._blackouts = (mtime, read_blackout_file(path))
        return [*self.rules.blackouts, *self._blackouts[1]]

    # -- flatten ---------------------------------------------------------------------------

    def flatten_due(self, now: float) -> bool:
        rules = self.rules
        return (rules.after_flatten(now)
                and self.state.flattened_day != rules.trading_day(now).isoformat())

    def flattened(self, now: float) -> None:
        self.state.flattened_day = self.rules.trading_day(now).isoformat()
        self.state.save(self.path)


class RulesFileError(Exception):
    """The user's blackout file cannot be used: the check fails closed with this reason."""


def read_blackout_file(path: Path) -> list[Blackout]:
    """``[[blackout]]`` tables of a TOML file; a mistake names the file, entry and key."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesFileError(f"blackout_file {path}: not readable TOML ({exc})") from None
    entries = data.get("blackout", [])
    if not isinstance(entries, list):
        raise RulesFileError(f"blackout_file {path}: 'blackout' must be [[blackout]] tables")
    windows = []
    for index, entry in enumerate(entries):
        try:
            windows.append(Blackout.model_validate(entry))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise RulesFileError(f"blackout_file {path}: blackout[{index}]"
                                 f"{'.' + where if where else ''}: {error['msg']}") from None
    return windows


# ---- wiring: ledgers per broker, the hook, the flatten -------------------------------------

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def ledger_for(broker: Broker, rules: PropRules) -> RulesLedger:
    """The broker's ledger, made on first use (and again when its rules changed)."""
    ledger = getattr(broker, "_prop_rules_ledger", None)
    if not isinstance(ledger, RulesLedger) or ledger.rules != rules:
        name = _SAFE.sub("_", broker.account)
        ledger = RulesLedger(rules, broker.context.state_dir / "propfirm-rules" / f"{name}.json")
        broker._prop_rules_ledger = ledger  # type: ignore[attr-defined]
    return ledger


def is_router_order(client_order_id: str) -> bool:
    """Whether a venue's client tag is one of this router's ids (UUID version 5)."""
    try:
        return uuid.UUID(client_order_id).version == 5
    except ValueError:
        return False


async def read_figures(broker: Broker) -> Figures:
    raw = await broker.account_figures()  # type: ignore[attr-defined]
    return Figures(raw.balance, raw.open_pnl, raw.positions)


async def flatten_if_due(broker: Broker, ledger: RulesLedger, now: float) -> list[str] | None:
    """Close the account's positions and cancel the router's orders once per trading day
    after the flatten time; what was done, or ``None`` when it was not due."""
    if not ledger.flatten_due(now):
        return None
    flatten = getattr(broker, "flatten_account", None)
    if flatten is None:
        raise BrokerError(f"{broker.name} cannot flatten the account (no flatten_account)")
    done = await flatten(is_router_order)
    ledger.flattened(now)
    rules = ledger.rules
    logger.warning("prop rules: %s flattened at %s %s (flatten_at %s): %s", broker.account,
                   rules.local(now).strftime("%H:%M"), rules.timezone,
                   f"{rules.flatten_at:%H:%M}", "; ".join(done) or "nothing was open")
    return done


def _brokers_from_projectx() -> Sequence[Broker]:
    from .projectx import registered_brokers

    return registered_brokers()


def _broker_for(settings: object) -> Broker | None:
    from .projectx import broker_for_settings

    return broker_for_settings(settings)


@hookimpl
async def router_check_plan(plan: Plan, context: Mapping[str, Any]) -> str | None:
    """The prop-firm rules of the plan's account (a no-op for accounts without ``rules``)."""
    account = context["account"]
    rules = getattr(account.settings, "rules", None)
    if not isinstance(rules, PropRules):
        return None
    broker = _broker_for(account.settings)
    if broker is None:
        return ("prop rules: the account's broker did not register for the rules, so they "
                "cannot be checked (failing closed)")
    ledger = ledger_for(broker, rules)
    now = broker.context.clock.time()
    # No orders from here: the check also runs for dry runs. The flatten is the watcher's.
    exposure = plan_exposure(plan, context["position"])
    figures = None
    if ledger.needs_figures:
        # Read on every plan, exits included, so the day's opening balance and the high-water
        # mark follow the account; only an entry fails closed when they cannot be read.
        try:
            if not hasattr(broker, "account_figures"):
                raise BrokerError(f"{broker.name} does not report the account's balance and "
                                  "positions")
            figures = await read_figures(broker)
        except BrokerError as exc:
            if exposure is None:
                return None
            return (f"prop rules: the loss, drawdown and contract limits cannot be checked "
                    f"({exc}); failing closed")
        ledger.observe(figures, now)
    if exposure is None:
        return None  # closes and reductions are never refused
    try:
        return ledger.check(exposure, figures, now)
    except RulesFileError as exc:
        return f"prop rule blackouts: {exc} (failing closed)"


# ---- the flatten watcher (router_startup / router_shutdown, where the core has them) -------

_WATCHERS: set[asyncio.Task[None]] = set()


async def watch_flatten(clock: Any, *, state_dir: Path | None = None,
                        rounds: int | None = None) -> None:
    """Every ``FLATTEN_POLL_SECONDS``: flatten each rules account whose time has come (only
    the brokers of the router whose state is in ``state_dir``, when given). ``rounds`` bounds
    the loop (tests); ``None`` runs until cancelled."""
    done = 0
    while rounds is None or done < rounds:
        for broker in _brokers_from_projectx():
            if state_dir is not None and broker.context.state_dir != state_dir:
                continue  # another router's account (tests run several in one process)
            rules = getattr(broker.config, "rules", None)
            if not isinstance(rules, PropRules) or rules.flatten_at is None:
                continue
            try:
                await flatten_if_due(broker, ledger_for(broker, rules), clock.time())
            except Exception:  # one account's failure must not stop the others' flatten
                logger.exception("prop rules: flatten of %s failed; retried next round",
                                 broker.account)
        done += 1
        if rounds is None or done < rounds:
            # A real wait whatever the clock: a test's FakeClock.sleep would move its time
            # ahead at every turn of the loop.
            await asyncio.sleep(FLATTEN_POLL_SECONDS)


@hookimpl(optionalhook=True)
async def router_startup(context: Mapping[str, Any]) -> None:
    """Start the flatten watcher (optional: a core without this hook flattens at the next
    alert only)."""
    clock = context.get("clock") if isinstance(context, Mapping) else None
    state_dir = context.get("state_dir") if isinstance(context, Mapping) else None
    task = asyncio.get_running_loop().create_task(
        watch_flatten(clock or _SystemClock(), state_dir=state_dir))
    _WATCHERS.add(task)
    task.add_done_callback(_WATCHERS.discard)


@hookimpl(optionalhook=True)
async def router_shutdown() -> None:
    for task in list(_WATCHERS):
        task.cancel()


class _SystemClock:
    def time(self) -> float:
        return _time.time()
