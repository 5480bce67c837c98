"""Planning: what an alert means for one account, as the legs that reach it.

Pure: the alert's intent, the position the legs act on and the kind of account in; the legs
in order, the position the plan aims for and a reason for every part refused out. No I/O.
docs/order-semantics.md is generated from this module (``router_core.semantics_table``), so
the table users read is the one the code runs.

The position is signed (+long, -short, 0 flat). On a ``cash`` account it is what this router
bought and still holds, never negative. For ``buy`` (``sell`` is the mirror image):

* ``reduceOnly`` only ever closes part or all of a short; with nothing to reduce it is refused.
* sentiment ``flat``: close the short (all of it, or the alert's quantity); never open.
* sentiment ``short`` or ``bearish``: the strategy is still short after it, so the short is
  reduced by the quantity (a partial close); nothing is opened.
* no sentiment, or one that agrees:

  - flat: open a long; on a ``cash`` account a sell has nothing to sell and is refused.
  - long: add to it. With a sentiment the alert's quantity is a target: already at or above
    it, nothing is sent; below it, only the difference.
  - short: ``percent_of_position`` is a partial close; an explicit quantity smaller than the
    short (no sentiment) is a partial close; on a ``cash`` account a sell only reduces what is
    held. Otherwise a reversal: cancel the router's resting orders, close the short, open the
    long (one FLIP order where the venue nets positions and the account asks for it; else the
    open waits until the close has filled). With ``reverse`` off, only the close.

``exit`` closes all (or the alert's quantity) and, when it closes all, cancels the router's
resting orders first; ``reverse`` closes and opens the other side; ``add`` grows the position
(or opens in the sentiment's direction when flat); ``cancel`` cancels resting orders.

Opening legs are refused, with the rule named, when the account cannot hold the result: no
short on ``cash``, a ``margin`` position needs leverage, ``reduceOnly`` never opens. A close
never exceeds the position and rounds down to the lot size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .decimals import format_decimal, round_down
from .models import AccountKind, Action, LegPurpose, Sentiment, Side

ZERO = Decimal(0)

# The start of every denial that only means "sizing gave no quantity"; the router's request
# carries the sizing step's own reason, which replaces it.
NOT_SIZED = "no quantity was sized"


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """Everything the planner reads.

    ``quantity`` is the sized quantity (``None`` when sizing gave none; ``sizing_denial`` then
    says why). ``explicit`` is true when the alert gave its own size: it then caps what is
    sent. ``of_position`` marks a ``percent_of_position`` size, always a part of the position.
    ``leverage`` is the alert's (or the account's) leverage for opening legs;
    ``position_leverage`` the leverage of the held margin position, used to close it.
    ``flip`` asks for one order that closes and opens, where the venue nets positions.
    """

    action: Action
    sentiment: Sentiment | None = None
    position: Decimal = ZERO
    quantity: Decimal | None = None
    sizing_denial: str | None = None
    explicit: bool = False
    of_position: bool = False
    reduce_only: bool = False
    kind: AccountKind = AccountKind.NET
    can_short: bool = True
    reverse: bool = True
    flip: bool = False
    leverage: Decimal | None = None
    position_leverage: Decimal | None = None
    lot_size: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class LegSpec:
    """One leg of the plan.

    ``quantity`` is positive for every leg that may be sent; a CANCEL leg, and a denied leg
    that had no quantity, carry zero. ``side`` is ``None`` for CANCEL and for a denied leg
    whose direction could not be known. ``denied`` holds the reason a leg must not be sent.
    ``after_fill`` marks an opening leg that may go only once the leg before it has filled.
    ``opening`` is the part of a FLIP that opens the new position (its brackets cover that).
    """

    purpose: LegPurpose
    side: Side | None
    quantity: Decimal
    reduce_only: bool = False
    denied: str | None = None
    leverage: Decimal | None = None
    after_fill: bool = False
    opening: Decimal | None = None

    @property
    def signed(self) -> Decimal:
        if self.side is None:
            return ZERO
        return self.quantity if self.side is Side.BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class PlanDecision:
    """The legs, the notes that explain them, the position the legs that may be sent reach
    when they all fill (a refused leg is reported, and the report is then not ok) and whether
    the router's resting orders for the symbol are cancelled first."""

    legs: tuple[LegSpec, ...]
    notes: tuple[str, ...] = ()
    target: Decimal = ZERO
    cancel_resting: bool = False

    @property
    def refused(self) -> tuple[str, ...]:
        return tuple(leg.denied for leg in self.legs if leg.denied is not None)


