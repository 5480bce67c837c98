"""ProjectX Gateway API (TopstepX and other firms): a real client for one evaluation account.

Facts (prop-brokers.md, the Gateway's documentation; ``projectx_client`` and
``projectx_orders`` say what is documented and what is assumed):

- login ``POST /api/Auth/loginKey`` with the user name and API key -> a session token;
- ``/api/Account/search`` lists the login's accounts (``id``, ``name``, ``balance``,
  ``canTrade``) [secondary for the fields];
- ``/api/Contract/search {live, searchText}`` lists contracts as ``CON.F.US.<root>.<M><yy>``
  with the venue's own roots (NQ is ``ENQ``), ``tickSize``, ``tickValue``, ``activeContract``;
- ``/api/Order/place`` with ``customTag`` unique per account (the client order id),
  ``/api/Order/search`` (by time window), ``/api/Order/searchOpen``, ``/api/Order/cancel``,
  ``/api/Position/searchOpen``, ``/api/Position/closeContract``.

Which contract ``NQ1!`` means is decided once, in ``futures`` (the roll rule); the venue's
contract for it is then *found* in the Contract/search answer, never spelled by guess: the
root is the one whose ids carry that month and whose tick size and tick value are the CME
contract's (``root_overrides`` pins a root where two match).
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from router_core import (
    Balance,
    Broker,
    BrokerContext,
    CanonicalSymbol,
    Capabilities,
    ConfigError,
    Instrument,
    InvalidOrder,
    NotSupported,
    Order,
    OrderResult,
    OrderStatus,
    OrderType,
    PermissionDenied,
    Position,
    Side,
    UnknownSymbol,
    normalize_ticker,
)

from .futures import SPECS, Contract, FuturesConfig, contract_for, futures_instrument, today_from
from .projectx_client import ProjectXClient
from .projectx_orders import deny, place_body, result_from_row
from .rules_config import RootName
from .settings import EnvName, HttpsUrl, SymbolText

logger = logging.getLogger("router_propfirms.projectx")

GATEWAYS: Mapping[str, str] = {
    "demo": "https://gateway-api-demo.s2f.projectx.com",
    "topstepx": "https://api.topstepx.com",  # [secondary] several public clients
}
SEARCH_REFRESH_SECONDS = 60.0  # a contract not in the cached answer searches again after this
SEARCH_MAX_AGE_SECONDS = 6 * 3600  # a cached answer is searched again after this anyway
LONG, SHORT = 1, 2  # Position/searchOpen ``type`` [secondary]


class ProjectXConfig(FuturesConfig):
    """One ProjectX account. The user name and API key are named by environment variable."""

    gateway: Literal["demo", "topstepx", "custom"] = Field(
        default="demo",
        description="demo gateway, TopstepX live, or 'custom' with base_url (another firm)",
    )
    base_url: HttpsUrl | None = None
    username_env: EnvName = "PROJECTX_USERNAME"
    api_key_env: EnvName = "PROJECTX_API_KEY"
    account_id: int | None = Field(default=None, ge=1,
                                   description="the ProjectX account id (Account/search)")
    account_name: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="the ProjectX account's name, when account_id is not given; with neither, "
        "the login must have exactly one active account")
    root_overrides: dict[RootName, RootName] = Field(
        default_factory=dict,
        description="TradingView root -> ProjectX contract root, where the search answer "
        "offers two roots with the same tick size and value",
    )
    symbol_overrides: dict[SymbolText, SymbolText] = Field(
        default_factory=dict,
        description="an alert's ticker -> the futures ticker this account trades for it, e.g. "
        "{ \"XBTUSD.P\" = \"MBT1!\" } to mirror a perpetual strategy on micro bitcoin futures",
    )
    live_contracts: bool = Field(
        default=False, description="the 'live' flag of Contract/search (the live data "
        "subscription rather than the simulated one)")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    order_lookup_days: int = Field(
        default=7, ge=1, le=90,
        description="how far back Order/search looks for an order by its client order id")
    simulated_account: bool | None = Field(
        default=None, description="whether this account's orders never reach a real market; "
        "unset: true on the demo gateway and false elsewhere (evaluation accounts trade "
        "simulated fills but count as live here unless this says so)")

    @model_validator(mode="after")
    def _custom_gateway_has_url(self) -> ProjectXConfig:
        if self.gateway == "custom" and not self.base_url:
            raise ValueError("gateway 'custom' needs base_url: the firm's ProjectX API host")
        return self

    @property
    def gateway_url(self) -> str:
        return self.base_url or GATEWAYS[self.gateway]


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What the prop-firm rules read from an account: the balance the venue reports, open
    profit and loss where it reports one, and every open position by venue symbol with its
    futures root."""

    balance: Decimal
    open_pnl: Decimal | None
    positions: Mapping[str, tuple[str, Decimal]]  # venue symbol -> (root, signed contracts)


