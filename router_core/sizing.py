"""Sizing: an alert's quantity rule -> an order quantity and tick-rounded prices.

Pure functions on the frozen models: no I/O, no pluggy, no pydantic, Decimal only. Anything
that cannot be sized safely raises ``SizingDenied`` with a sentence that carries the numbers;
nothing is guessed (a missing price, equity or stop fails closed).

Currency conventions (the router must pass numbers in these units):

* Linear instruments (spot, linear perpetuals and futures): a quantity of 1 is
  ``contract_size`` base units. ``equity`` and every amount are in the quote currency.
* Inverse instruments (``instrument.inverse``, e.g. a USD-margined-in-BTC perpetual): a
  quantity of 1 is a contract worth ``contract_size`` units of the quote currency. ``equity``
  is in the base currency (the coin that margins the contract); ``dollar_amount`` and
  ``risk_dollar_amount`` amounts stay in the quote currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import Literal

from .decimals import format_decimal, round_down, round_to_step
from .models import Instrument, QuantityType, Side
from .normalize import asset

HUNDRED = Decimal(100)
_SHOWN = Context(prec=12)  # digits shown in a reason; the computation keeps full precision
# Inexact steps round toward zero (all operands are positive), so a quantity never comes out
# above the exact one; 34 digits keep the usual cases exact.
_ARITHMETIC = Context(prec=34, rounding=ROUND_FLOOR)

PriceRole = Literal["limit", "stop"]


class SizingDenied(Exception):
    """Nothing can be sent: ``reason`` is a sentence with the numbers that decided it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SizingRequest:
    """One account's sizing inputs.

    ``quantity`` is the alert's number: units for ``fixed_quantity``, quote currency for the
    ``*_amount`` types, percent for the ``*_percent*`` types. When it is ``None`` the
    account's ``default_quantity`` is used; with neither, sizing is denied.
    """

    quantity: Decimal | None
    quantity_type: QuantityType
    price: Decimal | None  # reference / entry price
    stop_price: Decimal | None = None  # absolute stop, for the risk_* types
    multiplier: Decimal = Decimal(1)  # the per-account multiplier
    leverage: Decimal | None = None  # percent_of_equity only
    default_quantity: Decimal | None = None  # the account's fallback for a missing quantity


def size_quantity(
    request: SizingRequest,
    instrument: Instrument,
    *,
    equity: Decimal | None,
    position: Decimal | None,
    equity_currency: str | None = None,
) -> Decimal:
    """The order quantity in the instrument's units, rounded DOWN to ``instrument.lot_size``.

    ``equity`` is in ``equity_currency(instrument)``: the quote currency, or the base coin for
    an inverse contract. Pass the balance's currency as ``equity_currency`` and an equity in
    any other currency is denied instead of sizing an order off by a factor of the price.
    ``position`` is the signed net position (only ``percent_of_position`` reads it).

    * ``fixed_quantity``: the quantity.
    * ``dollar_amount``: linear ``amount / (price x contract_size)``; inverse
      ``amount / contract_size`` (no price needed).
    * ``percent_of_equity``: the stake ``equity x pct/100 x leverage`` (leverage 1 when
      unset) sized like a dollar amount. Inverse: equity is in the base currency, so the stake
      is converted to quote at ``price`` first: ``equity x pct/100 x lev x price / contract_size``.
    * ``percent_of_position``: ``|position| x pct/100``; denied when flat or unknown. The
      multiplier is NOT applied: the position is already this account's own.
    * ``risk_percent`` / ``risk_dollar_amount``: the risk (``equity x pct/100`` or the amount)
      divided by what one unit loses between ``price`` and ``stop_price``. Linear:
      ``|price - stop| x contract_size``. Inverse: one contract loses
      ``contract_size x |price - stop| / (price x stop)`` base units; a dollar risk is
      converted to base at the stop price (where the loss is realised).

    Every type but ``percent_of_position`` scales the alert's number by ``multiplier``
    (before any division, so exact results stay exact).
    Raises ``SizingDenied`` when an input the rule needs is missing, not finite or not
    positive, when the result rounds to zero, or when it is below ``min_quantity`` or
    ``min_notional``.
    """
    if equity_currency is not None and request.quantity_type in _EQUITY_TYPES:
        _check_equity_currency(equity_currency, request, instrument)
    with localcontext(_ARITHMETIC):
        raw = _RULES[request.quantity_type](request, instrument, equity, position)
        quantity = round_down(raw, instrument.lot_size)
        _check_minimums(quantity, raw, request.price, instrument)
    return quantity


