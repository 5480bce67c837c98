"""``CcxtBroker``: one account on any exchange ccxt supports, through the core's contract.

ccxt builds, signs and parses every request; this broker translates between the core's models
and ccxt's unified calls and decides what is refused before sending. The exchange object (and
ccxt with it) is built on ``start``, so building the broker to read its capabilities costs no
network and registering the plugin imports no ccxt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from router_core import (
    AmbiguousOutcome,
    Balance,
    Broker,
    BrokerContext,
    BrokerError,
    CanonicalSymbol,
    Capabilities,
    Instrument,
    InstrumentCache,
    InstrumentKind,
    NotSupported,
    Order,
    OrderNotFound,
    OrderResult,
    OrderStatus,
    Position,
    UnknownSymbol,
    VenueUnavailable,
)

from .capabilities import capabilities, create_order_features
from .config import CcxtConfig, describe
from .errors import error_table, translate
from .lookup import finds_orders, lookups
from .markets import MarketIndex
from .orders import core_client_id, to_ccxt, to_result, venue_client_id

T = TypeVar("T")
# Settlement currencies tried, in order, when the core asks for the balance without naming one.
_SETTLEMENT = ("USDT", "USD", "USDC", "EUR")


class CcxtBroker(Broker):
    """An account on the exchange ``config.exchange`` (a ccxt id), one market type."""

    name = "ccxt"
    Config = CcxtConfig

    def __init__(self, config: CcxtConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self.config: CcxtConfig = config
        declared = describe(config.exchange)  # ccxt's declarations, no network
        self._has: dict[str, Any] = declared["has"]
        self._features: dict[str, Any] = declared["features"]
        self._finds_orders = finds_orders(config.exchange, self._has)
        self.capabilities = capabilities(config.exchange, self._has, self._features,
                                         config.market_type, config.contract,
                                         finds_orders=self._finds_orders)
        self.simulated = config.sandbox  # the exchange's testnet: play money
        self._errors = error_table(config.exchange)
        self._exchange: Any = None  # ccxt's object, built on start (it reads the secrets)
        self._markets: InstrumentCache[MarketIndex] = InstrumentCache(
            self._load_markets, clock=context.clock, refresh_seconds=300)

    def __repr__(self) -> str:
        return f"<CcxtBroker {self.config.exchange} account={self.account!r}>"

    # -- the exchange object ------------------------------------------------------------------

    async def start(self) -> None:
        """Build the exchange object and load its markets once."""
        await self._markets.get()

    def _exchange_object(self) -> Any:
        if self._exchange is None:
            from .exchange import build_exchange

            self._exchange = build_exchange(self.config, self.context)
        return self._exchange

    async def _call(self, action: str, call: Callable[[Any], Awaitable[T]], *,
                    places_order: bool = False) -> T:
        """``call(exchange)``, with ccxt's exceptions turned into the core's (one table)."""
        from .exchange import ccxt_async, requests_written

        exchange = self._exchange_object()
        with requests_written() as written:
            try:
                return await call(exchange)
            except BrokerError:
                raise
            except ccxt_async.BaseError as exc:
                raise translate(self._errors, exc, exchange=self.config.exchange,
                                action=action, places_order=places_order,
                                sent=bool(written)) from exc
            except Exception as exc:
                if not written:  # our own mistake before sending: let it surface as it is
                    raise
                # sent, and ccxt could not read the answer (an HTML page, an empty body)
                what = (f"{self._errors.venue} {action}: the answer could not be read "
                        f"({type(exc).__name__})")
                if places_order:
                    raise AmbiguousOutcome(f"{what}; the order may exist",
                                           from_venue=True) from exc
                raise VenueUnavailable(what, from_venue=True) from exc

    async def _load_markets(self) -> MarketIndex:
        async def load(exchange: Any) -> MarketIndex:
            await exchange.load_markets(True)
            return MarketIndex.build(exchange.markets.values(), self.config.market_type,
                                     exchange.precisionMode, self.config.contract)

        return await self._call("load_markets", load)

    def use_markets(self, markets: Sequence[Mapping[str, Any]]) -> None:
        """Install ccxt market structures read some other way (a snapshot) as if loaded from
        the exchange; offline tests build requests against fixed markets with it."""
        exchange = self._exchange_object()
        exchange.set_markets(list(markets))
        self._markets.put(MarketIndex.build(exchange.markets.values(), self.config.market_type,
                                            exchange.precisionMode, self.config.contract))

    async def close(self) -> None:
        if self._exchange is not None:
            exchange, self._exchange = self._exchange, None
            await exchange.close()

    # -- symbols and capabilities -------------------------------------------------------------

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        found = await self._markets.find(lambda index: index.find(symbol))
        if found is None:
            raise UnknownSymbol(f"ccxt {self.config.exchange} has no {self.config.market_type} "
                                f"market for {symbol.raw!r}")
        return found

    async def instruments(self) -> Sequence[Instrument]:
        return list((await self._markets.get()).by_symbol.values())

    def capabilities_for(self, instrument: Instrument) -> Capabilities:
        """The market's own features: linear and inverse contracts may differ."""
        sub_type = instrument.venue.get("sub_type")
        if self.config.market_type == "spot" or sub_type is None:
            return self.capabilities
        return capabilities(self.config.exchange, self._has, self._features,
                            self.config.market_type, sub_type, finds_orders=self._finds_orders)

    # -- account ------------------------------------------------------------------------------

    async def balance(self, currency: str | None = None) -> Balance:
        found = await self._call("fetch_balance", lambda exchange: exchange.fetch_balance())
        totals = found.get("total") or {}
        free = found.get("free") or {}
        if currency is None:
            currency = next((c for c in _SETTLEMENT if totals.get(c)), _SETTLEMENT[0])
        return Balance(currency, equity=_decimal(totals.get(currency)),
                       available=_decimal(free.get(currency)))

    async def position(self, instrument: Instrument) -> Position:
        if instrument.kind is InstrumentKind.SPOT:  # a cash account: the free base balance
            found = await self._call("fetch_balance", lambda exchange: exchange.fetch_balance())
            held = (found.get("free") or {}).get(instrument.base)
            return Position(instrument.symbol, _decimal(held))
        rows = await self._call("fetch_positions",
                                lambda exchange: exchange.fetch_positions([instrument.symbol]))
        net = Decimal(0)
        sides = set()
        for row in rows:
            if row.get("symbol") != instrument.symbol:
                continue
            contracts = _decimal(row.get("contracts"))
            if not contracts:
                continue
            side = row.get("side")
            sides.add(side)
            net += contracts if side == "long" else -contracts
            if row.get("hedged"):
                sides.add("hedged")
        if "hedged" in sides or {"long", "short"} <= sides:
            raise NotSupported(
                f"ccxt {self.config.exchange}: the account holds {instrument.symbol} per side "
                "(hedge mode); the router trades one net position per market: switch the "
                "account to one-way mode")
        return Position(instrument.symbol, net)

    async def reference_price(self, instrument: Instrument) -> Any:
        symbol = instrument.symbol
        if self._has.get("fetchTickers"):
            tickers = await self._call(
                "fetch_tickers", lambda exchange: exchange.fetch_tickers([symbol]))
            ticker = tickers.get(symbol) or {}
        else:
            ticker = await self._call("fetch_ticker",
                                      lambda exchange: exchange.fetch_ticker(symbol))
        price = ticker.get("last") or ticker.get("close") or ticker.get("ask")
        return None if price is None else _decimal(price)

    # -- orders -------------------------------------------------------------------------------

    async def submit_order(self, order: Order) -> OrderResult:
        caps = self.capabilities_for(order.instrument)
        exchange = self._exchange_object()
        create = create_order_features(self._features, self.config.market_type,
                                       order.instrument.venue.get("sub_type"))
        request = to_ccxt(exchange, order, caps, create)  # refusals here: nothing sent
        placed = await self._call(
            "create_order",
            lambda exchange: exchange.create_order(request.symbol, request.type, request.side,
                                                   request.amount, request.price,
                                                   request.params),
            places_order=True)
        result = to_result(placed, order.client_order_id)
        if result.venue_order_id is None:  # no order id in the answer: not a placement we saw
            raise AmbiguousOutcome(
                f"{self._errors.venue} create_order: the answer names no order id; the order "
                "may exist", from_venue=True)
        if result.quantity is None:  # ccxt's answer omits it on some exchanges: what we sent
            result = _with_quantity(result, Decimal(request.amount))
        return result

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        if not self._finds_orders:
            raise NotSupported(f"ccxt {self.config.exchange} cannot look orders up by client "
                               "order id")
        wanted = venue_client_id(self.config.exchange, client_order_id)
        symbol = instrument.symbol
        for method, param in lookups(self.config.exchange):
            params = {} if param is None else {param: wanted}
            try:
                rows = await self._call(method, _lookup_call(method, symbol, params))
            except OrderNotFound:
                continue
            for row in rows:
                if row and row.get("clientOrderId") == wanted:
                    return to_result(row, client_order_id)
        return None

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        found = await self.find_order(client_order_id, instrument)
        if found is None or found.venue_order_id is None:
            raise OrderNotFound(f"ccxt {self.config.exchange} has no order {client_order_id}")
        if found.status not in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            raise OrderNotFound(f"order {client_order_id} is already {found.status.value}")
        await self.cancel_venue_order(found.venue_order_id, instrument)
        return OrderResult(OrderStatus.CANCELED, client_order_id,
                           venue_order_id=found.venue_order_id, quantity=found.quantity,
                           price=found.price, filled_quantity=found.filled_quantity,
                           average_price=found.average_price)

    async def open_orders(self, instrument: Instrument) -> Sequence[OrderResult]:
        rows = await self._call("fetch_open_orders",
                                lambda exchange: exchange.fetch_open_orders(instrument.symbol))
        exchange = self.config.exchange
        return [to_result(row, core_client_id(exchange, str(row.get("clientOrderId") or "")))
                for row in rows]

    async def cancel_venue_order(self, venue_order_id: str, instrument: Instrument) -> OrderResult:
        answer = await self._call(
            "cancel_order",
            lambda exchange: exchange.cancel_order(venue_order_id, instrument.symbol))
        client = core_client_id(self.config.exchange,
                                str((answer or {}).get("clientOrderId") or ""))
        return OrderResult(OrderStatus.CANCELED, client, venue_order_id=venue_order_id)


def _lookup_call(method: str, symbol: str,
                 params: dict[str, str]) -> Callable[[Any], Awaitable[list[Any]]]:
    """The ccxt call of one look-up, as a list of ccxt order structures."""

    async def call(exchange: Any) -> list[Any]:
        if method == "fetch_order":  # one order, by the id in params (no venue id known)
            return [await exchange.fetch_order("", symbol, params)]
        return list(await getattr(exchange, method)(symbol, None, None, params))

    return call


def _decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value))


def _with_quantity(result: OrderResult, quantity: Decimal) -> OrderResult:
    return replace(result, quantity=quantity)

