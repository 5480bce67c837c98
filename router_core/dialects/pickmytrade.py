"""The PickMyTrade dialect: ``{"symbol": ..., "data": "buy", "quantity": 1, ...}`` bodies.

Recognised when a JSON object carries both ``symbol`` and ``data``. PickMyTrade templates fill
unused money fields with ``0``, so a zero ``tp``, ``sl``, ``dollar_*``, ``percentage_*``,
``trail*`` or ``risk_percentage`` means "not set".

Mapped:

* ``symbol`` -> ``ticker``;
* ``data`` buy / sell / close -> ``buy`` sentiment long / ``sell`` sentiment short / ``exit``;
* ``quantity`` > 0 -> ``quantity`` with ``quantityType`` fixed_quantity;
* ``risk_percentage`` with ``quantity`` 0 -> ``quantity`` = the risk, ``quantityType``
  risk_percent;
* ``price`` -> ``price`` (reference for sizing and TP/SL); ``order_type`` LMT makes it a limit;
* ``tp`` / ``dollar_tp`` / ``percentage_tp`` -> ``takeProfit`` limitPrice / amount / percent;
* ``sl`` / ``dollar_sl`` / ``percentage_sl`` -> ``stopLoss`` stopPrice / amount / percent;
* ``trail`` 1 with ``trail_stop`` -> ``stopLoss`` type trailing_stop with ``trailAmount``;
* ``date`` (``{{timenow}}``) -> ``timenow``, and the idempotency ``id``
  ``pmt:<date>:<symbol>:<data>``;
* ``token`` -> ``passphrase``;
* ``duplicate_position_allow`` true -> action ``add`` (pyramid);
* ``multiple_accounts[]`` -> ``accounts``: ``account_id`` -> account,
  ``quantity_multiplier`` -> multiplier.

``data: close`` flattens at market, as in PickMyTrade: its size, price and bracket fields are
ignored. Not mapped: ``update_tp``/``update_sl``, ``trail_trigger``/``trail_freq``, a per-account
``risk_percentage`` different from the top level, and ``reverse_order_close: false`` (the
router always closes an opposite position before opening) are refused as "not supported yet".
``platform``, ``connection_name`` and the per-account ``token`` are PickMyTrade's own routing
and are dropped: the router's config decides where an account lives, and the top-level
``token`` is the only passphrase. Note that ``dollar_tp``/``dollar_sl`` become a price
distance from the entry (``amount``), as in TradersPost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..alert import field_name
from ..errors import AlertError
from ..plugins import hookimpl
from . import check_rendered, number, word

DIALECT = "pickmytrade"

ACTIONS = {"buy": "buy", "sell": "sell", "close": "exit"}
ORDER_TYPES = {"mkt": "market", "market": "market", "lmt": "limit", "limit": "limit"}
NOT_SUPPORTED = ("update_tp", "update_sl", "trail_trigger", "trail_freq")
DROPPED = ("platform",)
KNOWN = frozenset(
    {"symbol", "data", "quantity", "risk_percentage", "price", "order_type", "tp", "sl",
     "dollar_tp", "dollar_sl", "percentage_tp", "percentage_sl", "trail", "trail_stop",
     "date", "token", "duplicate_position_allow", "reverse_order_close", "multiple_accounts",
     *NOT_SUPPORTED, *DROPPED}
)
ACCOUNT_KEYS = frozenset(
    {"account_id", "quantity_multiplier", "risk_percentage", "token", "connection_name"}
)


@hookimpl
def router_parse_alert(raw: str, data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict) or "symbol" not in data or "data" not in data:
        return None
    if "{{" in raw or "\\u" in raw:  # walk only when a placeholder may be left
        check_rendered(data)
    return to_native(data)


def to_native(body: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [key for key in body if key not in KNOWN]
    if unknown:
        raise AlertError(field_name(unknown[0]), "unknown field for the pickmytrade dialect")
    for key in NOT_SUPPORTED:
        if _set(body, key):
            raise AlertError(key, "not supported yet")

    verb = word(body["data"], "data")
    if verb not in ACTIONS:
        raise AlertError("data", f"unknown value {body['data']!r:.40}; expected buy, sell or close")
    native: dict[str, Any] = {"ticker": body["symbol"], "action": ACTIONS[verb]}
    # close flattens at market, as in PickMyTrade: its size, price and bracket fields, which
    # templates often carry on every alert, do not apply.
    if verb != "close":
        native["sentiment"] = "long" if verb == "buy" else "short"
        if _flag(body, "duplicate_position_allow"):
            native["action"] = "add"
        if "reverse_order_close" in body and not _flag(body, "reverse_order_close"):
            raise AlertError("reverse_order_close", "false is not supported yet: alert-router "
                                                    "always closes an opposite position first")
        native.update(_size(body))
        native.update(_price(body))
        native.update(_brackets(body))

    if "token" in body:
        native["passphrase"] = body["token"]
    if "date" in body:
        native["timenow"] = body["date"]
        native["id"] = _intent_id(body["date"], body["symbol"], verb)
    if "multiple_accounts" in body:
        native["accounts"] = _accounts(body["multiple_accounts"], body.get("risk_percentage"))
    return native


def _size(body: Mapping[str, Any]) -> dict[str, Any]:
    quantity = number(body["quantity"], "quantity") if "quantity" in body else None
    risk = number(body["risk_percentage"], "risk_percentage") \
        if _set(body, "risk_percentage") else None
    if quantity is not None and quantity < 0:
        raise AlertError("quantity", "must not be negative")
    if risk is not None:
        if quantity:
            raise AlertError("risk_percentage", "give quantity 0 with risk_percentage")
        return {"quantity": risk, "quantityType": "risk_percent"}
    if quantity:
        return {"quantity": quantity, "quantityType": "fixed_quantity"}
    raise AlertError("quantity", "give a quantity above 0, or quantity 0 with risk_percentage")


def _price(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if _set(body, "price"):
        out["price"] = body["price"]
    order_type = body.get("order_type")
    if order_type is not None:
        kind = ORDER_TYPES.get(word(order_type, "order_type"))
        if kind is None:
            raise AlertError("order_type", f"unknown value {order_type!r:.40}; "
                                           "expected MKT or LMT")
        if kind == "limit":
            if "price" not in out:
                raise AlertError("price", "order_type LMT needs a price")
            out["orderType"] = "limit"
            out["limitPrice"] = out["price"]
    return out


def _brackets(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    take_profit = _bracket(body, {"tp": "limitPrice", "dollar_tp": "amount",
                                  "percentage_tp": "percent"})
    if take_profit:
        out["takeProfit"] = take_profit
    stop_loss = _bracket(body, {"sl": "stopPrice", "dollar_sl": "amount",
                                "percentage_sl": "percent"})
    if _flag(body, "trail"):
        if stop_loss:
            raise AlertError("trail", "give either sl/dollar_sl/percentage_sl or trail")
        if not _set(body, "trail_stop"):
            raise AlertError("trail_stop", "trail needs trail_stop (the trailing distance)")
        stop_loss = {"type": "trailing_stop", "trailAmount": body["trail_stop"]}
    if stop_loss:
        out["stopLoss"] = stop_loss
    return out


def _bracket(body: Mapping[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {target: body[key] for key, target in names.items() if _set(body, key)}


def _accounts(value: Any, top_risk: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise AlertError("multiple_accounts", "expected a list")
    top = number(top_risk, "risk_percentage") if top_risk is not None else None
    out = []
    for index, entry in enumerate(value):
        where = f"multiple_accounts[{index}]"
        if not isinstance(entry, Mapping):
            raise AlertError(where, "expected an object with account_id")
        unknown = sorted(set(entry) - ACCOUNT_KEYS)
        if unknown:
            raise AlertError(f"{where}.{field_name(unknown[0])}",
                             "unknown field for the pickmytrade dialect")
        if "account_id" not in entry:
            raise AlertError(f"{where}.account_id", "required")
        if _set(entry, "risk_percentage"):
            risk = number(entry["risk_percentage"], f"{where}.risk_percentage")
            if risk != top:
                raise AlertError(f"{where}.risk_percentage", "a per-account risk is not "
                                 "supported yet; use quantity_multiplier")
        target: dict[str, Any] = {"account": entry["account_id"]}
        if _set(entry, "quantity_multiplier"):
            target["multiplier"] = entry["quantity_multiplier"]
        out.append(target)
    return out


def _intent_id(date: Any, symbol: Any, verb: str) -> str:
    text = f"pmt:{date}:{symbol}:{verb}"
    if len(text) <= 128:
        return text
    return "pmt:" + hashlib.sha256(text.encode()).hexdigest()


def _set(body: Mapping[str, Any], key: str) -> bool:
    """Present and not PickMyTrade's "unset" (0, "0", false, empty, null)."""
    value = body.get(key)
    if value is None or value is False or value == "":
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | Decimal | float):
        return value != 0
    if isinstance(value, str):
        try:
            return Decimal(value.strip()) != 0
        except ArithmeticError:
            return True  # not a number: let validation name it
    return True


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise AlertError(key, f"expected true or false, got {value!r:.40}")