def equity_currency(instrument: Instrument) -> str:
    """The currency ``size_quantity`` reads equity in: the base coin for an inverse contract
    (its margin), the quote currency otherwise."""
    return instrument.base if instrument.inverse else instrument.quote


def _check_equity_currency(given: str, request: SizingRequest, instrument: Instrument) -> None:
    wanted = equity_currency(instrument)
    if asset(given) != asset(wanted):
        kind = "an inverse contract" if instrument.inverse else "a linear instrument"
        raise SizingDenied(f"{request.quantity_type} sizing of {instrument.symbol} ({kind}) "
                           f"needs the equity in {wanted}, but the balance is in {given}")


# --- the rules, one per quantity type --------------------------------------------------------


def _fixed(request: SizingRequest, instrument: Instrument, equity: Decimal | None,
           position: Decimal | None) -> Decimal:
    return _alert_quantity(request)


def _dollar_amount(request: SizingRequest, instrument: Instrument, equity: Decimal | None,
                   position: Decimal | None) -> Decimal:
    return _quote_to_quantity(_alert_quantity(request), request, instrument)


def _percent_of_equity(request: SizingRequest, instrument: Instrument, equity: Decimal | None,
                       position: Decimal | None) -> Decimal:
    stake = _positive(equity, "the account equity", request) * _alert_quantity(request) / HUNDRED
    if request.leverage is not None:
        stake *= _positive(request.leverage, "the leverage", request)
    if instrument.inverse:  # equity is in the base currency: value the stake in quote
        stake *= _positive(request.price, "a price", request)
    return _quote_to_quantity(stake, request, instrument)


def _percent_of_position(request: SizingRequest, instrument: Instrument,
                         equity: Decimal | None, position: Decimal | None) -> Decimal:
    percent = _alert_quantity(request)
    if position is None or not position.is_finite():
        raise SizingDenied(f"percent_of_position sizing needs the current position of "
                           f"{instrument.symbol}, but it is unknown")
    if position == 0:
        raise SizingDenied(f"percent_of_position sizing: there is no position in "
                           f"{instrument.symbol} to take {_show(percent)}% of")
    return abs(position) * percent / HUNDRED


def _risk_percent(request: SizingRequest, instrument: Instrument, equity: Decimal | None,
                  position: Decimal | None) -> Decimal:
    risk = _positive(equity, "the account equity", request) * _alert_quantity(request) / HUNDRED
    return _risk_to_quantity(risk, request, instrument, risk_in_base=instrument.inverse)


def _risk_dollar_amount(request: SizingRequest, instrument: Instrument,
                        equity: Decimal | None, position: Decimal | None) -> Decimal:
    return _risk_to_quantity(_alert_quantity(request), request, instrument, risk_in_base=False)


_EQUITY_TYPES = frozenset({QuantityType.PERCENT_OF_EQUITY, QuantityType.RISK_PERCENT})
_Rule = Callable[[SizingRequest, Instrument, Decimal | None, Decimal | None], Decimal]
_RULES: dict[QuantityType, _Rule] = {
    QuantityType.FIXED_QUANTITY: _fixed,
    QuantityType.DOLLAR_AMOUNT: _dollar_amount,
    QuantityType.PERCENT_OF_EQUITY: _percent_of_equity,
    QuantityType.PERCENT_OF_POSITION: _percent_of_position,
    QuantityType.RISK_PERCENT: _risk_percent,
    QuantityType.RISK_DOLLAR_AMOUNT: _risk_dollar_amount,
}


# --- shared arithmetic -----------------------------------------------------------------------


def _quote_to_quantity(amount: Decimal, request: SizingRequest,
                       instrument: Instrument) -> Decimal:
    """A quote-currency amount as a quantity of the instrument."""
    contract_size = _contract_size(instrument, request)
    if instrument.inverse:
        return amount / contract_size
    return amount / (_positive(request.price, "a price", request) * contract_size)