def plan_legs(request: PlanRequest) -> PlanDecision:
    """The legs for one account and one symbol; see the module docstring for the rules."""
    if not request.position.is_finite():
        raise ValueError(f"position must be a finite number, got {request.position}")
    if request.kind is AccountKind.CASH and request.position < 0:
        raise ValueError(f"a cash account cannot hold {request.position}: it has no short")
    draft = _Draft(request)
    action = request.action
    if type(action) is not Action:  # the Enum call costs ~0.25 µs even for a member
        action = Action(action)  # a plain "buy" from a caller works too
    if action is Action.BUY or action is Action.SELL:
        _plan_signal(draft, Side.BUY if action is Action.BUY else Side.SELL)
    elif action is Action.EXIT:
        _plan_exit(draft)
    elif action is Action.ADD:
        _plan_add(draft)
    elif action is Action.REVERSE:
        _plan_reverse(draft)
    elif action is Action.CANCEL:
        draft.cancel_resting = True
        draft.legs.append(LegSpec(LegPurpose.CANCEL, None, ZERO))
    else:  # an action added to the model later must be planned here, never guessed
        raise ValueError(f"the planner has no rule for action {action.value!r}")
    sent = (leg.signed for leg in draft.legs if leg.denied is None)
    target = request.position + sum(sent, ZERO)
    return PlanDecision(tuple(draft.legs), tuple(draft.notes), target, draft.cancel_resting)


