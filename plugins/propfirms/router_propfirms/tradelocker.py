"""TradeLocker: forex and CFD orders through the REST API, demo or live.

What is documented and what is assumed (prop-brokers.md; TradeLocker's public API reference;
its official Python client):

- [documented] REST roots ``https://demo|live.tradelocker.com/backend-api``; login, refresh
  and the ``accNum`` header: ``tradelocker_client``. ``GET /auth/jwt/all-accounts`` lists
  the login's accounts (``id``, ``accNum``, ``name``, ``currency``).
- [documented] instruments: ``GET /trade/accounts/{accountId}/instruments`` gives
  ``tradableInstrumentId``, ``name`` and ``routes`` (``{id, type}``: ``INFO`` for quotes and
  details, ``TRADE`` for orders). Loaded once and cached (a miss reloads, at most once a
  minute).
- [documented] ``GET /trade/instruments/{id}?routeId=<INFO>`` gives the lot step and sizes.
  [assumed] their names: ``lotStep``, ``minLot``, ``lotSize`` (units per lot) and
  ``tickSize`` (a list of ``{leftRangePrice, tickSize}`` or a number).
- [documented] ``POST /trade/accounts/{accountId}/orders`` with ``qty``, ``routeId`` (the
  TRADE route), ``side``, ``validity`` (``IOC`` for market, ``GTC`` for limit and stop),
  ``type``, ``tradableInstrumentId``, ``price`` (0 for market), ``stopPrice``, ``stopLoss`` /
  ``stopLossType``, ``takeProfit`` / ``takeProfitType`` (``absolute``) and a strategy tag of
  at most 31 characters (``strategyId``); it answers ``d.orderId``.
- [documented in the official client] the order, position and account-state lists are rows
  of values whose column names come from ``GET /trade/config`` (``ordersConfig``,
  ``ordersHistoryConfig``, ``positionsConfig``, ``accountDetailsConfig``); ``DELETE
  /trade/orders/{id}`` cancels, ``DELETE /trade/positions/{id}`` with ``{qty}`` closes a
  position, ``DELETE /trade/accounts/{accountId}/positions?tradableInstrumentId=`` closes
  every position of an instrument; ``GET /trade/quotes`` gives ``ap`` / ``bp``.
- [documented in the official client] positions are not netted by the API (the client nets
  them itself): a sell while long opens a short position beside the long. So a reduce-only
  order here closes positions (``DELETE /trade/positions/{id}``) instead of placing an
  order, never more than is held, and ``position`` reports the net of all positions.
- The client order id: ``strategyId`` holds at most 31 characters and the router's ids are
  36, so the tag is ``strategy_tag(client_order_id)`` (the id itself when short enough, else
  a digest of it); ``find_order`` looks it up in the open orders, then the history. A close
  made by ``DELETE /trade/positions`` carries no tag: it is found again by the position it
  left (a repeated reduce-only close never closes more than is held).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
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
    DecayingCounter,
    Instrument,
    InstrumentCache,
    InstrumentKind,
    InvalidOrder,
    NotSupported,
    Order,
    OrderNotFound,
    OrderResult,
    OrderStatus,
    OrderType,
    Position,
    RateLimited,
    Side,
    TimeInForce,
    UnknownSymbol,
    VenueUnavailable,
)

from .recent import remember
from .settings import (
    CfdConfig,
    EnvName,
    cfd_instrument_name,
    check_environment_host,
    check_rest_base_url,
)
from .tradelocker_client import TradeLockerClient

logger = logging.getLogger("router_propfirms.tradelocker")

REST_URLS = {
    "demo": "https://demo.tradelocker.com/backend-api",
    "live": "https://live.tradelocker.com/backend-api",
}
STRATEGY_TAG_LENGTH = 31  # [documented] the strategy tag's limit
INSTRUMENT_REFRESH_SECONDS = 60.0
ORDER_TYPES = {OrderType.MARKET: "market", OrderType.LIMIT: "limit", OrderType.STOP: "stop"}
# order status words [assumed beyond the history list of the official client] -> the core's
STATUSES = {
    "Filled": OrderStatus.FILLED, "Cancelled": OrderStatus.CANCELED,
    "Removed": OrderStatus.CANCELED, "Expired": OrderStatus.CANCELED,
    "Refused": OrderStatus.REJECTED, "Unplaced": OrderStatus.REJECTED,
    "Rejected": OrderStatus.REJECTED,
}


def strategy_tag(client_order_id: str) -> str:
    """The ``strategyId`` that carries ``client_order_id``: itself when it fits in 31
    characters, else ``ar`` and 29 hex digits of its SHA-256 (deterministic, so a lookup after
    a restart finds the same tag)."""
    if len(client_order_id) <= STRATEGY_TAG_LENGTH:
        return client_order_id
    return "ar" + hashlib.sha256(client_order_id.encode()).hexdigest()[:STRATEGY_TAG_LENGTH - 2]


class TradeLockerConfig(CfdConfig):
    """One TradeLocker account. Secrets are named by environment variable."""

    environment: Literal["demo", "live"] = "demo"
    email_env: EnvName = "TRADELOCKER_EMAIL"
    password_env: EnvName = "TRADELOCKER_PASSWORD"  # noqa: S105 (a variable name)
    server: str = Field(min_length=1, max_length=100, description="the firm's server name")
    account_id: int | None = Field(default=None, ge=1, description="accountId in /trade paths")
    acc_num: int | None = Field(
        default=None, ge=1, description="accNum header (from /auth/jwt/all-accounts)"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=60,
                                   description="seconds to wait for each answer")

    @field_validator("base_url")
    @classmethod
    def _rest_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_rest_base_url(value, example=REST_URLS["demo"])

    @model_validator(mode="after")
    def _environment_matches_host(self) -> TradeLockerConfig:
        check_environment_host(self.base_url, self.environment, REST_URLS)
        return self

    @property
    def rest_url(self) -> str:
        return self.base_url or REST_URLS[self.environment]


class TradeLockerBroker(Broker):
    """A TradeLocker account (demo or live): orders with stop loss and take profit, positions,
    closes, lookups by strategy tag."""

    name: ClassVar[str] = "tradelocker"
    Config: ClassVar[type[TradeLockerConfig]] = TradeLockerConfig
    config: TradeLockerConfig
    capabilities = Capabilities(
        order_types=frozenset(ORDER_TYPES),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
        attached_brackets=True,  # stopLoss / takeProfit on the order
        reduce_only=True,  # by closing positions, never more than is held
        can_short=True,
        net_position=False,  # positions stand side by side; position() nets them
        single_order_flip=False,
        fractional=True,  # qty in lots
        find_order=True,  # the strategy tag carries the client order id
        account_kind=AccountKind.NET,
    )

    def __init__(self, config: TradeLockerConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self.simulated = config.environment == "demo"
        self.client: TradeLockerClient | None = None
        self.account_id: int | None = None
        self.currency = "USD"
        self._columns: dict[str, list[str]] = {}
        self._details: dict[int, dict[str, Any]] = {}
        self._tags: dict[str, str] = {}  # strategy tag -> client order id: this session's newest
        self._order_budget: DecayingCounter | None = None
        self._started = False
        self._start_lock = asyncio.Lock()
        self._instruments: InstrumentCache[dict[str, dict[str, Any]]] = InstrumentCache(
            self._load_instruments, clock=context.clock,
            refresh_seconds=INSTRUMENT_REFRESH_SECONDS)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, pick the account, read the column names and the instrument list."""
        async with self._start_lock:
            if self._started:
                return
            config, context = self.config, self.context
            if self.client is None:
                self.client = TradeLockerClient(
                    base_url=config.rest_url,
                    email=context.secret(config.email_env, key="email_env"),
                    password=context.secret(config.password_env, key="password_env"),
                    server=config.server, clock=context.clock, transport=context.transport,
                    timeout=config.timeout_seconds)
            await self.client.login()
            await self._pick_account()
            await self._read_config()
            await self._instruments.get()
            self._started = True

    async def _ready(self) -> None:
        """Started, whoever calls first (``check-config --online`` reads a balance without
        starting the broker)."""
        if not self._started:
            await self.start()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    def _api(self) -> TradeLockerClient:
        if self.client is None or self.account_id is None:
            raise VenueUnavailable("tradelocker: the broker is not started (call start())")
        return self.client

    async def _pick_account(self) -> None:
        assert self.client is not None
        answer = await self.client.request("GET", "/auth/jwt/all-accounts", with_account=False)
        rows = [r for r in (answer or {}).get("accounts", []) if isinstance(r, dict)]
        if self.config.account_id is not None:
            chosen = [r for r in rows if _int(r.get("id")) == self.config.account_id]
            field, value = "account_id", str(self.config.account_id)
        elif self.config.acc_num is not None:
            chosen = [r for r in rows if _int(r.get("accNum")) == self.config.acc_num]
            field, value = "acc_num", str(self.config.acc_num)
        else:
            chosen, field, value = rows, "account_id", ""
        if len(chosen) != 1:
            known = ", ".join(f"id {r.get('id')} / accNum {r.get('accNum')} ({r.get('name')})"
                              for r in rows) or "none"
            reason = (f"{value} is not among this login's accounts" if value else
                      "this login has several accounts: set account_id or acc_num")
            raise ConfigError(f"{reason} (accounts: {known})",
                              key=f"accounts.{self.account}.{field}")
        row = chosen[0]
        self.account_id = _int(row.get("id"))
        self.client.acc_num = _int(row.get("accNum"))
        self.currency = str(row.get("currency") or "USD")

    async def _rows(self, path: str, key: str, config_key: str,
                    params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """A list answer (rows of values) as dicts keyed by the column names of /trade/config."""
        columns = await self._column_names(config_key)
        answer = await self._api().request("GET", path, params=params)
        values = (answer or {}).get(key) or []
        return [dict(zip(columns, row, strict=False)) for row in values]

    async def _read_config(self) -> None:
        """``/trade/config``: the column names of the lists, and the PLACE_ORDER route's rate
        limit, which orders then keep to (``DecayingCounter`` per account)."""
        answer = await self._api().request("GET", "/trade/config") or {}
        for name, entry in answer.items():
            if isinstance(entry, dict) and isinstance(entry.get("columns"), list):
                self._columns[name] = [str(c.get("id")) for c in entry["columns"]]
        for limit in answer.get("rateLimits") or []:
            if isinstance(limit, dict) and limit.get("rateLimitType") == "PLACE_ORDER":
                self._order_budget = _budget(limit, self.context, self._budget_key())

    def _budget_key(self) -> str:
        acc_num = self.client.acc_num if self.client is not None else None
        return f"tradelocker:{self.config.rest_url}:{self.config.server}:{acc_num}:PLACE_ORDER"

    async def _column_names(self, config_key: str) -> list[str]:
        """The column names of one kind of list, from ``/trade/config`` (read once)."""
        if not self._columns:
            await self._read_config()
        columns = self._columns.get(config_key)
        if columns is None:
            raise BrokerError(f"tradelocker: /trade/config has no {config_key}",
                              from_venue=True)
        return columns

    # -- instruments --------------------------------------------------------------------------

    async def _load_instruments(self) -> dict[str, dict[str, Any]]:
        answer = await self._api().request(
            "GET", f"/trade/accounts/{self.account_id}/instruments")
        table: dict[str, dict[str, Any]] = {}
        for row in (answer or {}).get("instruments", []):
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                table.setdefault(row["name"], row)
        return table

    async def instruments(self) -> Sequence[Instrument]:
        await self._ready()
        rows = await self._instruments.get()
        return [await self._instrument(row, None) for row in rows.values()]

    def instrument_name(self, symbol: CanonicalSymbol) -> str:
        """TradeLocker's name for ``symbol`` (``FX:EURUSD`` -> ``EURUSD``; overrides first)."""
        return cfd_instrument_name(self.name, self.config.symbol_overrides, symbol)

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        name = self.instrument_name(symbol)
        await self._ready()
        row = await self._instruments.find(lambda table: table.get(name))
        if row is None:
            raise UnknownSymbol(f"tradelocker: {symbol.raw!r} is {name}, which the account's "
                                "instrument list does not have (map other names with "
                                "symbol_overrides)")
        return await self._instrument(row, symbol)

    async def _instrument(self, row: dict[str, Any], symbol: CanonicalSymbol | None) -> Instrument:
        instrument_id = _int(row.get("tradableInstrumentId"))
        routes = {str(r.get("type")): _int(r.get("id")) for r in row.get("routes") or []
                  if isinstance(r, dict)}
        if instrument_id is None or routes.get("TRADE") is None or routes.get("INFO") is None:
            raise UnknownSymbol(f"tradelocker: instrument {row.get('name')} has no trade or "
                                "info route for this account", from_venue=True)
        details = self._details.get(instrument_id)
        if details is None:
            details = await self._api().request(
                "GET", f"/trade/instruments/{instrument_id}", params={"routeId": routes["INFO"]})
            self._details[instrument_id] = details = details if isinstance(details, dict) else {}
        step = _decimal(details.get("lotStep")) or Decimal("0.01")
        name = str(row["name"])
        return Instrument(
            symbol=name,
            base=(symbol.base if symbol and symbol.base else name),
            quote=(symbol.quote if symbol and symbol.quote
                   else str(details.get("quotingCurrency") or self.currency)),
            # an override may map a futures ticker to a CFD: the core compares the kinds
            kind=InstrumentKind.SPOT if symbol is None else symbol.kind,
            tick_size=_tick(details.get("tickSize")),
            lot_size=step,
            min_quantity=_decimal(details.get("minLot")) or step,
            contract_size=_decimal(details.get("lotSize")) or Decimal(1),
            venue={"tradableInstrumentId": instrument_id, "routeId": routes["TRADE"],
                   "infoRouteId": routes["INFO"], "quantity_unit": "lots"},
        )

    async def reference_price(self, instrument: Instrument) -> Decimal | None:
        await self._ready()
        quote = await self._api().request(
            "GET", "/trade/quotes",
            params={"tradableInstrumentId": instrument.venue["tradableInstrumentId"],
                    "routeId": instrument.venue["infoRouteId"]})
        ask, bid = _decimal((quote or {}).get("ap")), _decimal((quote or {}).get("bp"))
        if ask is None or bid is None:
            return ask or bid
        return (ask + bid) / 2

    # -- account ------------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        await self._ready()
        if currency is not None and currency.upper() != self.currency.upper():
            raise NotSupported(f"tradelocker: the account's balance is in {self.currency}, "
                               f"not {currency}")
        state = await self._api().request("GET", f"/trade/accounts/{self.account_id}/state")
        values = (state or {}).get("accountDetailsData") or []
        columns = await self._column_names("accountDetailsConfig")
        details = dict(zip(columns, values, strict=False))
        balance = _decimal(details.get("balance")) or Decimal(0)
        equity = _decimal(details.get("projectedBalance")) or balance  # [assumed] with open P/L
        available = _decimal(details.get("availableFunds"))
        return Balance(currency=self.currency, equity=equity,
                       available=equity if available is None else available)

    async def _positions(self, instrument: Instrument) -> list[dict[str, Any]]:
        rows = await self._rows(f"/trade/accounts/{self.account_id}/positions", "positions",
                                "positionsConfig")
        wanted = instrument.venue["tradableInstrumentId"]
        return [r for r in rows if _int(r.get("tradableInstrumentId")) == wanted]

    async def position(self, instrument: Instrument) -> Position:
        """The net of every position on ``instrument``; the average price is that of the
        positions on the net's side."""
        await self._ready()
        held = {"buy": Decimal(0), "sell": Decimal(0)}
        cost = {"buy": Decimal(0), "sell": Decimal(0)}
        for row in await self._positions(instrument):
            side = "buy" if row.get("side") == "buy" else "sell"
            qty = _decimal(row.get("qty")) or Decimal(0)
            held[side] += qty
            cost[side] += qty * (_decimal(row.get("avgPrice")) or Decimal(0))
        net = held["buy"] - held["sell"]
        side = "buy" if net > 0 else "sell"
        return Position(symbol=instrument.symbol, quantity=net,
                        average_price=cost[side] / held[side] if net else None)

    async def close_position(self, instrument: Instrument) -> OrderResult:
        """Close every position of ``instrument`` at market (``DELETE .../positions``)."""
        await self._ready()
        before = (await self.position(instrument)).quantity
        await self._api().request(
            "DELETE", f"/trade/accounts/{self.account_id}/positions",
            params={"tradableInstrumentId": instrument.venue["tradableInstrumentId"]},
            places_order=True)
        after = (await self.position(instrument)).quantity
        return OrderResult(status=OrderStatus.FILLED if after == 0 else OrderStatus.ACCEPTED,
                           client_order_id="", quantity=abs(before),
                           filled_quantity=abs(before) - abs(after),
                           reason="positions closed" if after == 0 else "close requested")

    # -- orders -------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        await self._ready()
        validity = self._check(order)
        if order.reduce_only:
            return await self._reduce(order)
        venue = order.instrument.venue
        body: dict[str, Any] = {
            "tradableInstrumentId": venue["tradableInstrumentId"],
            "routeId": venue["routeId"],  # the TRADE route
            "side": order.side.value,
            "qty": order.quantity,
            "type": ORDER_TYPES[order.order_type],
            "validity": validity,
            "price": order.limit_price if order.order_type is OrderType.LIMIT else Decimal(0),
            "strategyId": strategy_tag(order.client_order_id),
        }
        remember(self._tags, body["strategyId"], order.client_order_id)
        if order.order_type is OrderType.STOP:
            body["stopPrice"] = order.stop_price
        body.update(self._brackets(order))
        if self._order_budget is not None:
            await self._order_budget.acquire()  # the route's limit from /trade/config
        try:
            answer = await self._api().request(
                "POST", f"/trade/accounts/{self.account_id}/orders", body=body,
                places_order=True)
        except RateLimited as exc:
            if self._order_budget is not None:
                self._order_budget.pause(exc.retry_after or 1.0)
            raise
        order_id = _int((answer or {}).get("orderId"))
        if order_id is None:
            raise BrokerError("tradelocker: the order was answered without an orderId",
                              from_venue=True)
        found = await self._find(order.client_order_id, order_id=order_id)
        return found or OrderResult(status=OrderStatus.ACCEPTED,
                                    client_order_id=order.client_order_id,
                                    venue_order_id=str(order_id), quantity=order.quantity)

    def _check(self, order: Order) -> str:
        """The order's validity (IOC for market, GTC for limit and stop), or a denial."""
        kind = ORDER_TYPES.get(order.order_type)
        if kind is None:
            raise NotSupported(f"tradelocker: {order.order_type.value} orders are not supported "
                               "(market, limit and stop are)")
        validity = "IOC" if order.order_type is OrderType.MARKET else "GTC"
        if order.time_in_force is not None and order.time_in_force.value.upper() != validity:
            raise InvalidOrder(f"tradelocker: {kind} orders take validity {validity}, not "
                               f"{order.time_in_force.value}")
        instrument = order.instrument
        if order.quantity < instrument.min_quantity or order.quantity % instrument.lot_size:
            raise InvalidOrder(f"tradelocker: quantity {order.quantity} lots is not a multiple "
                               f"of the lot step {instrument.lot_size} of at least "
                               f"{instrument.min_quantity}")
        if order.order_type is OrderType.LIMIT and order.limit_price is None:
            raise InvalidOrder("tradelocker: a limit order needs limit_price")
        if order.order_type is OrderType.STOP and order.stop_price is None:
            raise InvalidOrder("tradelocker: a stop order needs stop_price")
        if order.post_only:
            raise NotSupported("tradelocker: post-only orders are not supported")
        return validity

    @staticmethod
    def _brackets(order: Order) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if order.stop_loss is not None:
            if order.stop_loss.order_type is not OrderType.STOP or \
                    order.stop_loss.trigger_price is None:
                raise NotSupported(f"tradelocker: a {order.stop_loss.order_type.value} stop "
                                   "loss is not supported (a stop at a price is)")
            fields.update(stopLoss=order.stop_loss.trigger_price, stopLossType="absolute")
        if order.take_profit is not None:
            price = order.take_profit.trigger_price or order.take_profit.limit_price
            if price is None or order.take_profit.order_type not in (
                    OrderType.TAKE_PROFIT, OrderType.LIMIT, OrderType.TAKE_PROFIT_LIMIT):
                raise NotSupported(f"tradelocker: a {order.take_profit.order_type.value} take "
                                   "profit is not supported (one at a price is)")
            fields.update(takeProfit=price, takeProfitType="absolute")
        for bracket in (order.stop_loss, order.take_profit):
            if bracket is not None and bracket.quantity not in (None, order.quantity):
                raise NotSupported("tradelocker: a stop loss or take profit covers the whole "
                                   "order")
        return fields

    async def _reduce(self, order: Order) -> OrderResult:
        """A reduce-only order: close positions on the other side, oldest first, up to the
        order's quantity (``DELETE /trade/positions/{id}``); a denial when there are none."""
        if order.order_type is not OrderType.MARKET:
            raise NotSupported("tradelocker: a reduce-only order closes positions at market; "
                               f"a {order.order_type.value} close is not supported")
        closing = "buy" if order.side is Side.SELL else "sell"
        before = (await self.position(order.instrument)).quantity
        left, failure = order.quantity, ""
        for row in await self._positions(order.instrument):
            qty = _decimal(row.get("qty")) or Decimal(0)
            if row.get("side") != closing or left <= 0 or qty <= 0:
                continue
            part = min(qty, left)
            try:
                await self._api().request("DELETE", f"/trade/positions/{_int(row.get('id'))}",
                                          body={"qty": part}, places_order=True)
            except BrokerError as exc:
                if left == order.quantity:
                    raise  # nothing closed yet: the error is the outcome
                failure = f"; then {exc.message}"  # part closed: report it, not the error
                break
            left -= part
        if left == order.quantity:
            raise InvalidOrder(f"tradelocker: reduce-only {order.side.value}: no {closing} "
                               f"position of {order.instrument.symbol} to reduce")
        closed = abs(before - (await self.position(order.instrument)).quantity)
        status = OrderStatus.FILLED if closed >= order.quantity else (
            OrderStatus.PARTIALLY_FILLED if closed else OrderStatus.ACCEPTED)
        return OrderResult(
            status=status, client_order_id=order.client_order_id, quantity=order.quantity,
            filled_quantity=closed,
            reason=f"closed {order.quantity - left} lots of {closing} positions{failure}")

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        await self._ready()
        return await self._find(client_order_id)

    async def _find(self, client_order_id: str, *, order_id: int | None = None,
                    ) -> OrderResult | None:
        """The order tagged with ``client_order_id`` (or with ``order_id``): open orders first,
        then the history."""
        tag = strategy_tag(client_order_id)
        for path, key in (("orders", "orders"), ("ordersHistory", "ordersHistory")):
            rows = await self._rows(f"/trade/accounts/{self.account_id}/{path}", key,
                                    f"{key}Config")
            for row in reversed(rows):
                if (order_id is not None and _int(row.get("id")) == order_id) or \
                        (order_id is None and row.get("strategyId") == tag):
                    return _result(row, client_order_id)
        return None

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        await self._ready()
        found = await self._find(client_order_id)
        if found is None or found.venue_order_id is None:
            raise OrderNotFound(f"tradelocker: no order with client order id {client_order_id}",
                                from_venue=True)
        if found.status is not OrderStatus.ACCEPTED and \
                found.status is not OrderStatus.PARTIALLY_FILLED:
            return found  # already final: filled, cancelled or refused
        await self._api().request("DELETE", f"/trade/orders/{found.venue_order_id}")
        return await self._find(client_order_id) or found

    async def open_orders(self, instrument: Instrument) -> list[OrderResult]:
        """The open orders on ``instrument``, whoever placed them. The client order id is
        known only for this session's orders (the strategy tag is a digest of it)."""
        await self._ready()
        rows = await self._rows(f"/trade/accounts/{self.account_id}/orders", "orders",
                                "ordersConfig")
        wanted = instrument.venue["tradableInstrumentId"]
        return [_result(row, self._tags.get(str(row.get("strategyId")), ""))
                for row in rows if _int(row.get("tradableInstrumentId")) == wanted]

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        await self._ready()
        await self._api().request("DELETE", f"/trade/orders/{venue_order_id}")
        return OrderResult(status=OrderStatus.CANCELED, client_order_id="",
                           venue_order_id=venue_order_id)


def _budget(limit: Mapping[str, Any], context: BrokerContext, key: str) -> DecayingCounter | None:
    """A route's ``{limit, intervalNum, measure}`` [documented in the official client] as a
    decaying counter shared by the brokers of the same account; ``None`` when unreadable."""
    count, interval = _decimal(limit.get("limit")), _decimal(limit.get("intervalNum"))
    unit = {"SECONDS": 1, "MINUTES": 60}.get(str(limit.get("measure")))
    if not count or not interval or count <= 0 or interval <= 0 or unit is None:
        return None
    per_second = float(count) / (float(interval) * unit)
    return context.limiters.get(key, lambda clock: DecayingCounter(
        float(count), per_second, clock=clock, name=key))


def _result(row: Mapping[str, Any], client_order_id: str) -> OrderResult:
    filled = _decimal(row.get("filledQty")) or Decimal(0)
    status = STATUSES.get(str(row.get("status")), OrderStatus.ACCEPTED)
    if status is OrderStatus.ACCEPTED and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    price = _decimal(row.get("price")) or _decimal(row.get("stopPrice"))
    return OrderResult(
        status=status, client_order_id=client_order_id, venue_order_id=str(row.get("id")),
        quantity=_decimal(row.get("qty")), price=price or None, filled_quantity=filled,
        average_price=_decimal(row.get("avgPrice")) if filled else None,
        venue_code=str(row.get("status")),
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return None


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _tick(value: object) -> Decimal:
    """``tickSize`` as a number, or the first step of a ``[{leftRangePrice, tickSize}]``
    table [assumed form]; 0.00001 when the venue does not say."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0].get("tickSize")
    tick = _decimal(value)
    return tick if tick and tick > 0 else Decimal("0.00001")