def _risk_to_quantity(risk: Decimal, request: SizingRequest, instrument: Instrument, *,
                      risk_in_base: bool) -> Decimal:
    price = _positive(request.price, "an entry price", request)
    stop = _positive(request.stop_price, "a stop price (stopLoss.stopPrice)", request)
    distance = abs(price - stop)
    if distance == 0:
        raise SizingDenied(f"{request.quantity_type} sizing needs a stop distance, but the stop "
                           f"price {_show(stop)} equals the entry price {_show(price)}")
    contract_size = _contract_size(instrument, request)
    if not instrument.inverse:
        return risk / (distance * contract_size)
    # one division, last: an intermediate quotient would be cut at 28 digits and a result of
    # exactly 100 could come out as 99.99.. and round down a whole lot
    if risk_in_base:
        return risk * price * stop / (contract_size * distance)
    return risk * price / (contract_size * distance)  # the loss valued at the stop price


def _alert_quantity(request: SizingRequest) -> Decimal:
    """The alert's number, times the account multiplier (applied before any division)."""
    value = request.quantity if request.quantity is not None else request.default_quantity
    if value is None:
        raise SizingDenied(f"{request.quantity_type} sizing needs a quantity, but the alert "
                           f"has none and the account sets no default quantity")
    value = _positive(value, "a positive quantity", request)
    if request.quantity_type is QuantityType.PERCENT_OF_POSITION:
        return value
    return value * _positive(request.multiplier, "the account multiplier", request)


def _contract_size(instrument: Instrument, request: SizingRequest) -> Decimal:
    return _positive(instrument.contract_size, f"the contract size of {instrument.symbol}",
                     request)


def _positive(value: Decimal | None, what: str, request: SizingRequest) -> Decimal:
    """``value`` when it is a finite number above zero; otherwise deny, naming ``what``."""
    if value is None:
        raise SizingDenied(f"{request.quantity_type} sizing needs {what}, but it is missing")
    if not value.is_finite() or value <= 0:
        raise SizingDenied(f"{request.quantity_type} sizing needs {what}, but got {value} "
                           f"(it must be a finite number above zero)")
    return value


def _check_minimums(quantity: Decimal, raw: Decimal, price: Decimal | None,
                    instrument: Instrument) -> None:
    symbol = instrument.symbol
    if quantity <= 0:
        raise SizingDenied(f"quantity {_show(raw)} rounds down to zero at the lot size "
                           f"{_show(instrument.lot_size)} for {symbol}")
    if quantity < instrument.min_quantity:
        raise SizingDenied(f"quantity {_show(quantity)} is below the minimum "
                           f"{_show(instrument.min_quantity)} for {symbol}")
    if instrument.min_notional <= 0:
        return
    notional = _notional(quantity, price, instrument)
    if notional < instrument.min_notional:
        raise SizingDenied(
            f"order value {_show(notional)} {instrument.quote} (quantity {_show(quantity)}) is "
            f"below the minimum {_show(instrument.min_notional)} {instrument.quote} for {symbol}"
        )


def _notional(quantity: Decimal, price: Decimal | None, instrument: Instrument) -> Decimal:
    """The order's value in the quote currency."""
    if instrument.inverse:
        return quantity * instrument.contract_size
    if price is None or not price.is_finite() or price <= 0:
        raise SizingDenied(f"the minimum order value {_show(instrument.min_notional)} "
                           f"{instrument.quote} for {instrument.symbol} cannot be checked "
                           f"without a price")
    return quantity * price * instrument.contract_size


def _show(value: Decimal) -> str:
    """A number for a reason: plain notation, at most 12 significant digits."""
    return format_decimal(_SHOWN.plus(value)) if value.is_finite() else str(value)


# --- prices ----------------------------------------------------------------------------------


