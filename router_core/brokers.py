"""The Broker contract every venue plugin implements, its capabilities and the broker registry.

A plugin registers Broker subclasses through the ``router_register_brokers`` hook. The core
builds one instance per configured account and calls it one leg at a time, so an exception on
one venue never stops another venue's leg.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, field_validator

from .clock import Clock, SystemClock
from .errors import ConfigError, NotSupported, PluginError, UnknownSymbol
from .models import (
    AccountKind,
    Balance,
    CanonicalSymbol,
    Fill,
    Instrument,
    LegPurpose,
    Order,
    OrderResult,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from .nonces import NonceRegistry
from .ratelimit import RateLimiterRegistry

if TYPE_CHECKING:
    import httpx

_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")

# A setting whose name ends in ``_env`` names an environment variable. Anything else in it is
# most likely the secret itself, pasted where its variable's name belongs: it is refused, and
# the message names the setting but never repeats the value.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_NAME_MAX_LENGTH = 128
_ENV_NAME = re.compile(ENV_NAME_PATTERN)


def env_name_reason(field: str) -> str:
    """Why a ``*_env`` setting was refused; by design without the value."""
    return (f"{field} must name an environment variable; the value given looks like a secret "
            "and is not shown")


def check_env_names(value: Any, info: ValidationInfo) -> Any:
    """Field validator: a ``*_env`` setting (a name, a list of names or a table of names) holds
    only environment variable names. Other fields pass through untouched."""
    field = info.field_name or ""
    if not field.endswith("_env"):
        return value
    names = (value.values() if isinstance(value, Mapping)
             else value if isinstance(value, list | tuple) else [value])
    for name in names:
        if isinstance(name, str) and not (
                len(name) <= ENV_NAME_MAX_LENGTH and _ENV_NAME.fullmatch(name)):
            raise ValueError(env_name_reason(field))
    return value


class BrokerConfig(BaseModel):
    """Base of every broker's settings: the account's section of the config file.

    Subclass it and add the venue's fields. Never put a secret itself in the config: declare the
    *name* of the environment variable that holds it (``api_secret_env: str = "KRAKEN_SECRET"``)
    and read it with ``context.secret(self.config.api_secret_env)``.
    """

    # hide_input_in_errors: a ValidationError printed anywhere must not show a pasted secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str | None = None

    # "*": every field, including those a plugin's subclass adds, so a third-party broker gets
    # the check on its own ``*_env`` settings without doing anything.
    @field_validator("*")
    @classmethod
    def _env_settings_name_variables(cls, value: Any, info: ValidationInfo) -> Any:
        return check_env_names(value, info)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a broker can do; read by the planner, the risk checks and the contract tests."""

    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    time_in_force: frozenset[TimeInForce] = frozenset({TimeInForce.GTC})
    reduce_only: bool = False
    post_only: bool = False
    attached_brackets: bool = False  # take profit / stop loss ride on the entry order
    separate_brackets: bool = False  # brackets go out as their own reduce-only orders
    can_short: bool = False
    net_position: bool = False  # one signed position per instrument (futures, margin)
    single_order_flip: bool = False  # one order may close and open (net position venues)
    leverage: bool = False
    fractional: bool = True
    cancel: bool = True
    find_order: bool = True
    # The broker streams its account's fills (``stream_fills``) and can list them since a time
    # (``fills_since``); the core then keeps the journal current without polling.
    fill_stream: bool = False
    # How the account holds positions (see AccountKind). None derives it: ``net`` when the
    # broker nets positions or can short (its position() is a signed position), else ``cash``
    # (the safe reading for a broker that says nothing: the router only sells what it bought).
    account_kind: AccountKind | None = None

    @property
    def kind(self) -> AccountKind:
        if self.account_kind is not None:
            return self.account_kind
        return AccountKind.NET if self.net_position or self.can_short else AccountKind.CASH