# Brokers by the identity of their config object: the rules hook receives the account's
# config (``context["account"].settings``), the same object the broker was built with.
_BY_CONFIG: dict[int, weakref.ReferenceType[Broker]] = {}


def broker_for_settings(settings: object) -> Broker | None:
    """The live broker built with ``settings``, if any (see ``register_for_rules``)."""
    ref = _BY_CONFIG.get(id(settings))
    broker = ref() if ref is not None else None
    return broker if broker is not None and broker.config is settings else None


def register_for_rules(broker: Broker) -> None:
    """Let the rules hook find ``broker`` from its account's settings. Any prop-firm broker
    that offers ``account_figures`` and ``flatten_account`` may call it."""
    _BY_CONFIG[id(broker.config)] = weakref.ref(broker)


def registered_brokers() -> list[Broker]:
    """Every live broker registered for the rules (the flatten watcher walks them)."""
    alive = [ref() for ref in list(_BY_CONFIG.values())]
    return [broker for broker in alive if broker is not None]


@dataclass
class _Session:
    client: ProjectXClient
    users: int = 0


# Clients by login, so the accounts of one login share its session token. The key holds a
# digest of the credentials, never the credentials.
_SESSIONS: dict[tuple[object, ...], _Session] = {}


def _session_key(config: ProjectXConfig, context: BrokerContext, username: SecretStr,
                 api_key: SecretStr) -> tuple[object, ...]:
    digest = hashlib.sha256(
        f"{username.get_secret_value()}\x1f{api_key.get_secret_value()}".encode()).hexdigest()
    return (config.gateway_url, digest, config.timeout_seconds, id(context.transport),
            id(context.clock))