@dataclass(slots=True)
class _Draft:
    """The plan under construction and the facts every rule reads."""

    request: PlanRequest
    legs: list[LegSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancel_resting: bool = False

    @property
    def held(self) -> int:
        """+1 long, -1 short, 0 flat."""
        position = self.request.position
        return (position > 0) - (position < 0)

    @property
    def size(self) -> Decimal:
        return abs(self.request.position)

    @property
    def quantity(self) -> Decimal | None:
        return self.request.quantity

    def cap(self) -> Decimal | None:
        """How much a close may take from the alert: its own size, or ``None`` (all)."""
        if self.request.explicit or self.request.of_position:
            return self.quantity
        return None

    def cap_unsized(self, side: Side | None, leg: str) -> bool:
        """True (and the leg refused) when the alert gave a size that sizing could not turn
        into a quantity: a close must never take everything for want of a size."""
        if (self.request.explicit or self.request.of_position) and self.quantity is None:
            self.not_sized(LegPurpose.CLOSE, side, leg)
            return True
        return False

    def refuse(self, purpose: LegPurpose, side: Side | None, reason: str,
               quantity: Decimal | None = None) -> None:
        self.legs.append(LegSpec(purpose, side, quantity or ZERO, denied=reason))

    def not_sized(self, purpose: LegPurpose, side: Side | None, leg: str) -> None:
        reason = self.request.sizing_denial or f"{NOT_SIZED} for the {leg}"
        self.refuse(purpose, side, reason)

    # -- closing ----------------------------------------------------------------------------

    def close(self, limit: Decimal | None = None) -> bool:
        """A CLOSE of the whole position, or of ``limit`` of it; never more than is held.
        Returns whether a leg (sent or refused) was planned."""
        wanted = self.size if limit is None else min(limit, self.size)
        quantity = round_down(wanted, self.request.lot_size)
        side = Side.SELL if self.held > 0 else Side.BUY
        if quantity <= 0:
            self.notes.append(self._nothing_to_close(limit))
            return False
        if limit is None:
            self._note_dust(quantity)
        elif limit > self.size:
            self.notes.append(f"the alert's {_fmt(limit)} is capped at the "
                              f"{_word(self.held)} of {_fmt(self.size)}")
        leverage = None
        if self.request.kind is AccountKind.MARGIN:
            leverage = self.request.position_leverage or self.request.leverage
            if leverage is None:
                self.refuse(LegPurpose.CLOSE, side, "closing a margin position needs its "
                            "leverage, which the venue did not report: give leverage in the "
                            "alert or the account", quantity)
                return True
        self.legs.append(LegSpec(LegPurpose.CLOSE, side, quantity, reduce_only=True,
                                 leverage=leverage))
        return True

    def _nothing_to_close(self, limit: Decimal | None) -> str:
        held, lot = _fmt(self.size), _fmt(self.request.lot_size)
        if limit is None:
            return (f"the {_word(self.held)} of {held} is below the lot size {lot}: nothing "
                    f"to close (dust left)")
        return (f"reducing the {_word(self.held)} of {held} by {_fmt(limit)} rounds down to "
                f"zero at the lot size {lot}: nothing to close")

    def _note_dust(self, closing: Decimal) -> None:
        dust = self.size - closing
        if dust > 0:
            self.notes.append(f"{_fmt(dust)} left as dust below the lot size "
                              f"{_fmt(self.request.lot_size)}")

    def partial_close(self, side: Side) -> None:
        """Reduce the held position by the sized quantity, never beyond it."""
        if self.quantity is None:
            self.not_sized(LegPurpose.CLOSE, side, "partial close")
        elif self.quantity <= 0:
            self.notes.append(f"the sized quantity is {_fmt(self.quantity)}: nothing to close")
        else:
            self.close(self.quantity)

    # -- opening ----------------------------------------------------------------------------

    def open(self, side: Side, quantity: Decimal | None, *, after_fill: bool = False) -> None:
        """An OPEN leg; refused when unsized or when the account cannot hold the result."""
        if quantity is None:
            self.not_sized(LegPurpose.OPEN, side, "opening leg")
            return
        if quantity <= 0:
            self.notes.append(f"the sized quantity is {_fmt(quantity)}: nothing to open")
            return
        denied = self.cannot_open(side, quantity)
        leverage = self.request.leverage
        self.legs.append(LegSpec(LegPurpose.OPEN, side, quantity, denied=denied,
                                 leverage=leverage, after_fill=after_fill))

    def cannot_open(self, side: Side, quantity: Decimal) -> str | None:
        """Why this account must not open ``quantity`` on ``side``, or ``None``."""
        request = self.request
        if request.reduce_only:
            return (f"reduceOnly: opening a {_word(_direction(side))} of {_fmt(quantity)} is "
                    f"not allowed")
        if side is Side.SELL and request.kind is AccountKind.CASH:
            if self.held == 0:
                return (f"spot cash cannot short: the router holds nothing of this asset to "
                        f"sell (selling {_fmt(quantity)} would need a short)")
            return f"spot cash cannot short: the short of {_fmt(quantity)} is refused"
        if side is Side.SELL and not request.can_short:
            return f"this account cannot short: selling {_fmt(quantity)} would open a short"
        if request.kind is AccountKind.MARGIN and request.leverage is None:
            return (f"a margin {_word(_direction(side))} needs leverage: give leverage in the "
                    f"alert or the account (an order without it would trade the cash balance)")
        return None

    def close_then_open(self, side: Side, quantity: Decimal | None) -> None:
        """Leave the current position for one on ``side``: one FLIP order when allowed."""
        self.cancel_resting = True
        closing = round_down(self.size, self.request.lot_size)
        if (self.request.flip and quantity is not None and quantity > 0 and closing > 0
                and self.cannot_open(side, quantity) is None):
            self._note_dust(closing)
            self.legs.append(LegSpec(LegPurpose.FLIP, side, closing + quantity,
                                     leverage=self.request.leverage, opening=quantity))
            self.notes.append(f"one order closes the {_word(self.held)} and opens the "
                              f"{_word(-self.held)}")
            return
        closed = self.close()
        self.open(side, quantity, after_fill=closed)


def _plan_signal(draft: _Draft, side: Side) -> None:
    request, direction = draft.request, _direction(side)
    sentiment, held = request.sentiment, draft.held
    if request.reduce_only:
        if held != -direction:
            draft.refuse(LegPurpose.CLOSE, side, f"reduceOnly: nothing to reduce (the account "
                         f"is {_describe(request.position)})", draft.quantity)
        elif not draft.cap_unsized(side, "reduce-only close"):
            draft.close(draft.cap())
        return
    if sentiment is not None and sentiment.direction == 0:
        _flatten(draft, side, direction)
    elif sentiment is not None and sentiment.direction == -direction:
        if held != -direction:
            draft.refuse(LegPurpose.CLOSE, side, f"{side} with sentiment {sentiment} reduces a "
                         f"{_word(-direction)}, and the account is "
                         f"{_describe(request.position)}: nothing to reduce", draft.quantity)
        else:
            draft.partial_close(side)
    elif held == 0:
        draft.open(side, draft.quantity)
    elif held == direction:
        _add_or_hold(draft, side)
    else:
        _leave_opposite(draft, side)


def _flatten(draft: _Draft, side: Side, direction: int) -> None:
    """buy/sell with sentiment flat: close the opposite position, never open."""
    if draft.held == 0:
        draft.notes.append("already flat: nothing to close")
    elif draft.held == direction:
        draft.refuse(LegPurpose.CLOSE, side, f"{side} with sentiment flat closes a "
                     f"{_word(-direction)}, and the account is "
                     f"{_describe(draft.request.position)}: left alone")
    elif not draft.cap_unsized(side, "close"):
        limit = draft.cap()
        draft.cancel_resting = limit is None or limit >= draft.size
        draft.close(limit)


def _add_or_hold(draft: _Draft, side: Side) -> None:
    """The alert's side is already held: add, or with a sentiment, top up to its size."""
    request, quantity = draft.request, draft.quantity
    if request.sentiment is None or not request.explicit or quantity is None:
        draft.notes.append(f"adds to the existing {_word(draft.held)}")
        draft.open(side, quantity)
        return
    if draft.size >= quantity:
        draft.notes.append(f"already {_describe(request.position)}, at or beyond the alert's "
                           f"{_fmt(quantity)} (sentiment {request.sentiment}): nothing to add")
        return
    missing = round_down(quantity - draft.size, request.lot_size)
    draft.notes.append(f"tops the {_word(draft.held)} of {_fmt(draft.size)} up to the "
                       f"alert's {_fmt(quantity)}")
    draft.open(side, missing)


def _leave_opposite(draft: _Draft, side: Side) -> None:
    """The alert's side is the opposite of what is held: a partial close or a reversal."""
    request, quantity = draft.request, draft.quantity
    if request.of_position:
        draft.notes.append("percent_of_position against the position: a partial close")
        draft.partial_close(side)
    elif draft.cap_unsized(side, "close"):
        return  # the alert gave a size sizing could not produce: never close all instead
    elif request.kind is AccountKind.CASH and request.sentiment is None:
        # on a wallet a sell only ever reduces what is held; selling all of it is an exit
        limit = draft.cap()
        draft.cancel_resting = limit is None or limit >= draft.size
        draft.close(limit)
    elif (request.sentiment is None and request.explicit and quantity is not None
          and quantity < draft.size):
        draft.notes.append(f"{_fmt(quantity)} is less than the {_word(draft.held)} of "
                           f"{_fmt(draft.size)}: a partial exit, nothing reversed")
        draft.partial_close(side)
    elif not request.reverse:
        draft.cancel_resting = True
        draft.close()
        draft.notes.append(f"reverse is off: closed the {_word(draft.held)}, opened nothing")
    else:
        draft.close_then_open(side, quantity)


def _plan_exit(draft: _Draft) -> None:
    if draft.cap_unsized(None, "partial exit"):
        return
    limit = draft.cap()
    draft.cancel_resting = limit is None or limit >= draft.size  # a full exit is quiet too
    if draft.held == 0:
        draft.notes.append("already flat: nothing to close")
    else:
        draft.close(limit)


def _plan_add(draft: _Draft) -> None:
    sentiment = draft.request.sentiment
    if sentiment is not None and sentiment.direction == 0:
        draft.refuse(LegPurpose.OPEN, None, "add with sentiment flat contradicts itself: add "
                     "grows a position, flat closes it", draft.quantity)
        return
    wanted = sentiment.direction if sentiment is not None else 0
    direction = draft.held or wanted
    if direction == 0:
        draft.refuse(LegPurpose.OPEN, None, "add needs an open position or a sentiment",
                     draft.quantity)
        return
    if draft.held and wanted and wanted != draft.held:
        draft.refuse(LegPurpose.OPEN, None, f"add with sentiment {sentiment} while "
                     f"{_describe(draft.request.position)}: the sentiment contradicts the "
                     f"position", draft.quantity)
        return
    if draft.held:
        draft.notes.append(f"adds to the existing {_word(draft.held)}")
    draft.open(Side.BUY if direction > 0 else Side.SELL, draft.quantity)


def _plan_reverse(draft: _Draft) -> None:
    if draft.held == 0:
        draft.refuse(LegPurpose.OPEN, None, "no position to reverse", draft.quantity)
        return
    if draft.cap_unsized(None, "reversal"):
        return
    # without a size the new side mirrors the old, at a size the venue can take
    quantity = draft.quantity if draft.request.explicit else round_down(
        draft.size, draft.request.lot_size)
    draft.close_then_open(Side.SELL if draft.held > 0 else Side.BUY, quantity)


def _direction(side: Side) -> int:
    return 1 if side is Side.BUY else -1


def _word(direction: int) -> str:
    return "long" if direction > 0 else "short"


def _describe(position: Decimal) -> str:
    if position == 0:
        return "flat"
    return f"{_word(1 if position > 0 else -1)} {_fmt(abs(position))}"


def _fmt(value: Decimal) -> str:
    return format_decimal(value)
