"""hello: a broker that fills every market order at once, in memory."""

from decimal import Decimal  # noqa: I001 (the imports stay compact for the guide)

from router_core import (
    Balance, Broker, Capabilities, Instrument, InvalidOrder, NotSupported, OrderResult,
    OrderStatus, OrderType, Position, Side, UnknownSymbol, hookimpl, round_down,
)


class HelloBroker(Broker):
    name = "hello"
    capabilities = Capabilities(order_types=frozenset({OrderType.MARKET}), can_short=True,
                                net_position=True, cancel=False)

    def __init__(self, config, context):
        super().__init__(config, context)
        self.positions: dict[str, Decimal] = {}
        self.orders: dict[str, OrderResult] = {}

    async def resolve(self, symbol):
        if not symbol.quote:
            raise UnknownSymbol(f"hello: {symbol.raw} is not a currency pair")
        return Instrument(symbol.base + symbol.quote, symbol.base, symbol.quote, symbol.kind,
                          tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))

    async def balance(self, currency=None):
        return Balance("USD", equity=Decimal(10_000), available=Decimal(10_000))

    async def position(self, instrument):
        return Position(instrument.symbol, self.positions.get(instrument.symbol, Decimal(0)))

    async def submit_order(self, order):
        if order.order_type is not OrderType.MARKET:
            raise NotSupported(f"hello: {order.order_type.value} orders are not supported")
        quantity = round_down(order.quantity, order.instrument.lot_size)
        if quantity <= 0:
            raise InvalidOrder(f"hello: quantity {order.quantity} rounds down to nothing")
        held = self.positions.get(order.instrument.symbol, Decimal(0))
        self.positions[order.instrument.symbol] = held + (
            quantity if order.side is Side.BUY else -quantity)
        result = OrderResult(OrderStatus.FILLED, order.client_order_id, quantity=quantity,
                             price=order.reference_price, filled_quantity=quantity)
        self.orders[order.client_order_id] = result
        return result

    async def find_order(self, client_order_id, instrument):
        return self.orders.get(client_order_id)


@hookimpl
def router_register_brokers(register):
    register(HelloBroker)
