"""Tradovate (NinjaTrader group): futures orders through the REST API, demo or live.

What is documented and what is assumed (prop-brokers.md; Tradovate's partner API pages; the
models generated from Tradovate's OpenAPI in its public example repositories):

- [documented] REST roots ``https://demo.tradovateapi.com/v1`` and
  ``https://live.tradovateapi.com/v1``; tokens and their renewal: ``tradovate_client``.
- [documented] ``POST /order/placeorder`` with ``{accountSpec, accountId, clOrdId, action,
  symbol, orderQty, orderType, price, stopPrice, timeInForce, isAutomated}`` answers
  ``{orderId}`` or ``{failureReason, failureText}``. ``isAutomated`` must be true for orders
  a human did not enter, so it always is. ``clOrdId`` carries ``Order.client_order_id``.
- [documented] ``POST /order/placeoso`` takes the same fields plus ``bracket1`` and
  ``bracket2`` (``{action, clOrdId, orderType, price, stopPrice, timeInForce}``), sent once
  the entry fills and linked as one-cancels-the-other; it answers ``{orderId, oso1Id,
  oso2Id}``. The brackets carry no quantity of their own: they cover the whole entry.
- [documented] finding an order by our id: the ``Command`` entity (``GET /command/list``)
  carries ``clOrdId``, ``orderId`` and ``commandType`` (``New`` for a placement); the
  order's state is ``GET /order/item`` (``ordStatus``), its quantity and prices
  ``GET /orderVersion/deps?masterid=``, its fills ``GET /fill/deps?masterid=``.
- [documented] ``POST /order/cancelorder {orderId, isAutomated}``; ``GET /position/list``
  (``accountId``, ``contractId``, ``netPos``, ``netPrice``); ``POST
  /order/liquidateposition {accountId, contractId, admin}``; ``GET /account/list``;
  ``GET /contract/find?name=`` (``{id, name}``); ``POST
  /cashBalance/getcashbalancesnapshot {accountId}`` (``netLiq``, ``totalCashValue``,
  ``initialMargin``).
- [assumed] ``clOrdId`` accepts the router's 36-character ids (no length is documented).
- [assumed] the balance's available funds are ``netLiq - initialMargin``.
- Symbols: root + month code + one-digit year (``NQ1!`` -> ``NQH6``, ``MNQH2027`` ->
  ``MNQH7``), from the shared contract table (``futures``); ``resolve`` needs no request, the
  contract's venue id is read (once) when a position is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from router_core import (
    AccountKind,
    Balance,
    Broker,
    BrokerContext,
    BrokerError,
    CanonicalSymbol,
    Capabilities,
    ConfigError,
    Instrument,
    InvalidOrder,
    NotSupported,
    Order,
    OrderNotFound,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
    UnknownSymbol,
    VenueUnavailable,
    normalize_ticker,
)

from .futures import FuturesConfig, contract_for, futures_instrument, root_of, today_from
from .projectx import AccountFigures, register_for_rules
from .recent import remember
from .settings import EnvName, SymbolText, check_environment_host, check_rest_base_url
from .tradovate_client import Credentials, TradovateClient

logger = logging.getLogger("router_propfirms.tradovate")

REST_URLS = {
    "demo": "https://demo.tradovateapi.com/v1",
    "live": "https://live.tradovateapi.com/v1",
}
# Hosts that serve something other than the REST API a broker needs.
_NOT_REST = {
    "md.tradovateapi.com": "the market data WebSocket",
    "md-demo.tradovateapi.com": "the market data WebSocket",
}

ORDER_TYPES = {OrderType.MARKET: "Market", OrderType.LIMIT: "Limit", OrderType.STOP: "Stop"}
TIME_IN_FORCE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK",
                 TimeInForce.DAY: "Day"}
# ordStatus [documented enum] -> the core's status (before fills are counted)
STATUSES = {
    "Working": OrderStatus.ACCEPTED, "PendingNew": OrderStatus.ACCEPTED,
    "PendingReplace": OrderStatus.ACCEPTED, "PendingCancel": OrderStatus.ACCEPTED,
    "Suspended": OrderStatus.ACCEPTED, "Filled": OrderStatus.FILLED,
    "Completed": OrderStatus.FILLED, "Canceled": OrderStatus.CANCELED,
    "Expired": OrderStatus.CANCELED, "Rejected": OrderStatus.REJECTED,
    "Unknown": OrderStatus.UNKNOWN,
}


class TradovateConfig(FuturesConfig):
    """One Tradovate account. Every secret is named by environment variable."""

    environment: Literal["demo", "live"] = "demo"
    username_env: EnvName = "TRADOVATE_USERNAME"
    password_env: EnvName = "TRADOVATE_PASSWORD"  # noqa: S105 (a variable name)
    app_id: str = Field(min_length=1, max_length=100, description="appId of the registered app")
    app_version: str = Field(default="1.0", min_length=1, max_length=20)
    cid_env: EnvName = Field(default="TRADOVATE_CID",
                             description="variable holding the API key's numeric id (cid)")
    sec_env: EnvName = Field(default="TRADOVATE_SEC", description="variable holding the API sec")
    account_spec: str | None = Field(
        default=None, max_length=100,
        description="the account's name (accountSpec); picks the account when there are several",
    )
    account_id: int | None = Field(default=None, ge=1,
                                   description="the account's id; picks the account")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="seconds to wait for each answer")
    symbol_overrides: dict[SymbolText, SymbolText] = Field(
        default_factory=dict,
        description="an alert's ticker -> the futures ticker this account trades for it, e.g. "
        "{ \"XBTUSD.P\" = \"MBT1!\" } to mirror a perpetual strategy on micro bitcoin futures",
    )

    @field_validator("base_url")
    @classmethod
    def _rest_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_rest_base_url(value, example=REST_URLS["demo"], not_rest=_NOT_REST)

    @model_validator(mode="after")
    def _environment_matches_host(self) -> TradovateConfig:
        check_environment_host(self.base_url, self.environment, REST_URLS)
        return self

    @property
    def rest_url(self) -> str:
        return self.base_url or REST_URLS[self.environment]


class TradovateBroker(Broker):
    """A Tradovate futures account (demo or live): orders, brackets, positions, lookups."""

    name: ClassVar[str] = "tradovate"
    Config: ClassVar[type[TradovateConfig]] = TradovateConfig
    config: TradovateConfig
    capabilities = Capabilities(
        order_types=frozenset(ORDER_TYPES),
        time_in_force=frozenset(TIME_IN_FORCE),
        attached_brackets=True,  # placeOSO
        can_short=True,
        net_position=True,
        # A flip's brackets would cover the whole order (OSO brackets have no quantity of
        # their own), so a reversal goes out as a close, then an open.
        single_order_flip=False,
        fractional=False,
        reduce_only=False,  # Tradovate orders carry no reduce-only flag
        cancel=True,
        find_order=True,  # clOrdId, read back from the Command entity
        account_kind=AccountKind.NET,
    )

    def __init__(self, config: TradovateConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self.simulated = config.environment == "demo"
        self.client: TradovateClient | None = None
        self.account_id: int | None = None
        self.account_spec: str | None = None
        self._contract_ids: dict[str, int] = {}
        self._contract_names: dict[int, str] = {}
        self._order_ids: dict[str, int] = {}  # client order id -> orderId: this session's newest
        self._lock = asyncio.Lock()
        register_for_rules(self)  # the prop-firm rules read account_figures, flatten_account

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the credentials, ask for a token and pick the account."""
        async with self._lock:
            if self.account_id is not None:
                return
            if self.client is None:
                self.client = TradovateClient(
                    base_url=self.config.rest_url, credentials=self._credentials(),
                    clock=self.context.clock, transport=self.context.transport,
                    timeout=self.config.timeout_seconds)
            await self.client.login()
            await self._pick_account()

    async def _ready(self) -> None:
        """Started, whoever calls first (``check-config --online`` reads a balance without
        starting the broker)."""
        if self.account_id is None:
            await self.start()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    def _credentials(self) -> Credentials:
        config, context = self.config, self.context
        cid = context.secret(config.cid_env, key="cid_env").get_secret_value().strip()
        if not cid.isdigit():
            raise ConfigError(
                f"environment variable {config.cid_env} must hold the API key's numeric id "
                "(cid); the value is not a whole number and is not shown",
                key=f"accounts.{self.account}.cid_env")
        return Credentials(
            name=context.secret(config.username_env, key="username_env"),
            password=context.secret(config.password_env, key="password_env"),
            app_id=config.app_id, app_version=config.app_version, cid=int(cid),
            sec=context.secret(config.sec_env, key="sec_env"),
        )

    async def _pick_account(self) -> None:
        rows = [r for r in await self._api().get("/account/list") or [] if isinstance(r, dict)]
        wanted_id, wanted_name = self.config.account_id, self.config.account_spec
        if wanted_id is not None:
            chosen = [r for r in rows if r.get("id") == wanted_id]
            field, value = "account_id", str(wanted_id)
        elif wanted_name is not None:
            chosen = [r for r in rows if r.get("name") == wanted_name]
            field, value = "account_spec", repr(wanted_name)
        else:
            chosen, field, value = rows, "account_id", ""
        known = ", ".join(f"{r.get('id')} ({r.get('name')})" for r in rows) or "none"
        if len(chosen) != 1:
            reason = (f"{value} is not among this login's accounts" if value else
                      "this login has several accounts: set account_id or account_spec")
            raise ConfigError(f"{reason} (accounts: {known})",
                              key=f"accounts.{self.account}.{field}")
        self.account_id, self.account_spec = int(chosen[0]["id"]), str(chosen[0].get("name"))

    def _api(self) -> TradovateClient:
        if self.client is None:
            raise VenueUnavailable("tradovate: the broker is not started (call start())")
        return self.client

    def _account(self) -> tuple[int, str]:
        if self.account_id is None or self.account_spec is None:
            raise VenueUnavailable("tradovate: the broker is not started (call start())")
        return self.account_id, self.account_spec

    # -- symbols ------------------------------------------------------------------------------

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        overrides = self.config.symbol_overrides
        mapped = overrides.get(symbol.raw) or overrides.get(symbol.ticker)
        if mapped is not None:
            symbol = normalize_ticker(mapped)
        contract = contract_for(symbol, self.name, today=today_from(self.context.clock.time),
                                roll_days=self.config.roll_days_before_expiry)
        return futures_instrument(contract, contract.code(1),
                                  roll_days=self.config.roll_days_before_expiry)

    async def contract_id(self, instrument: Instrument) -> int:
        """The venue's id of ``instrument`` (``contract/find``), read once and kept."""
        await self._ready()
        name = instrument.symbol
        found = self._contract_ids.get(name)
        if found is None:
            row = await self._api().get("/contract/find", {"name": name}, missing_ok=True)
            if not isinstance(row, dict) or not isinstance(row.get("id"), int):
                raise UnknownSymbol(f"tradovate: Tradovate lists no contract {name}",
                                    from_venue=True)
            found = self._contract_ids[name] = row["id"]
            self._contract_names[found] = name
        return found

    async def contract_name(self, contract_id: int) -> str:
        """The venue's name of a contract id (``contract/item``), read once and kept."""
        await self._ready()
        name = self._contract_names.get(contract_id)
        if name is None:
            row = await self._api().get("/contract/item", {"id": contract_id}, missing_ok=True)
            name = str(row.get("name")) if isinstance(row, dict) else f"contract {contract_id}"
            self._contract_names[contract_id] = name
            self._contract_ids.setdefault(name, contract_id)
        return name

    # -- account ------------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        await self._ready()
        if currency is not None and currency.upper() != "USD":
            raise NotSupported(f"tradovate: balances are in USD, not {currency}")
        account_id, _ = self._account()
        snapshot = await self._api().post("/cashBalance/getcashbalancesnapshot",
                                          {"accountId": account_id})
        equity = _decimal(snapshot.get("netLiq"))
        if equity is None:
            equity = _decimal(snapshot.get("totalCashValue")) or Decimal(0)
        margin = _decimal(snapshot.get("initialMargin")) or Decimal(0)
        return Balance(currency="USD", equity=equity, available=equity - margin)

    async def position(self, instrument: Instrument) -> Position:
        await self._ready()
        account_id, _ = self._account()
        contract_id = await self.contract_id(instrument)
        rows = await self._api().get("/position/list") or []
        quantity, price = Decimal(0), None
        for row in rows:
            if row.get("accountId") == account_id and row.get("contractId") == contract_id:
                quantity += _decimal(row.get("netPos")) or Decimal(0)
                price = _decimal(row.get("netPrice")) or price
        return Position(symbol=instrument.symbol, quantity=quantity,
                        average_price=price if quantity else None)

    async def account_figures(self) -> AccountFigures:
        """Cash balance, open profit and loss and every open position, for the prop-firm
        rules (``totalCashValue`` and ``openPnL`` of the cash balance snapshot)."""
        await self._ready()
        account_id, _ = self._account()
        snapshot = await self._api().post("/cashBalance/getcashbalancesnapshot",
                                          {"accountId": account_id})
        positions: dict[str, tuple[str, Decimal]] = {}
        for row in await self._api().get("/position/list") or []:
            quantity = _decimal(row.get("netPos")) or Decimal(0)
            if row.get("accountId") != account_id or not quantity:
                continue
            name = await self.contract_name(int(row["contractId"]))
            positions[name] = (root_of(name), quantity)
        return AccountFigures(_decimal(snapshot.get("totalCashValue")) or Decimal(0),
                              _decimal(snapshot.get("openPnL")), positions)

    async def flatten_account(self, is_ours: Callable[[str], bool]) -> list[str]:
        """Cancel the working orders ``is_ours(clOrdId)`` accepts, then liquidate every open
        position; what was done, one line each (the prop-firm rules' flatten)."""
        await self._ready()
        account_id, _ = self._account()
        done = []
        for command in await self._api().get("/command/list") or []:
            tag, order_id = command.get("clOrdId"), command.get("orderId")
            if command.get("commandType") != "New" or not isinstance(tag, str) \
                    or not isinstance(order_id, int) or not is_ours(tag):
                continue
            item = await self._api().get("/order/item", {"id": order_id}, missing_ok=True)
            if isinstance(item, dict) and item.get("accountId") == account_id \
                    and item.get("ordStatus") == "Working":
                await self._cancel(order_id, tag)
                done.append(f"cancelled order {order_id} ({tag})")
        for row in await self._api().get("/position/list") or []:
            quantity = _decimal(row.get("netPos")) or Decimal(0)
            if row.get("accountId") == account_id and quantity:
                name = await self.contract_name(int(row["contractId"]))
                await self._liquidate(int(row["contractId"]))
                done.append(f"closed {quantity} {name}")
        return done

    async def close_position(self, instrument: Instrument) -> OrderResult:
        """Flatten ``instrument`` at market with ``order/liquidateposition`` (cancels the
        contract's working orders too, as Tradovate's liquidation does)."""
        await self._ready()
        answer = await self._liquidate(await self.contract_id(instrument))
        order_id = answer.get("orderId") if isinstance(answer, dict) else None
        if not isinstance(order_id, int):
            return OrderResult(status=OrderStatus.ACCEPTED, client_order_id="",
                               reason="liquidation requested")
        return await self._result(order_id, "")

    async def _liquidate(self, contract_id: int) -> Any:
        account_id, _ = self._account()
        return await self._api().post(
            "/order/liquidateposition",
            {"accountId": account_id, "contractId": contract_id, "admin": False},
            places_order=True)

    # -- orders -------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        await self._ready()
        body = self._order_body(order)
        path = "/order/placeorder"
        if order.take_profit is not None or order.stop_loss is not None:
            path = "/order/placeoso"
            body.update(self._brackets(order))
        answer = await self._api().post(path, body, places_order=True)
        order_id = answer.get("orderId") if isinstance(answer, dict) else None
        if not isinstance(order_id, int):
            raise BrokerError(f"tradovate: {path} answered without an orderId",
                              from_venue=True)
        remember(self._order_ids, order.client_order_id, order_id)
        try:
            return await self._result(order_id, order.client_order_id)
        except VenueUnavailable:  # placed; its state can be read later
            return OrderResult(status=OrderStatus.ACCEPTED,
                               client_order_id=order.client_order_id,
                               venue_order_id=str(order_id), quantity=order.quantity,
                               reason="placed; its state could not be read yet")

    def _order_body(self, order: Order) -> dict[str, Any]:
        """The placeorder body, or a denial (nothing sent) for what Tradovate cannot take."""
        kind = ORDER_TYPES.get(order.order_type)
        if kind is None:
            raise NotSupported(f"tradovate: {order.order_type.value} orders are not supported "
                               "(market, limit and stop are)")
        if order.quantity <= 0 or order.quantity != order.quantity.to_integral_value():
            raise InvalidOrder(f"tradovate: quantity {order.quantity} is not a positive whole "
                               "number of contracts")
        if order.reduce_only:
            raise NotSupported("tradovate: orders cannot be marked reduce-only")
        if order.post_only:
            raise NotSupported("tradovate: post-only orders are not supported")
        account_id, account_spec = self._account()
        body: dict[str, Any] = {
            "accountSpec": account_spec,
            "accountId": account_id,
            "clOrdId": order.client_order_id,
            "action": "Buy" if order.side.value == "buy" else "Sell",
            "symbol": order.instrument.symbol,
            "orderQty": int(order.quantity),
            "orderType": kind,
            "isAutomated": True,  # [documented] required for orders no human entered
        }
        if order.order_type is OrderType.LIMIT:
            body["price"] = _required(order.limit_price, "limit_price", order)
        if order.order_type is OrderType.STOP:
            body["stopPrice"] = _required(order.stop_price, "stop_price", order)
        if order.time_in_force is not None:
            tif = TIME_IN_FORCE.get(order.time_in_force)
            if tif is None:
                raise NotSupported(f"tradovate: time in force {order.time_in_force.value} is "
                                   "not supported (gtc, ioc, fok, day are)")
            body["timeInForce"] = tif
        return body

    def _brackets(self, order: Order) -> dict[str, Any]:
        """``bracket1`` (take profit, a limit) and ``bracket2`` (stop loss, a stop)."""
        exit_action = "Sell" if order.side.value == "buy" else "Buy"
        brackets: dict[str, Any] = {}
        for field, bracket, name in (("bracket1", order.take_profit, "tp"),
                                     ("bracket2", order.stop_loss, "sl")):
            if bracket is None:
                continue
            if bracket.quantity is not None and bracket.quantity != order.quantity:
                raise NotSupported("tradovate: OSO brackets cover the whole entry order, not "
                                   f"{bracket.quantity} of {order.quantity}")
            take_profit = name == "tp" and bracket.order_type in (
                OrderType.TAKE_PROFIT, OrderType.LIMIT, OrderType.TAKE_PROFIT_LIMIT)
            if not take_profit and not (name == "sl" and bracket.order_type is OrderType.STOP):
                raise NotSupported(f"tradovate: a {bracket.order_type.value} {name} bracket "
                                   "is not supported (a limit take profit, a stop loss are)")
            price = bracket.trigger_price or bracket.limit_price
            if price is None:
                raise InvalidOrder(f"tradovate: the {name} bracket has no price")
            leg: dict[str, Any] = {"action": exit_action,
                                   "clOrdId": f"{order.client_order_id}-{name}"}
            if take_profit:
                leg.update(orderType="Limit", price=price)
            else:
                leg.update(orderType="Stop", stopPrice=price)
            brackets[field] = leg
        if "bracket1" not in brackets:  # placeOSO requires bracket1: the stop loss goes first
            brackets["bracket1"] = brackets.pop("bracket2")
        return brackets

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        await self._ready()
        order_id = await self._order_id(client_order_id)
        return None if order_id is None else await self._result(order_id, client_order_id)

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        await self._ready()
        order_id = await self._order_id(client_order_id)
        if order_id is None:
            raise OrderNotFound(f"tradovate: no order with client order id {client_order_id}",
                                from_venue=True)
        return await self._cancel(order_id, client_order_id)

    async def open_orders(self, instrument: Instrument) -> list[OrderResult]:
        """The working orders on ``instrument`` (``order/list``), whoever placed them; the
        client order id is the ``clOrdId`` their placement carried, if any."""
        await self._ready()
        account_id, _ = self._account()
        contract_id = await self.contract_id(instrument)
        rows, commands = await asyncio.gather(self._api().get("/order/list"),
                                              self._api().get("/command/list"))
        tags = {c.get("orderId"): c.get("clOrdId") for c in commands or []
                if c.get("commandType") == "New" and isinstance(c.get("clOrdId"), str)}
        working = [r for r in rows or [] if r.get("accountId") == account_id
                   and r.get("contractId") == contract_id and r.get("ordStatus") == "Working"]
        return [await self._result(int(r["id"]), str(tags.get(r["id"], ""))) for r in working]

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        await self._ready()
        if not venue_order_id.isdigit():
            raise OrderNotFound(f"tradovate: {venue_order_id!r} is not a Tradovate order id")
        return await self._cancel(int(venue_order_id), "")

    async def _cancel(self, order_id: int, client_order_id: str) -> OrderResult:
        answer = await self._api().post("/order/cancelorder",
                                        {"orderId": order_id, "isAutomated": True})
        result = await self._result(order_id, client_order_id)
        if result.status is OrderStatus.ACCEPTED:  # the cancel is under way
            command = answer.get("commandId") if isinstance(answer, dict) else None
            return OrderResult(
                status=OrderStatus.CANCELED, client_order_id=client_order_id,
                venue_order_id=str(order_id), quantity=result.quantity, price=result.price,
                filled_quantity=result.filled_quantity, average_price=result.average_price,
                reason=f"cancel accepted (command {command}); the order was still pending")
        return result

    async def _order_id(self, client_order_id: str) -> int | None:
        """The orderId placed with ``clOrdId = client_order_id``: this session's, else the
        ``New`` command that carried it."""
        known = self._order_ids.get(client_order_id)
        if known is not None:
            return known
        for command in await self._api().get("/command/list") or []:
            if (isinstance(command, dict) and command.get("clOrdId") == client_order_id
                    and command.get("commandType") == "New"
                    and isinstance(command.get("orderId"), int)):
                remember(self._order_ids, client_order_id, command["orderId"])
                return int(command["orderId"])
        return None

    async def _result(self, order_id: int, client_order_id: str) -> OrderResult:
        """The order's state as the venue reports it: status, quantity, price, fills."""
        api = self._api()
        item, versions, fills = await asyncio.gather(
            api.get("/order/item", {"id": order_id}, missing_ok=True),
            api.get("/orderVersion/deps", {"masterid": order_id}),
            api.get("/fill/deps", {"masterid": order_id}))
        if not isinstance(item, dict):
            return OrderResult(status=OrderStatus.UNKNOWN, client_order_id=client_order_id,
                               venue_order_id=str(order_id), reason="the order was not found")
        versions, fills = versions or [], fills or []
        version = versions[-1] if versions else {}
        filled = sum((_decimal(f.get("qty")) or Decimal(0) for f in fills), Decimal(0))
        value = sum(((_decimal(f.get("qty")) or Decimal(0)) * (_decimal(f.get("price"))
                                                               or Decimal(0)) for f in fills),
                    Decimal(0))
        quantity = _decimal(version.get("orderQty"))
        status = STATUSES.get(str(item.get("ordStatus")), OrderStatus.UNKNOWN)
        if status is OrderStatus.ACCEPTED and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        return OrderResult(
            status=status, client_order_id=client_order_id, venue_order_id=str(order_id),
            quantity=quantity,
            price=_decimal(version.get("price")) or _decimal(version.get("stopPrice")),
            filled_quantity=filled, average_price=value / filled if filled else None,
            reason=None if status is not OrderStatus.REJECTED else "rejected by Tradovate",
            venue_code=str(item.get("ordStatus")),
        )


def _required(value: Decimal | None, field: str, order: Order) -> Decimal:
    if value is None:
        raise InvalidOrder(f"tradovate: a {order.order_type.value} order needs {field}")
    return value


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float | str):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return None
    return None
