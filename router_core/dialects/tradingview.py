"""The TradingView strategy dialect: bodies built from ``{{strategy.*}}`` placeholders.

A strategy alert knows the order (``{{strategy.order.action}}``, ``{{strategy.order.contracts}}``)
and the position before and after it (``{{strategy.prev_market_position}}``,
``{{strategy.market_position}}``, their sizes, ``{{strategy.position_size}}``). This dialect
turns that into the native intent with TradersPost semantics: the order keeps its action
(buy/sell) and ``sentiment`` carries the position after it, so the planner knows whether to
open, add, reverse or exit.

* any -> flat, buy or sell: ``exit`` (close all);
* flat -> long/short, buy/sell: ``buy``/``sell`` with sentiment long/short, quantity = new size;
* short -> long, long -> short (a reversal): the same, and the planner reverses;
* long -> larger long (buy), short -> larger short (sell): ``add``, quantity = contracts;
* long -> smaller long (sell), short -> smaller short (buy): ``exit`` with quantity =
  contracts (or the difference of the two sizes): a partial close.

On a reversal TradingView's ``contracts`` counts the closing part too (long 1 -> short 1 is
2 contracts), so the new size is taken from ``market_position_size`` or ``position_size``, or
computed as ``contracts - prev_market_position_size``.

Recognised when the body carries any of the position keys below (top level or in the
3Commas-style ``strategy_info`` object). Accepted spellings:

* ``market_position`` / ``marketPosition``; ``prev_market_position`` / ``prevMarketPosition``
* ``market_position_size`` / ``marketPositionSize``;
  ``prev_market_position_size`` / ``prevMarketPositionSize``
* ``position_size`` / ``positionSize``; ``contracts`` / ``quantity`` / ``order.amount``
* ``ticker`` / ``tv_instrument``; ``exchange`` / ``tv_exchange`` (prefixed to the ticker)
* ``price`` / ``trigger_price``; ``order_id`` / ``orderId``; ``timenow`` / ``timestamp``
* ``comment`` (``{{strategy.order.comment}}``) is accepted and dropped.

Every other key must be a native alert field (``passphrase``, ``accounts``, ``stopLoss``, ...)
and is passed on unchanged, so the model refuses typos by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..alert import field_name
from ..errors import AlertError
from ..plugins import hookimpl
from . import check_rendered, first_of, number, word

DIALECT = "tradingview-strategy"

MARKET_POSITION = ("market_position", "marketPosition")
PREV_MARKET_POSITION = ("prev_market_position", "prevMarketPosition")
MARKET_POSITION_SIZE = ("market_position_size", "marketPositionSize")
PREV_MARKET_POSITION_SIZE = ("prev_market_position_size", "prevMarketPositionSize")
POSITION_SIZE = ("position_size", "positionSize")
CONTRACTS = ("contracts", "quantity")
TICKER = ("ticker", "tv_instrument")
EXCHANGE = ("exchange", "tv_exchange")
PRICE = ("price", "trigger_price")
ORDER_ID = ("order_id", "orderId")
TIMENOW = ("timenow", "timestamp")
DROPPED = ("comment",)

# Keys that only a strategy alert carries: their presence makes the body this dialect's.
MARKERS = frozenset(
    (*MARKET_POSITION, *PREV_MARKET_POSITION, *MARKET_POSITION_SIZE,
     *PREV_MARKET_POSITION_SIZE, *POSITION_SIZE, "contracts", "strategy_info")
)
POSITIONS = ("long", "short", "flat")


@hookimpl
def router_parse_alert(raw: str, data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or MARKERS.isdisjoint(data):
        return None
    if "{{" in raw or "\\u" in raw:  # walk only when a placeholder may be left
        check_rendered(data)
    return to_native(data)


def to_native(body: Mapping[str, Any]) -> dict[str, Any]:
    """The native alert dict for one strategy body (already known to be this dialect's)."""
    fields = dict(body)
    info = fields.pop("strategy_info", None)
    if info is not None:
        if not isinstance(info, Mapping):
            raise AlertError("strategy_info", "expected an object")
        for key, value in info.items():
            if key in fields:
                name = field_name(key)
                raise AlertError(f"strategy_info.{name}", f"given twice, also as top-level {name}")
            fields[key] = value
    order = fields.pop("order", None)
    if order is not None:
        order = _three_commas_order(order)
        if "contracts" in fields or "quantity" in fields:
            raise AlertError("order.amount", "given twice, also as contracts")
        fields.update(order)

    native: dict[str, Any] = {}
    taken: set[str] = set(DROPPED)

    def take(names: tuple[str, ...]) -> tuple[str | None, Any]:
        taken.update(names)
        return first_of(fields, *names)

    ticker_key, ticker = take(TICKER)
    _, exchange = take(EXCHANGE)
    if ticker_key is not None:
        native["ticker"] = f"{exchange}:{ticker}" if exchange and isinstance(ticker, str) \
            else ticker
    for names, target in ((PRICE, "price"), (ORDER_ID, "orderId"), (TIMENOW, "timenow")):
        key, value = take(names)
        if key is not None:
            native[target] = value

    mp_key, mp = take(MARKET_POSITION)
    prev_key, prev = take(PREV_MARKET_POSITION)
    size_key, size = take(MARKET_POSITION_SIZE)
    prev_size_key, prev_size = take(PREV_MARKET_POSITION_SIZE)
    signed_key, signed = take(POSITION_SIZE)
    contracts_key, contracts = take(CONTRACTS)
    taken.add("action")

    market = _position(mp, mp_key) if mp_key else None
    before = _position(prev, prev_key) if prev_key else None
    new_size = abs(number(size, size_key)) if size_key else None
    old_size = abs(number(prev_size, prev_size_key)) if prev_size_key else None
    if signed_key:
        signed_value = number(signed, signed_key)
        market = market or _sign_to_position(signed_value)
        new_size = abs(signed_value) if new_size is None else new_size
    quantity = number(contracts, contracts_key) if contracts_key else None
    if quantity is not None and quantity <= 0:
        raise AlertError(contracts_key or "contracts", "must be greater than 0")

    action = fields.get("action")
    if action is None:
        raise AlertError("action", "required ({{strategy.order.action}})")
    verb = word(action, "action")
    if verb in ("buy", "sell") and market is not None:
        native.update(_intent(verb, market, before, new_size, old_size, quantity,
                              contracts_key or "contracts"))
    else:
        native["action"] = action
        if quantity is not None:
            native["quantity"] = quantity

    for key, value in fields.items():
        if key not in taken:
            if key in native:
                raise AlertError(key, "given twice, also by the strategy fields")
            native[key] = value
    return native


def _intent(
    verb: str,
    market: str,
    before: str | None,
    new_size: Decimal | None,
    old_size: Decimal | None,
    contracts: Decimal | None,
    contracts_key: str,
) -> dict[str, Any]:
    direction = "long" if verb == "buy" else "short"
    opposite = "short" if direction == "long" else "long"
    if market == "flat":
        return {"action": "exit"}
    if market == opposite:
        # A sell that leaves a long (or a buy that leaves a short) reduces that position.
        if before not in (None, market):
            raise AlertError("market_position", f"{market} after a {verb} from {before} "
                                                "is impossible")
        # A partial exit: close exactly what the strategy sold (or bought back), never all.
        if contracts is not None:
            return {"action": "exit", "quantity": contracts}
        if new_size is not None and old_size is not None and old_size > new_size:
            return {"action": "exit", "quantity": old_size - new_size}
        raise AlertError(contracts_key, f"a partial exit ({market} -> smaller {market}) needs "
                                        "the contracts sold, or both position sizes; nothing "
                                        "was sent")
    if before == market:
        out: dict[str, Any] = {"action": "add", "sentiment": market}
        if contracts is not None:
            out["quantity"] = contracts
        elif new_size is not None and old_size is not None and new_size > old_size:
            out["quantity"] = new_size - old_size
        return out
    out = {"action": verb, "sentiment": market}
    quantity = new_size
    if quantity is None and contracts is not None:
        if before == "flat":
            quantity = contracts
        elif before == opposite and old_size is not None:
            quantity = contracts - old_size
        else:
            raise AlertError("market_position_size", "cannot tell the new position size: "
                             "send market_position_size or position_size (or "
                             "prev_market_position with its size)")
    if quantity is not None:
        if quantity <= 0:
            raise AlertError(contracts_key, "leaves no position to open after the reversal")
        out["quantity"] = quantity
    return out


def _position(value: Any, field: str) -> str:
    text = word(value, field)
    if text not in POSITIONS:
        raise AlertError(field, f"unknown position {value!r:.40}; expected long, short or flat")
    return text


def _sign_to_position(size: Decimal) -> str:
    return "long" if size > 0 else "short" if size < 0 else "flat"


def _three_commas_order(order: Any) -> dict[str, Any]:
    # 3Commas: "order": {"amount": "{{strategy.order.contracts}}", "currency_type": "base"}
    if not isinstance(order, Mapping):
        raise AlertError("order", "expected an object with amount")
    unknown = sorted(set(order) - {"amount", "currency_type"})
    if unknown:
        raise AlertError(f"order.{field_name(unknown[0])}", "unknown field")
    currency_type = order.get("currency_type", "base")
    if currency_type != "base":
        raise AlertError("order.currency_type", "only base amounts (contracts) are supported")
    return {"contracts": order["amount"]} if "amount" in order else {}