class ProjectXBroker(Broker):
    """One ProjectX account: contracts from Contract/search, orders tagged with the client
    order id (``customTag``), net positions per contract."""

    name: ClassVar[str] = "projectx"
    Config: ClassVar[type[ProjectXConfig]] = ProjectXConfig
    config: ProjectXConfig
    capabilities = Capabilities(
        order_types=frozenset(
            {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP}
        ),
        # stopLossBracket / takeProfitBracket in ticks; they take effect only on accounts
        # with "Auto OCO Brackets" [secondary]
        attached_brackets=True,
        reduce_only=False,  # no reduce-only flag in Order/place
        can_short=True,
        net_position=True,
        single_order_flip=True,
        fractional=False,
        cancel=True,
        find_order=True,  # customTag is unique per account
    )

    def __init__(self, config: ProjectXConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self.simulated = (config.gateway == "demo" if config.simulated_account is None
                          else config.simulated_account)
        self._client: ProjectXClient | None = None
        self._session_key: tuple[object, ...] = ()
        self._account_id: int | None = config.account_id
        self._searches: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._roots: dict[str, str] = {}  # venue contract id -> CME root, as resolved
        register_for_rules(self)

    # -- session -------------------------------------------------------------------------------

    @property
    def client(self) -> ProjectXClient:
        """The login's client, shared by every account of the same login in this process:
        one session token for many evaluation accounts (whether the Gateway keeps several
        sessions of one user alive is not documented, so the router opens one)."""
        if self._client is None:
            username = self.context.secret(self.config.username_env, key="username_env")
            api_key = self.context.secret(self.config.api_key_env, key="api_key_env")
            self._session_key = _session_key(self.config, self.context, username, api_key)
            shared = _SESSIONS.get(self._session_key)
            if shared is None:
                shared = _Session(ProjectXClient(
                    base_url=self.config.gateway_url, username=username, api_key=api_key,
                    clock=self.context.clock, transport=self.context.transport,
                    timeout=self.config.timeout_seconds,
                ))
                _SESSIONS[self._session_key] = shared
            shared.users += 1
            self._client = shared.client
        return self._client

    async def start(self) -> None:
        await self.client.login()
        await self.account_id()

    async def close(self) -> None:
        if self._client is None:
            return
        self._client = None
        shared = _SESSIONS.get(self._session_key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            del _SESSIONS[self._session_key]
            await shared.client.close()

    async def _accounts(self) -> list[dict[str, Any]]:
        answer = await self.client.call("/api/Account/search", {"onlyActiveAccounts": True})
        return [row for row in answer.get("accounts") or [] if isinstance(row, dict)]

    async def account_id(self) -> int:
        """The ProjectX account id: configured, or found by name, or the login's only one."""
        if self._account_id is not None:
            return self._account_id
        rows = await self._accounts()
        name = self.config.account_name
        key = f"accounts.{self.account}.account_name"
        if name is not None:
            found = [row for row in rows if row.get("name") == name]
            if not found:
                names = ", ".join(str(row.get("name")) for row in rows) or "none"
                raise ConfigError(f"no active ProjectX account named {name!r} (this login "
                                  f"has: {names})", key=key)
        else:
            found = rows
            if len(found) != 1:
                names = ", ".join(str(row.get("name")) for row in rows) or "none"
                raise ConfigError(f"the login has {len(rows)} active accounts ({names}); set "
                                  "account_id or account_name", key=key)
        self._account_id = int(found[0]["id"])
        return self._account_id

    # -- contracts -----------------------------------------------------------------------------

    def contract(self, symbol: CanonicalSymbol) -> Contract:
        overrides = self.config.symbol_overrides
        mapped = overrides.get(symbol.raw) or overrides.get(symbol.ticker)
        if mapped is not None:
            symbol = normalize_ticker(mapped)
        today = today_from(self.context.clock.time)
        return contract_for(symbol, self.name, today=today,
                            roll_days=self.config.roll_days_before_expiry)

    async def _search(self, text: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        now = self.context.clock.monotonic()
        cached = self._searches.get(text)
        limit = SEARCH_REFRESH_SECONDS if fresh else SEARCH_MAX_AGE_SECONDS
        if cached is not None and now - cached[0] < limit:
            return cached[1]
        answer = await self.client.call(
            "/api/Contract/search", {"live": self.config.live_contracts, "searchText": text})
        rows = [row for row in answer.get("contracts") or [] if isinstance(row, dict)]
        self._searches[text] = (now, rows)
        return rows

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        contract = self.contract(symbol)
        code = f"{contract.month_code}{contract.year % 100:02d}"
        row = None
        for fresh in (False, True):  # the cached answer first, then a new search
            rows = await self._search(contract.root, fresh=fresh)
            row = self._pick(contract, code, rows, symbol)
            if row is None:  # the venue's root may not contain the CME root (ES is EP)
                rows = await self._search(contract.spec.description, fresh=fresh)
                row = self._pick(contract, code, rows, symbol)
            if row is not None:
                break
        if row is None:
            raise UnknownSymbol(
                f"projectx: {symbol.raw!r} means {contract.tradingview} (by the roll rule), "
                f"and Contract/search lists no {contract.spec.description} contract for "
                f"{code}; set root_overrides = {{{contract.root} = \"...\"}} if the venue "
                "spells it differently"
            )
        self._roots[str(row["id"])] = contract.root
        return self._instrument(contract, row)

    def _pick(self, contract: Contract, code: str, rows: Sequence[dict[str, Any]],
              symbol: CanonicalSymbol) -> dict[str, Any] | None:
        """The row of ``contract`` in a search answer: the configured root, else the one root
        whose tick size and tick value are the CME contract's."""
        spec = contract.spec
        by_root: dict[str, dict[str, Any]] = {}
        for row in rows:
            parts = str(row.get("id", "")).split(".")
            if len(parts) == 5 and parts[:3] == ["CON", "F", "US"] and parts[4] == code:
                by_root[parts[3]] = row
        pinned = self.config.root_overrides.get(contract.root)
        if pinned is not None:
            return by_root.get(pinned)
        tick_value = spec.tick_size * spec.point_value
        matching = {root: row for root, row in by_root.items()
                    if _decimal(row.get("tickSize")) == spec.tick_size
                    and _decimal(row.get("tickValue")) == tick_value
                    and (root == contract.root or root not in SPECS)}
        if contract.root in matching:
            return matching[contract.root]
        if len(matching) > 1:
            raise UnknownSymbol(
                f"projectx: {symbol.raw!r}: Contract/search offers roots "
                f"{', '.join(sorted(matching))} with {contract.root}'s tick size and value; "
                f"set root_overrides = {{{contract.root} = \"...\"}} on the account"
            )
        return next(iter(matching.values()), None)

    def _instrument(self, contract: Contract, row: Mapping[str, Any]) -> Instrument:
        tick = _decimal(row.get("tickSize")) or contract.spec.tick_size
        tick_value = _decimal(row.get("tickValue"))
        instrument = futures_instrument(
            contract, str(row["id"]), roll_days=self.config.roll_days_before_expiry,
            extras={"contract_name": row.get("name"), "venue_root": str(row["id"]).split(".")[3],
                    "tick_value": str(tick_value), "active_contract": row.get("activeContract")},
        )
        point_value = tick_value / tick if tick_value else instrument.contract_size
        return _replace_steps(instrument, tick, point_value)

    # -- account -------------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        account_id = await self.account_id()
        for row in await self._accounts():
            if row.get("id") == account_id:
                value = _decimal(row.get("balance"))
                if value is None:
                    break
                # The Gateway reports the account's balance only; open profit and loss needs
                # market data, so equity is the balance.
                return Balance("USD", value, value)
        raise PermissionDenied(f"projectx: account {account_id} is not among the login's "
                               "active accounts (or has no balance)", from_venue=True)

    async def _positions(self) -> list[dict[str, Any]]:
        answer = await self.client.call("/api/Position/searchOpen",
                                        {"accountId": await self.account_id()})
        return [row for row in answer.get("positions") or [] if isinstance(row, dict)]

    async def position(self, instrument: Instrument) -> Position:
        for row in await self._positions():
            if row.get("contractId") == instrument.symbol:
                return Position(instrument.symbol, _signed(row), _decimal(row.get("averagePrice")))
        return Position(instrument.symbol, Decimal(0))

    async def account_figures(self) -> AccountFigures:
        """Balance and every open position, for the prop-firm rules."""
        balance = await self.balance()
        positions = {}
        for row in await self._positions():
            contract_id = str(row.get("contractId"))
            venue_root = contract_id.split(".")[3] if contract_id.count(".") == 4 else ""
            root = self._roots.get(contract_id, venue_root)  # resolved here, else the venue's
            positions[contract_id] = (root, _signed(row))
        return AccountFigures(balance.equity, None, positions)

    # -- orders --------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        if order.reduce_only:
            await self._check_reduces(order)
        body = place_body(order, await self.account_id())
        try:
            answer = await self.client.call("/api/Order/place", body, places_order=True)
        except InvalidOrder as exc:
            # [assumed wording] a second order with a used customTag: the first one exists;
            # report it rather than a rejection (the same intent was already placed)
            if "custom tag" in str(exc).lower():
                found = await self.find_order(order.client_order_id, order.instrument)
                if found is not None:
                    return found
            raise
        venue_id = answer.get("orderId")
        found = await self._lookup(order.client_order_id, venue_id=venue_id)
        if found is not None:
            return found
        return OrderResult(OrderStatus.ACCEPTED, order.client_order_id,
                           venue_order_id=str(venue_id), quantity=order.quantity,
                           price=order.limit_price or order.stop_price)

    async def _check_reduces(self, order: Order) -> None:
        """ProjectX has no reduce-only flag: a reduce-only order is sent only when it reduces
        the position, and never larger than it."""
        held = (await self.position(order.instrument)).quantity
        reduces = (held > 0 and order.side is Side.SELL) or (held < 0 and order.side is Side.BUY)
        if not reduces or order.quantity > abs(held):
            raise deny(f"a reduce-only {order.side.value} of {order.quantity} would not only "
                       f"reduce the position of {held}")

    async def _order_rows(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        account_id = await self.account_id()
        if open_only:
            answer = await self.client.call("/api/Order/searchOpen", {"accountId": account_id})
        else:
            since = self.context.clock.time() - self.config.order_lookup_days * 86400
            answer = await self.client.call("/api/Order/search", {
                "accountId": account_id,
                "startTimestamp": datetime.fromtimestamp(since, UTC).isoformat(),
            })
        return [row for row in answer.get("orders") or [] if isinstance(row, dict)]

    async def _lookup(self, client_order_id: str, *, venue_id: object = None
                      ) -> OrderResult | None:
        rows = await self._order_rows()
        for row in reversed(rows):  # the newest first
            if row.get("customTag") == client_order_id or (
                    venue_id is not None and row.get("id") == venue_id):
                return result_from_row(row, client_order_id=client_order_id)
        return None

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        return await self._lookup(client_order_id)

    async def open_orders(self, instrument: Instrument) -> Sequence[OrderResult]:
        return [result_from_row(row) for row in await self._order_rows(open_only=True)
                if row.get("contractId") == instrument.symbol]

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        found = await self.find_order(client_order_id, instrument)
        if found is None or found.venue_order_id is None:
            raise NotSupported(f"projectx: no order with client order id {client_order_id} "
                               "to cancel", from_venue=False)
        if found.status not in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            return found  # already filled, cancelled or rejected: nothing left to cancel
        result = await self.cancel_venue_order(found.venue_order_id, instrument)
        return OrderResult(result.status, client_order_id, found.venue_order_id,
                           found.quantity, found.price, found.filled_quantity,
                           found.average_price)

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        return await self._cancel(venue_order_id)

    async def _cancel(self, venue_order_id: str) -> OrderResult:
        try:
            order_id = int(venue_order_id)
        except ValueError:
            raise InvalidOrder(f"projectx: order id {venue_order_id!r} is not a number",
                               from_venue=False) from None
        await self.client.call("/api/Order/cancel",
                               {"accountId": await self.account_id(), "orderId": order_id})
        return OrderResult(OrderStatus.CANCELED, "", venue_order_id=venue_order_id)

    async def close_position(self, contract_id: str) -> None:
        """Close the whole position on ``contract_id`` at market (Position/closeContract)."""
        await self.client.call("/api/Position/closeContract",
                               {"accountId": await self.account_id(), "contractId": contract_id},
                               places_order=True)

    async def flatten_account(self, is_ours: Any) -> list[str]:
        """Cancel the open orders ``is_ours(client_order_id)`` accepts, then close every open
        position; what was done, one line each. Used by the rules' flatten."""
        done = []
        for row in await self._order_rows(open_only=True):
            tag = row.get("customTag")
            if isinstance(tag, str) and is_ours(tag):
                await self._cancel(str(row.get("id")))
                done.append(f"cancelled order {row.get('id')} ({tag}) on {row.get('contractId')}")
        for row in await self._positions():
            contract_id = str(row.get("contractId"))
            await self.close_position(contract_id)
            done.append(f"closed {_signed(row)} {contract_id}")
        return done

    async def reference_price(self, instrument: Instrument) -> Any:
        return None  # prices come from market data (SignalR), not read here


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _signed(row: Mapping[str, Any]) -> Decimal:
    size = _decimal(row.get("size")) or Decimal(0)
    return -abs(size) if row.get("type") == SHORT else abs(size)


def _replace_steps(instrument: Instrument, tick: Decimal, point_value: Decimal) -> Instrument:
    from dataclasses import replace

    return replace(instrument, tick_size=tick, contract_size=point_value)


__all__ = ["AccountFigures", "ProjectXBroker", "ProjectXConfig", "broker_for_settings",
           "register_for_rules", "registered_brokers"]
