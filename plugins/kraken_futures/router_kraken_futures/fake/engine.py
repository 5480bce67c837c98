"""The fake venue's book-keeping: contracts, orders, positions, the flex wallet.

Deliberately simple matching: every order is matched against one mark price per contract.
A market order fills at the mark; a limit that crosses the mark fills at the mark, otherwise it
rests; trigger orders (stp, take_profit, trailing_stop) rest as triggers and never fire.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

SUCCESS = frozenset({"placed", "partiallyFilled", "filled", "cancelled", "edited"})
ORDER_TYPES = frozenset({"lmt", "post", "ioc", "fok", "mkt", "stp", "take_profit", "trailing_stop"})
TRIGGER_TYPES = frozenset({"stp", "take_profit", "trailing_stop"})
TRIGGER_SIGNALS = frozenset({"mark", "index", "last", "spot"})
INITIAL_MARGIN = Decimal("0.02")  # tier 0 of the fixture contracts: 50x

# Test contracts added to the fixture's three: a negative size precision (multiples of 1000),
# linear and inverse dated contracts, and a coin with an inverse perpetual only.
EXTRA_INSTRUMENTS: list[dict[str, Any]] = [
    {"symbol": "PF_ETHUSD", "pair": "ETH:USD", "base": "ETH", "quote": "USD",
     "type": "flexible_futures", "tickSize": Decimal("0.1"), "contractSize": 1,
     "tradeable": True, "maxPositionSize": 1000000, "contractValueTradePrecision": 3,
     "postOnly": False, "marginLevels": [{"numNonContractUnits": 0, "initialMargin": 0.02,
                                          "maintenanceMargin": 0.01}]},
    {"symbol": "PF_PEPEUSD", "pair": "PEPE:USD", "base": "PEPE", "quote": "USD",
     "type": "flexible_futures", "tickSize": Decimal("0.00000001"), "contractSize": 1,
     "tradeable": True, "maxPositionSize": 100000000000, "contractValueTradePrecision": -3,
     "postOnly": False, "marginLevels": [{"numNonContractUnits": 0, "initialMargin": 0.1,
                                          "maintenanceMargin": 0.05}]},
    {"symbol": "FF_XBTUSD_251226", "pair": "XBT:USD", "base": "XBT", "quote": "USD",
     "type": "flexible_futures", "lastTradingTime": "2025-12-26T16:00:00.000Z",
     "tickSize": 1, "contractSize": 1, "tradeable": True, "maxPositionSize": 1000000,
     "contractValueTradePrecision": 4, "postOnly": False,
     "marginLevels": [{"numNonContractUnits": 0, "initialMargin": 0.02,
                       "maintenanceMargin": 0.01}]},
    {"symbol": "FI_XBTUSD_251226", "pair": "XBT:USD", "base": "XBT", "quote": "USD",
     "type": "futures_inverse", "underlying": "rr_xbtusd",
     "lastTradingTime": "2025-12-26T16:00:00.000Z", "tickSize": Decimal("0.5"),
     "contractSize": 1, "tradeable": True, "maxPositionSize": 1000000,
     "contractValueTradePrecision": 0, "postOnly": False,
     "marginLevels": [{"contracts": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}]},
    {"symbol": "PI_XRPUSD", "pair": "XRP:USD", "base": "XRP", "quote": "USD",
     "type": "futures_inverse", "underlying": "rr_xrpusd", "tickSize": Decimal("0.0001"),
     "contractSize": 1, "tradeable": True, "maxPositionSize": 1000000,
     "contractValueTradePrecision": 0, "postOnly": False,
     "marginLevels": [{"contracts": 0, "initialMargin": 0.02, "maintenanceMargin": 0.01}]},
    {"symbol": "in_xbtusd", "type": "spot index", "tradeable": False},
]
DEFAULT_MARKS = {
    "PI_XBTUSD": Decimal(50000), "FI_XBTUSD_220930": Decimal(50000),
    "PF_XBTUSD": Decimal(50000), "PF_ETHUSD": Decimal(3000), "PF_PEPEUSD": Decimal("0.00001"),
    "FF_XBTUSD_251226": Decimal(50500), "FI_XBTUSD_251226": Decimal(50500),
    "PI_XRPUSD": Decimal("0.5"),
}


def fixture_instruments() -> list[dict[str, Any]]:
    """The fixture's contracts (Kraken's own example) plus the test contracts above."""
    text = resources.files("router_kraken_futures").joinpath("data/instruments.json").read_text()
    rows = json.loads(text, parse_float=Decimal)["instruments"]
    return [*rows, *copy.deepcopy(EXTRA_INSTRUMENTS)]  # each fake gets its own to change


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


class Refusal(Exception):
    """An order the fake refuses with a sendStatus status (inside result: success)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(status)
        self.status = status
        self.reason = reason