def round_price(price: Decimal, instrument: Instrument, side: Side, *,
                purpose: PriceRole) -> Decimal:
    """``price`` rounded to a multiple of ``instrument.tick_size``.

    ``purpose="limit"`` (a limit or take-profit price) rounds so the order is never worse
    than asked: a buy rounds down, a sell rounds up. ``purpose="stop"`` (a trigger price)
    rounds to the nearest tick, half to even. ``side`` is the side of the order that carries
    the price. Raises ``SizingDenied`` for a missing, non-finite or non-positive price, or one
    that rounds to zero.
    """
    if purpose == "stop":
        mode = "nearest"
    elif purpose == "limit":
        mode = "down" if side is Side.BUY else "up"
    else:
        raise ValueError(f"purpose must be 'limit' or 'stop', got {purpose!r}")
    if price is None or not price.is_finite() or price <= 0:
        raise SizingDenied(f"{purpose} price {price} for {instrument.symbol} must be a finite "
                           f"number above zero")
    rounded = round_to_step(price, instrument.tick_size, mode)
    if rounded <= 0:
        raise SizingDenied(f"{purpose} price {_show(price)} rounds to zero at the tick size "
                           f"{_show(instrument.tick_size)} for {instrument.symbol}")
    return rounded


@dataclass(frozen=True, slots=True)
class PriceTarget:
    """A take-profit or stop-loss level as the alert gives it: set exactly one field.

    ``price`` is absolute; ``amount`` is a price distance from the entry in the quote
    currency (per unit, not a total profit or loss); ``percent`` is a distance in percent of
    the entry price.
    """

    price: Decimal | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BracketPrices:
    """Absolute, tick-rounded bracket prices; ``None`` where the alert asked for none."""

    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


def bracket_prices(entry_price: Decimal, entry_side: Side, instrument: Instrument, *,
                   take_profit: PriceTarget | None = None,
                   stop_loss: PriceTarget | None = None) -> BracketPrices:
    """Absolute take-profit and stop-loss prices for an entry at ``entry_price``.

    A long's (``entry_side`` buy) take profit lies above the entry and its stop below; a
    short's the other way. The take profit is a limit on the exiting side and rounds never
    worse than asked; the stop rounds to the nearest tick. Raises ``SizingDenied`` when a
    level is ambiguous (not exactly one field), not positive, lands on the wrong side of the
    entry (also after rounding), or at or below zero.
    """
    if entry_price is None or not entry_price.is_finite() or entry_price <= 0:
        raise SizingDenied(f"brackets need an entry price above zero, got {entry_price}")
    direction = 1 if entry_side is Side.BUY else -1
    exit_side = entry_side.opposite
    tp = sl = None
    if take_profit is not None:
        raw = _level(take_profit, entry_price, direction, "take profit")
        tp = _bracket_price(raw, entry_price, direction, "take profit", exit_side, "limit",
                            instrument)
    if stop_loss is not None:
        raw = _level(stop_loss, entry_price, -direction, "stop loss")
        sl = _bracket_price(raw, entry_price, -direction, "stop loss", exit_side, "stop",
                            instrument)
    return BracketPrices(take_profit=tp, stop_loss=sl)


def _level(target: PriceTarget, entry: Decimal, direction: int, name: str) -> Decimal:
    """The absolute level; ``direction`` is +1 when it must lie above the entry."""
    given = [(key, value) for key, value in
             (("price", target.price), ("amount", target.amount), ("percent", target.percent))
             if value is not None]
    if len(given) != 1:
        raise SizingDenied(f"{name} needs exactly one of price, amount or percent, "
                           f"got {', '.join(key for key, _ in given) or 'none'}")
    key, value = given[0]
    if not value.is_finite() or value <= 0:
        raise SizingDenied(f"{name} {key} must be a finite number above zero, got {value}")
    if key == "price":
        return value
    distance = value if key == "amount" else entry * value / HUNDRED
    return entry + direction * distance


def _bracket_price(raw: Decimal, entry: Decimal, direction: int, name: str, side: Side,
                   purpose: PriceRole, instrument: Instrument) -> Decimal:
    where = "above" if direction > 0 else "below"
    if raw <= 0:
        raise SizingDenied(f"{name} at {_show(raw)} is at or below zero "
                           f"(entry price {_show(entry)})")
    rounded = round_price(raw, instrument, side, purpose=purpose)
    if (rounded - entry) * direction <= 0:
        raise SizingDenied(f"{name} {_show(rounded)} is not {where} the entry price "
                           f"{_show(entry)} (asked {_show(raw)}, tick "
                           f"{_show(instrument.tick_size)} for {instrument.symbol})")
    return rounded
