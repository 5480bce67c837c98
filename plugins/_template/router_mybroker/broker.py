"""The mybroker Broker: unified orders <-> venue requests.

TEMPLATE: the venue's symbols, fields and statuses below belong to the template's fake venue.
What the template leaves out raises ``NotSupported("mybroker: ... is not implemented yet
(template)")``: implement it, or keep refusing it and leave it out of ``capabilities``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import Field

from router_core import (
    Balance,
    Broker,
    BrokerConfig,
    BrokerContext,
    CanonicalSymbol,
    Capabilities,
    Instrument,
    InstrumentKind,
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
    format_decimal,
    round_down,
    to_decimal,
)

from .client import MyBrokerClient

# TEMPLATE: the venue's order statuses -> the core's.
STATUSES = {
    "open": OrderStatus.ACCEPTED,
    "filled": OrderStatus.FILLED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


class MyBrokerConfig(BrokerConfig):
    """An account's ``[accounts.NAME]`` keys for mybroker; secrets are named, never written."""

    base_url: str | None = "https://api.mybroker.invalid"  # TEMPLATE: the venue's API root
    api_key_env: str = Field("MYBROKER_API_KEY", description="variable holding the API key")
    api_secret_env: str = Field("MYBROKER_API_SECRET", description="variable holding the secret")
    timeout_seconds: float = Field(10, gt=0, le=60)


class MyBroker(Broker):
    name = "mybroker"
    Config = MyBrokerConfig
    capabilities = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC}),
        reduce_only=True,
        can_short=True,
        net_position=True,
    )
    config: MyBrokerConfig

    def __init__(self, config: MyBrokerConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        self._client: MyBrokerClient | None = None
        self._instruments: dict[tuple[str, str], Instrument] = {}

    @property
    def client(self) -> MyBrokerClient:
        if self._client is None:
            self._client = MyBrokerClient(
                self.config.base_url or "", self.config.api_key_env,
                self.config.api_secret_env, self.config.timeout_seconds, self.context,
            )
        return self._client

    async def start(self) -> None:
        await self._load_instruments()

    async def instruments(self) -> Sequence[Instrument]:
        return list((await self._load_instruments()).values())

    async def _load_instruments(self) -> dict[tuple[str, str], Instrument]:
        if not self._instruments:  # loaded once, then cached for the process
            data = await self.client.request("GET", "/instruments")
            for row in data["instruments"]:
                instrument = Instrument(
                    symbol=row["symbol"], base=row["base"], quote=row["quote"],
                    kind=InstrumentKind.PERPETUAL,  # TEMPLATE: the venue's instrument kind
                    tick_size=to_decimal(row["tick_size"], field="tick_size"),
                    lot_size=to_decimal(row["lot_size"], field="lot_size"),
                    min_quantity=to_decimal(row["min_quantity"], field="min_quantity"),
                )
                self._instruments[(instrument.base, instrument.quote)] = instrument
        return self._instruments

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        instruments = await self._load_instruments()
        instrument = instruments.get((symbol.base or "", symbol.quote or ""))
        if instrument is None:
            raise UnknownSymbol(f"mybroker: no instrument for {symbol.raw}")
        return instrument

    async def balance(self, currency: str | None = None) -> Balance:
        data = await self.client.request("GET", "/balance")
        if currency and currency != data["currency"]:
            raise NotSupported(
                f"mybroker: balances in {currency} are not implemented yet (template)"
            )
        return Balance(data["currency"], Decimal(data["equity"]), Decimal(data["available"]))

    async def position(self, instrument: Instrument) -> Position:
        data = await self.client.request("GET", f"/positions/{instrument.symbol}")
        return Position(instrument.symbol, Decimal(data["quantity"]))

    async def reference_price(self, instrument: Instrument) -> Decimal | None:
        data = await self.client.request("GET", f"/ticker/{instrument.symbol}")
        return Decimal(data["price"])

    async def submit_order(self, order: Order) -> OrderResult:
        self._refuse_what_is_not_implemented(order)
        instrument = order.instrument
        quantity = round_down(order.quantity, instrument.lot_size)
        if quantity <= 0 or quantity < instrument.min_quantity:
            raise InvalidOrder(
                f"mybroker: quantity {order.quantity} is below the minimum "
                f"{instrument.min_quantity} of {instrument.symbol} after rounding to the lot "
                f"step {instrument.lot_size}"
            )
        body: dict[str, Any] = {
            "client_id": order.client_order_id,
            "symbol": instrument.symbol,
            "side": order.side.value,
            "type": order.order_type.value,
            "quantity": format_decimal(quantity),
            "reduce_only": order.reduce_only,
        }
        if order.order_type is OrderType.LIMIT:
            if order.limit_price is None:
                raise InvalidOrder("mybroker: a limit order needs a limit price")
            body["price"] = format_decimal(order.limit_price)
        data = await self.client.request("POST", "/orders", body, places_order=True)
        return _result(data["order"])

    def _refuse_what_is_not_implemented(self, order: Order) -> None:
        if order.order_type not in self.capabilities.order_types:
            raise NotSupported(f"mybroker: {order.order_type.value} orders are not supported")
        if order.take_profit is not None or order.stop_loss is not None:
            raise NotSupported("mybroker: attached brackets are not implemented yet (template)")
        if order.leverage is not None:
            raise NotSupported("mybroker: leverage is not implemented yet (template)")
        if order.post_only:
            raise NotSupported("mybroker: post-only orders are not implemented yet (template)")
        if order.time_in_force not in (None, TimeInForce.GTC):
            raise NotSupported(
                f"mybroker: time in force {order.time_in_force} is not implemented yet (template)"
            )

    async def cancel_order(self, client_order_id: str, instrument: Instrument) -> OrderResult:
        data = await self.client.request("DELETE", f"/orders/{client_order_id}")
        return _result(data["order"])

    async def find_order(self, client_order_id: str, instrument: Instrument) -> OrderResult | None:
        try:
            data = await self.client.request("GET", f"/orders/{client_order_id}")
        except OrderNotFound:
            return None
        return _result(data["order"])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _result(row: dict[str, Any]) -> OrderResult:
    filled = Decimal(row["filled_quantity"])
    return OrderResult(
        status=STATUSES.get(row["status"], OrderStatus.UNKNOWN),
        client_order_id=row["client_id"],
        venue_order_id=row["id"],
        quantity=Decimal(row["quantity"]),
        price=Decimal(row["price"]) if row.get("price") is not None else None,
        filled_quantity=filled,
        average_price=Decimal(row["average_price"]) if row.get("average_price") else None,
    )