@dataclass
class FakeOrder:
    order_id: str
    cli_ord_id: str | None
    order_type: str
    symbol: str
    side: str
    quantity: Decimal
    filled: Decimal = Decimal(0)
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    state: str = "ENTERED_BOOK"  # orders/status: ENTERED_BOOK, FULLY_EXECUTED, CANCELLED, ...
    timestamp: str = ""
    params: dict[str, str] = field(default_factory=dict)
    closed_at: float | None = None  # when it filled or was cancelled (fake clock)

    def as_json(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id, "cliOrdId": self.cli_ord_id, "type": self.order_type,
            "symbol": self.symbol, "side": self.side, "quantity": self.quantity,
            "filled": self.filled, "limitPrice": self.limit_price,
            "stopPrice": self.stop_price, "reduceOnly": self.reduce_only,
            "timestamp": self.timestamp, "lastUpdateTimestamp": self.timestamp,
        }


@dataclass
class Exchange:
    instruments: dict[str, dict[str, Any]]
    marks: dict[str, Decimal]
    orders: dict[str, FakeOrder] = field(default_factory=dict)  # every accepted order
    rejected: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    positions: dict[str, Decimal] = field(default_factory=dict)  # signed size per symbol
    entry_prices: dict[str, Decimal] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    # told (order, fill) as each execution happens: the WebSocket fake (stream.py)
    fill_listeners: list[Callable[[FakeOrder, dict[str, Any]], None]] = field(
        default_factory=list)
    balance_value: Decimal = Decimal("34995.52")
    margin_equity: Decimal = Decimal("34122.66")

    @classmethod
    def default(cls) -> Exchange:
        rows = fixture_instruments()
        return cls({str(r["symbol"]).upper(): r for r in rows}, dict(DEFAULT_MARKS))

    def by_client_id(self, cli_ord_id: str) -> FakeOrder | None:
        for order in self.orders.values():
            if order.cli_ord_id == cli_ord_id:
                return order
        return None

    # -- accounts ---------------------------------------------------------------------------

    def initial_margin(self) -> Decimal:
        total = Decimal(0)
        for symbol, size in self.positions.items():
            if symbol.startswith(("PF_", "FF_")):
                total += abs(size) * self.marks[symbol] * self._im(symbol)
        return total

    def _im(self, symbol: str) -> Decimal:
        levels = self.instruments[symbol].get("marginLevels") or []
        return Decimal(str(levels[0]["initialMargin"])) if levels else INITIAL_MARGIN

    def available_margin(self) -> Decimal:
        return self.margin_equity - self.initial_margin()

    def accounts(self) -> dict[str, Any]:
        im = self.initial_margin()
        return {
            "cash": {"type": "cashAccount",
                     "balances": {"xbt": Decimal("141.31756797"), "xrp": Decimal("52465.1254")}},
            "fi_xbtusd": {
                "type": "marginAccount", "currency": "xbt",
                "balances": {"xbt": Decimal("141.31756797")},
                "auxiliary": {"af": Decimal("100.73891563"), "funding": Decimal("100.73891563"),
                              "pnl": Decimal("12.42134766"), "pv": Decimal("153.73891563"),
                              "usd": 0},
                "marginRequirements": {"im": Decimal("52.8"), "mm": Decimal("23.76"),
                                       "lt": Decimal("39.6"), "tt": Decimal("15.84")},
            },
            "flex": {
                "type": "multiCollateralMarginAccount",
                "currencies": {"USD": {"quantity": Decimal(5000), "value": Decimal(5000),
                                       "collateral": Decimal(5000), "available": Decimal(5000)}},
                "balanceValue": self.balance_value, "portfolioValue": self.balance_value,
                "collateralValue": self.margin_equity, "initialMargin": im,
                "initialMarginWithOrders": im, "maintenanceMargin": im / 2,
                "pnl": 0, "unrealizedFunding": 0, "totalUnrealized": 0,
                "totalUnrealizedAsMargin": 0, "marginEquity": self.margin_equity,
                "availableMargin": self.margin_equity - im,
            },
        }

    def open_positions(self) -> list[dict[str, Any]]:
        return [
            {"side": "long" if size > 0 else "short", "symbol": symbol, "size": abs(size),
             "price": self.entry_prices.get(symbol, self.marks.get(symbol)),
             "fillTime": "2026-01-01T00:00:00.000Z", "unrealizedFunding": 0}
            for symbol, size in self.positions.items() if size != 0
        ]

    # -- orders -----------------------------------------------------------------------------

    def check(self, params: dict[str, str], now: float) -> tuple[dict[str, Any], str]:
        """Validate a sendorder; returns (instrument, orderType) or raises Refusal."""
        order_type = params.get("orderType", "")
        if order_type not in ORDER_TYPES:
            raise Refusal("invalidOrderType", "INVALID_ORDER_TYPE")
        if params.get("side") not in ("buy", "sell"):
            raise Refusal("invalidSide", "INVALID_SIDE")
        symbol = params.get("symbol", "").upper()
        inst = self.instruments.get(symbol)
        if inst is None or symbol not in self.marks:
            raise Refusal("marketInactive", "MARKET_INACTIVE")
        if not inst.get("tradeable", False):
            raise Refusal("marketSuspended", "MARKET_SUSPENDED")
        cli = params.get("cliOrdId")
        if cli is not None:
            if len(cli) > 100:
                raise Refusal("clientOrderIdTooLong", "CLIENT_ORDER_ID_TOO_LONG")
            if self.by_client_id(cli) is not None:
                raise Refusal("clientOrderIdAlreadyExist", "CLIENT_ORDER_ID_ALREADY_EXIST")
        before = params.get("processBefore")
        if before and datetime.fromisoformat(before).timestamp() < now:
            raise Refusal("wouldProcessAfterSpecifiedTime", "WOULD_PROCESS_AFTER_SPECIFIED_TIME")
        size = _decimal(params.get("size"))
        step = Decimal(1).scaleb(-int(inst.get("contractValueTradePrecision", 0)))
        if size is None or size <= 0 or size % step != 0:
            raise Refusal("invalidSize", "INVALID_SIZE")
        tick = Decimal(str(inst.get("tickSize", 0)))
        for name in ("limitPrice", "stopPrice"):
            price = _decimal(params.get(name)) if name in params else None
            if name in params and (price is None or price <= 0 or (tick and price % tick != 0)):
                raise Refusal("invalidPrice", "INVALID_PRICE")
        needs_limit = order_type in ("lmt", "post", "ioc", "fok")
        if needs_limit and "limitPrice" not in params:
            raise Refusal("invalidPrice", "LIMIT_PRICE_REQUIRED")
        if order_type in ("stp", "take_profit") and "stopPrice" not in params:
            raise Refusal("invalidPrice", "STOP_PRICE_REQUIRED")
        if order_type == "trailing_stop" and not (
            "trailingStopMaxDeviation" in params and "trailingStopDeviationUnit" in params
        ):
            raise Refusal("invalidPrice", "TRAILING_STOP_DEVIATION_REQUIRED")
        signal = params.get("triggerSignal")
        bad_signal = order_type not in TRIGGER_TYPES or signal not in TRIGGER_SIGNALS
        if signal is not None and bad_signal:
            raise Refusal("invalidOrderType", "INVALID_TRIGGER_SIGNAL")
        return inst, order_type

    def place(
        self, params: dict[str, str], now: float, *, force: str | None = None
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Process a sendorder: (status, order_id, orderEvents). Raises Refusal."""
        inst, order_type = self.check(params, now)
        symbol = str(inst["symbol"]).upper()
        side = params["side"]
        size = Decimal(params["size"])
        sign = 1 if side == "buy" else -1
        limit = _decimal(params.get("limitPrice"))
        mark = self.marks[symbol]
        reduce_only = params.get("reduceOnly") == "true"
        order = FakeOrder(
            order_id=str(uuid.uuid4()), cli_ord_id=params.get("cliOrdId"),
            order_type=order_type, symbol=symbol, side=side, quantity=size,
            limit_price=limit, stop_price=_decimal(params.get("stopPrice")),
            reduce_only=reduce_only, timestamp=iso(now), params=dict(params),
        )
        events: list[dict[str, Any]] = []
        if order_type in TRIGGER_TYPES:
            order.state = "TRIGGER_PLACED"
            self.orders[order.order_id] = order
            return "placed", order.order_id, [{"type": "PLACE", "orderTrigger": order.as_json()}]
        position = self.positions.get(symbol, Decimal(0))
        reduced: Decimal | None = None
        if reduce_only:
            if position == 0 or (position > 0) == (sign > 0):
                raise Refusal("wouldNotReducePosition", "WOULD_NOT_REDUCE_POSITION")
            if size > abs(position):
                reduced = size = abs(position)
                order.quantity = size
        crosses = limit is None or (limit >= mark if sign > 0 else limit <= mark)
        if order_type == "post" and crosses:
            raise Refusal("postWouldExecute", "POST_WOULD_EXECUTE")
        if order_type in ("ioc", "fok") and not crosses:
            raise Refusal("iocWouldNotExecute", "IOC_WOULD_NOT_EXECUTE")
        new_position = position + sign * size if crosses else position
        if abs(new_position) > Decimal(str(inst.get("maxPositionSize", "1e18"))):
            raise Refusal("maxPositionViolation", "MAX_POSITION_VIOLATION")
        if symbol.startswith(("PF_", "FF_")) and abs(new_position) > abs(position):
            added = (abs(new_position) - abs(position)) * mark * self._im(symbol)
            if added > self.available_margin():
                raise Refusal("insufficientAvailableFunds", "INSUFFICIENT_AVAILABLE_FUNDS")
        events.append({"type": "PLACE", "order": order.as_json(), "reducedQuantity": reduced})
        fill = size if crosses else Decimal(0)
        if force == "partiallyFilled":
            step = Decimal(1).scaleb(-int(inst.get("contractValueTradePrecision", 0)))
            fill = max(step, (size / 2 // step) * step) if size > step else Decimal(0)
        elif force in ("cancelled", "edited"):
            fill = Decimal(0)
        elif force == "filled":
            fill = size
        if fill:
            prior = order.as_json()
            self._execute(order, fill, mark, now)
            events.append({"type": "EXECUTION", "executionId": str(uuid.uuid4()), "price": mark,
                           "amount": fill, "orderPriorExecution": prior,
                           "takerReducedQuantity": None})
        order.state = "FULLY_EXECUTED" if order.filled >= order.quantity else "ENTERED_BOOK"
        if force == "cancelled" or (order_type == "mkt" and order.filled < order.quantity):
            order.state = "CANCELLED"
        if order.state != "ENTERED_BOOK":
            order.closed_at = now
        self.orders[order.order_id] = order
        return (force or "placed"), order.order_id, events

    def _execute(self, order: FakeOrder, amount: Decimal, price: Decimal, now: float) -> None:
        sign = 1 if order.side == "buy" else -1
        before = self.positions.get(order.symbol, Decimal(0))
        after = before + sign * amount
        self.positions[order.symbol] = after
        if after == 0:
            self.entry_prices.pop(order.symbol, None)
        elif before == 0 or (before > 0) != (after > 0) or abs(after) > abs(before):
            self.entry_prices[order.symbol] = price
        order.filled += amount
        self.fills.insert(0, {
            "fill_id": str(uuid.uuid4()), "symbol": order.symbol, "side": order.side,
            "order_id": order.order_id, "cliOrdId": order.cli_ord_id, "size": amount,
            "price": price, "fillTime": iso(now), "fillType": "taker",
        })
        for listener in list(self.fill_listeners):
            listener(order, self.fills[0])

    def cancel(
        self, now: float, *, cli_ord_id: str | None, order_id: str | None
    ) -> tuple[str, str | None]:
        order = self.by_client_id(cli_ord_id) if cli_ord_id else self.orders.get(order_id or "")
        if order is None:
            return "notFound", None
        if order.state == "FULLY_EXECUTED":
            return "filled", order.order_id
        if order.state in ("ENTERED_BOOK", "TRIGGER_PLACED"):
            order.state = "CANCELLED"
            order.closed_at = now
            return "cancelled", order.order_id
        return "notFound", order.order_id


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except ArithmeticError:
        return None
    return number if number.is_finite() else None