@dataclass
class BrokerContext:
    """Shared services the core hands to every broker instance.

    ``transport`` is an optional ``httpx.AsyncBaseTransport``; tests inject one to fake the venue
    or to simulate a dropped reply. ``state_dir`` is where a broker may keep small files.
    """

    account: str
    state_dir: Path
    nonces: NonceRegistry
    limiters: RateLimiterRegistry
    clock: Clock = field(default_factory=SystemClock)
    transport: httpx.AsyncBaseTransport | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def secret(self, env_name: str | None, *, key: str = "credentials") -> SecretStr:
        """Read a secret from the environment variable the config names.

        Raises ConfigError naming the account, the key and the variable when it is unset; the
        secret's value never appears in any message.
        """
        if not env_name:
            raise ConfigError(f"{key} is not configured", key=f"accounts.{self.account}.{key}")
        value = self.environ.get(env_name)
        if not value:
            raise ConfigError(
                f"environment variable {env_name} is not set",
                key=f"accounts.{self.account}.{key}",
            )
        return SecretStr(value)


class Broker(ABC):
    """One account on one venue.

    Class attributes a plugin sets:

    ``name``
        the broker name accounts refer to (``broker = "kraken-spot"``), lower case.
    ``Config``
        a ``BrokerConfig`` subclass; its JSON Schema validates the account's config section.
    ``capabilities``
        a ``Capabilities``; the planner never asks for what is not declared. The class value is
        the default: a broker whose abilities depend on the account's settings assigns
        ``self.capabilities`` in ``__init__`` (the core only ever reads the instance's).
    ``simulated``
        ``True`` when the account's orders never reach a real market (a paper venue, a
        venue's demo or testnet environment). The class value is the default; a broker whose
        environment comes from the config sets ``self.simulated`` in ``__init__``. The core
        counts an account as live, and guards it as such, unless its broker says this.
    ``stub``
        ``True`` for a broker that cannot place orders yet; listed as a stub.

    Only ``resolve``, ``balance``, ``position`` and ``submit_order`` are required. Every method
    is async and called one leg at a time; a broker must be safe for concurrent calls from
    different alerts (the core serialises work per account and symbol, not per account).
    """

    name: ClassVar[str]
    Config: ClassVar[type[BrokerConfig]] = BrokerConfig
    # Not ClassVars: a class default that an instance may replace in ``__init__``.
    capabilities: Capabilities = Capabilities()
    simulated: bool = False
    stub: ClassVar[bool] = False

    def __init__(self, config: BrokerConfig, context: BrokerContext) -> None:
        self.config = config
        self.context = context

    @property
    def account(self) -> str:
        return self.context.account

    def __repr__(self) -> str:  # never show config values: they may name secrets' sources
        return f"<{type(self).__name__} {self.name} account={self.account!r}>"

    async def start(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Called once before the first alert: log in, load instruments, measure clock skew."""

    async def instruments(self) -> Sequence[Instrument]:
        """All instruments, loaded once and cached by the broker."""
        raise NotSupported(f"{self.name}: listing instruments is not supported")

    @abstractmethod
    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        """The venue instrument for a canonical symbol; raise UnknownSymbol when there is none."""

    @abstractmethod
    async def balance(self, currency: str | None = None) -> Balance:
        """Equity and available funds, in ``currency`` or the account's settlement currency."""

    @abstractmethod
    async def position(self, instrument: Instrument) -> Position:
        """The current net position on ``instrument`` (zero when flat)."""

    def capabilities_for(self, instrument: Instrument) -> Capabilities:
        """What this account can do on ``instrument``: ``self.capabilities`` unless the venue
        differs per instrument (order types, brackets, leverage, post-only on some markets).

        Called while planning and building each order. Return a ``Capabilities`` with the
        same ``kind`` as the account's: how an account holds positions does not vary per
        instrument. Example::

            def capabilities_for(self, instrument):
                if instrument.venue.get("market_only"):
                    return dataclasses.replace(
                        self.capabilities, order_types=frozenset({OrderType.MARKET}))
                return self.capabilities
        """
        return self.capabilities

    async def reference_price(self, instrument: Instrument) -> Any:
        """A current price when the alert carries none; ``None`` when the venue cannot tell."""
        return None

    @abstractmethod
    async def submit_order(self, order: Order) -> OrderResult:
        """Send one order. Return the venue's answer as an OrderResult.

        Raise a ``BrokerError`` subclass for refusals: with ``from_venue=False`` when nothing
        was sent (a denial), ``from_venue=True`` when the venue refused (a rejection). Raise
        ``AmbiguousOutcome`` when the request may have reached the venue but the answer is lost.
        Raise ``RateLimited`` (any error of ``RetryClass.WAIT``) only when the venue did not
        take the order, with ``retry_after=`` when it says how long: the core sends the same
        order again after that wait, a few times within a bound.
        """

    async def place_brackets(self, order: Order, entry: OrderResult) -> OrderResult:
        """Place the take profit and stop loss of ``order`` after its entry was *found* rather
        than answered (its reply was lost and reconciliation located it).

        Only brokers that declare ``separate_brackets`` implement it; they normally place the
        brackets inside ``submit_order``. Return ``entry`` with a reason saying what was placed.
        Bracket client order ids must be derived from the entry's, so a repeat is harmless.
        """
        raise NotSupported(f"{self.name}: placing brackets after a lookup is not supported")

    def bracket_order_ids(self, order: Order) -> Sequence[tuple[LegPurpose, str]]:
        """The client order ids of the orders this broker places by itself for ``order``
        (separate take-profit and stop-loss orders), each with its purpose.

        Called after ``order`` was placed; the core journals these orders as resting, so an
        exit or a reversal on the symbol cancels them (through ``cancel_order``) before it
        closes. Only brokers that declare ``separate_brackets`` need it. Default: none.
        """
        return ()

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        """Cancel by client order id."""
        raise NotSupported(f"{self.name}: cancelling orders is not supported")

    async def open_orders(self, instrument: Instrument) -> Sequence[OrderResult]:
        """Every order resting on ``instrument``, whoever placed it: ``venue_order_id`` set,
        ``client_order_id`` empty when the order has none.

        Read only for accounts with ``cancel_foreign_orders = true``: an exit or a reversal
        then also cancels orders this router did not place (with ``cancel_venue_order``).
        """
        raise NotSupported(f"{self.name}: listing open orders is not supported")

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        """Cancel an order by the venue's own id (one this router did not place)."""
        raise NotSupported(f"{self.name}: cancelling by the venue's order id is not supported")

    async def child_orders(
        self, parent_venue_order_ids: Collection[str], instrument: Instrument
    ) -> Sequence[tuple[Side, OrderResult]]:
        """The orders the venue created by itself from the given orders of this router (by
        their venue ids), open or finished: a conditional close the venue places once its
        primary order executes. Each comes with its side and an OrderResult whose
        ``venue_order_id`` and ``parent_venue_order_id`` are set and whose fill is the one
        known now (``client_order_id`` empty when it has none).

        Only brokers that declare ``attached_brackets`` need it. On a cash account the core
        journals each one as a leg of its parent's alert, so a close that executed at the
        venue comes off what the router holds (and the next exit does not sell it again).
        Default: not supported (only the router's own orders' fills are then counted).
        """
        raise NotSupported(f"{self.name}: listing the orders the venue created is not supported")

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        """Look an order up by client order id; ``None`` when the venue has no such order.

        Called after an ambiguous outcome and at restart, before anything is re-sent.
        """
        raise NotSupported(f"{self.name}: looking orders up is not supported")

    def stream_fills(self) -> AsyncIterator[Fill | None]:
        """The account's fills as they happen, over one connection to the venue's private
        stream: an async iterator that ends (or raises) when the connection does. Yield
        ``None`` once the subscription is live (the venue confirmed it, its snapshot is read):
        the core then catches up through ``fills_since``, so nothing falls between the two.

        Only brokers that declare ``fill_stream`` implement it. The core owns the lifecycle
        (``router_core.fills``): it runs one stream per API key under ``serve``, and after every
        (re)connect it calls ``fills_since`` to catch up, so a stream needs no replay of its own.
        Yield every execution of the account, the router's orders and others alike (a fill with
        an empty ``client_order_id`` is recorded as foreign, never attached to a leg). Detect a
        dead connection (heartbeats, a read timeout, a sequence gap) and raise
        ``VenueUnavailable``: the core reconnects with a jittered backoff. Raise another
        ``BrokerError`` (``from_venue=True``) for a refusal such as a bad signature: the core
        logs it as such and retries slowly.
        """
        raise NotSupported(f"{self.name}: streaming fills is not supported")

    async def fills_since(self, since: float) -> Sequence[Fill]:
        """Every fill of the account at or after ``since`` (Unix seconds) through the venue's
        REST API, oldest first, with the same ``trade_id`` the stream gives. The core calls it
        after each (re)connect of ``stream_fills`` from the last fill the journal holds, and
        drops those it has already recorded."""
        raise NotSupported(f"{self.name}: listing fills is not supported")

    async def close(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release connections; called once at shutdown."""


RegisterBroker = Callable[[type[Broker]], None]


@dataclass(frozen=True, slots=True)
class BrokerEntry:
    cls: type[Broker]
    plugin: str


class BrokerRegistry:
    """Broker classes by name; validates what plugins register."""

    def __init__(self) -> None:
        self._entries: dict[str, BrokerEntry] = {}

    def register(self, cls: type[Broker], *, plugin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Broker)):
            raise PluginError(f"registered {cls!r}, which is not a Broker subclass", plugin=plugin)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"{cls.__qualname__}.name must be lower-case letters, digits, '-' or '_' "
                f"(got {name!r})",
                plugin=plugin,
            )
        if not (isinstance(cls.Config, type) and issubclass(cls.Config, BrokerConfig)):
            raise PluginError(
                f"{cls.__qualname__}.Config must subclass BrokerConfig", plugin=plugin
            )
        if not isinstance(cls.capabilities, Capabilities):
            raise PluginError(
                f"{cls.__qualname__}.capabilities must be a Capabilities", plugin=plugin
            )
        if not isinstance(cls.simulated, bool):
            raise PluginError(
                f"{cls.__qualname__}.simulated must be True or False", plugin=plugin
            )
        if cls.__abstractmethods__:
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise PluginError(f"{cls.__qualname__} does not implement {missing}", plugin=plugin)
        existing = self._entries.get(name)
        if existing is not None and existing.cls is not cls:
            raise PluginError(
                f"broker name {name!r} is registered twice: by plugin {existing.plugin!r} "
                f"and by plugin {plugin!r}",
                plugin=plugin,
            )
        self._entries[name] = BrokerEntry(cls, plugin)

    def get(self, name: str) -> type[Broker]:
        try:
            return self._entries[name].cls
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownBroker(name, known) from None

    def entry(self, name: str) -> BrokerEntry:
        self.get(name)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def by_plugin(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, entry in sorted(self._entries.items()):
            out.setdefault(entry.plugin, []).append(name)
        return out

    def __iter__(self) -> Iterator[tuple[str, type[Broker]]]:
        return iter((name, entry.cls) for name, entry in sorted(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries


class UnknownBroker(ConfigError):
    def __init__(self, name: str, known: str) -> None:
        super().__init__(f"no broker named {name!r} is installed (installed: {known})")
        self.name = name


__all__ = [
    "Broker",
    "BrokerConfig",
    "BrokerContext",
    "BrokerEntry",
    "BrokerRegistry",
    "Capabilities",
    "RegisterBroker",
    "UnknownBroker",
    "UnknownSymbol",
]
