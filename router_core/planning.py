"""Planning: an alert's action + the current position -> the legs to send, in order.

A pure function on a net-position model: ``position`` is signed (+long, -short, 0 flat). On a
spot cash venue (``can_short`` and ``net_position`` both off) the position is the base asset
held, so it is never negative and any sell that is not a close would open a short.

Rules, for ``buy`` (``sell`` is the mirror image):

* no sentiment, or one that agrees with the side: flat or long -> OPEN buy (an add when
  long). Short -> CLOSE the short, then OPEN buy; or one FLIP order when the caller asks for
  it and the venue can; with ``reverse`` off only the CLOSE.
* sentiment ``flat``: CLOSE only (buy closes a short); nothing to close -> a note.
* sentiment against the side (buy + short/bearish): the strategy stays short after the
  signal, so it only reduces the short by ``open_quantity`` (capped at the position).

``exit`` closes the whole position; ``add`` opens in the position's direction (or the
sentiment's when flat); ``reverse`` closes and opens the other side (``open_quantity``, or the
closed size when unset) whatever the ``reverse`` setting says, because the alert asks for it
explicitly; ``cancel`` is one CANCEL leg. An OPEN sell on a venue that cannot short is kept
as a denied leg so the report says why nothing was opened. CLOSE quantities never exceed
``|position|`` and round down to ``lot_size`` (the dust below one step stays, with a note).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .decimals import format_decimal, round_down
from .models import Action, LegPurpose, Sentiment, Side

if TYPE_CHECKING:  # brokers.py imports pydantic; the planner only reads two flags
    from .brokers import Capabilities

ZERO = Decimal(0)


# The start of every denial that only means "sizing gave no quantity"; the router replaces
# it with the sizing step's own reason.
NOT_SIZED = "no quantity was sized"

@dataclass(frozen=True, slots=True)
class LegSpec:
    """One leg of the plan.

    ``quantity`` is positive for every leg that may be sent; a CANCEL leg, and a denied leg
    that had no quantity, carry zero. ``side`` is ``None`` for CANCEL and for a denied leg
    whose direction could not be known. ``denied`` holds the reason a leg must not be sent.
    """

    purpose: LegPurpose
    side: Side | None
    quantity: Decimal
    reduce_only: bool = False
    denied: str | None = None


@dataclass(frozen=True, slots=True)
class PlanDecision:
    legs: tuple[LegSpec, ...]
    notes: tuple[str, ...] = ()


def plan_legs(*, action: Action, sentiment: Sentiment | None, position: Decimal,
              open_quantity: Decimal | None, capabilities: Capabilities,
              reverse: bool = True, single_order_flip: bool = False,
              lot_size: Decimal = ZERO) -> PlanDecision:
    """The legs for one account and one symbol; see the module docstring for the rules.

    ``open_quantity`` is the sized quantity of an opening leg (``None`` when sizing did not
    apply; an opening leg then is denied); for ``exit`` it is the quantity to close (``None``:
    the whole position), capped at the position. ``single_order_flip`` asks for one FLIP order
    instead of CLOSE + OPEN; it is used only when ``capabilities.single_order_flip`` is set.
    """
    if not position.is_finite():
        raise ValueError(f"position must be a finite number, got {position}")
    action = Action(action)  # a plain "buy" from a caller works too
    draft = _Draft(position=position, open_quantity=open_quantity, capabilities=capabilities,
                   lot_size=lot_size,
                   flip=single_order_flip and capabilities.single_order_flip)
    if action is Action.BUY or action is Action.SELL:
        _plan_signal(draft, Side(action.value), sentiment, reverse)
    elif action is Action.EXIT:
        _plan_exit(draft)
    elif action is Action.ADD:
        _plan_add(draft, sentiment)
    elif action is Action.REVERSE:
        _plan_reverse(draft)
    elif action is Action.CANCEL:
        draft.legs.append(LegSpec(LegPurpose.CANCEL, None, ZERO))
    else:  # an action added to the model later must be planned here, never guessed
        raise ValueError(f"the planner has no rule for action {action.value!r}")
    return PlanDecision(legs=tuple(draft.legs), notes=tuple(draft.notes))


@dataclass(slots=True)
class _Draft:
    """The plan under construction and the facts every rule reads."""

    position: Decimal
    open_quantity: Decimal | None
    capabilities: Capabilities
    lot_size: Decimal
    flip: bool
    legs: list[LegSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def held(self) -> int:
        """+1 long, -1 short, 0 flat."""
        return (self.position > 0) - (self.position < 0)

    def closable(self, limit: Decimal | None = None) -> Decimal:
        """How much a CLOSE may take: ``|position|`` (or ``limit``, capped), down to the lot."""
        size = abs(self.position) if limit is None else min(limit, abs(self.position))
        return round_down(size, self.lot_size)

    def close(self, limit: Decimal | None = None) -> None:
        """A CLOSE of the whole position, or of ``limit`` of it; never more than is held."""
        quantity = self.closable(limit)
        if quantity <= 0:
            self.notes.append(self._nothing_to_close(limit))
            return
        if limit is None:
            self._note_dust(quantity)
        side = Side.SELL if self.held > 0 else Side.BUY
        self.legs.append(LegSpec(LegPurpose.CLOSE, side, quantity,
                                 reduce_only=self.capabilities.reduce_only))

    def _nothing_to_close(self, limit: Decimal | None) -> str:
        held, lot = _fmt(abs(self.position)), _fmt(self.lot_size)
        if limit is None:
            return (f"the {_word(self.held)} of {held} is below the lot size {lot}: nothing "
                    f"to close (dust left)")
        return (f"reducing the {_word(self.held)} of {held} by {_fmt(limit)} rounds down to "
                f"zero at the lot size {lot}: nothing to close")

    def _note_dust(self, closing: Decimal) -> None:
        dust = abs(self.position) - closing
        if dust > 0:
            self.notes.append(f"{_fmt(dust)} left as dust below the lot size "
                              f"{_fmt(self.lot_size)}")

    def open(self, side: Side, quantity: Decimal | None) -> None:
        """An OPEN leg; denied when unsized or a short the venue cannot hold."""
        if quantity is None:
            self.legs.append(LegSpec(LegPurpose.OPEN, side, ZERO,
                                     denied=f"{NOT_SIZED} for the opening leg"))
            return
        if quantity <= 0:
            self.notes.append(f"the sized quantity is {_fmt(quantity)}: nothing to open")
            return
        denied = None if self.can_open(side) else _cannot_short(quantity)
        self.legs.append(LegSpec(LegPurpose.OPEN, side, quantity, denied=denied))

    def can_open(self, side: Side) -> bool:
        return side is Side.BUY or self.capabilities.can_short

    def close_then_open(self, side: Side, quantity: Decimal | None) -> None:
        """Leave the current position for one on ``side``: one FLIP order when allowed."""
        closing = self.closable()
        if (self.flip and quantity is not None and quantity > 0 and closing > 0
                and self.can_open(side)):
            self._note_dust(closing)
            self.legs.append(LegSpec(LegPurpose.FLIP, side, closing + quantity))
            self.notes.append(f"one order closes the {_word(self.held)} and opens the "
                              f"{_word(-self.held)}")
            return
        self.close()
        self.open(side, quantity)


def _plan_signal(draft: _Draft, side: Side, sentiment: Sentiment | None,
                 reverse: bool) -> None:
    direction = 1 if side is Side.BUY else -1
    held = draft.held
    if sentiment is not None and sentiment.direction == 0:
        _flatten(draft, side, direction)
    elif sentiment is not None and sentiment.direction == -direction:
        _reduce(draft, side, direction, sentiment)
    elif held != -direction:
        if held == direction:
            draft.notes.append(f"adds to the existing {_word(held)}")
        draft.open(side, draft.open_quantity)
    elif reverse:
        draft.close_then_open(side, draft.open_quantity)
    else:
        draft.close()
        draft.notes.append(f"reverse is off: closed the {_word(held)}, opened nothing")


def _flatten(draft: _Draft, side: Side, direction: int) -> None:
    """buy/sell with sentiment flat: close the opposite position, never open."""
    if draft.held == 0:
        draft.notes.append("already flat: nothing to close")
    elif draft.held == direction:
        draft.notes.append(f"{side} with sentiment flat: there is no {_word(-direction)} to "
                           f"close; the {_word(direction)} is left alone")
    else:
        draft.close()


def _reduce(draft: _Draft, side: Side, direction: int, sentiment: Sentiment) -> None:
    """buy + short sentiment (or the mirror): the strategy stays short, only smaller."""
    if draft.held != -direction:
        draft.notes.append(f"{side} with sentiment {sentiment}: there is no "
                           f"{_word(-direction)} to reduce")
        return
    if draft.open_quantity is None:
        draft.legs.append(LegSpec(LegPurpose.CLOSE, side, ZERO,
                                  denied=f"{NOT_SIZED} for the partial close"))
        return
    if draft.open_quantity <= 0:
        draft.notes.append(f"the sized quantity is {_fmt(draft.open_quantity)}: nothing to "
                           f"close")
        return
    if draft.open_quantity > abs(draft.position):
        draft.notes.append(f"the reduction {_fmt(draft.open_quantity)} is capped at the "
                           f"{_word(draft.held)} of {_fmt(abs(draft.position))}")
    draft.close(draft.open_quantity)


def _plan_exit(draft: _Draft) -> None:
    if draft.held == 0:
        draft.notes.append("already flat: nothing to close")
    else:
        draft.close(draft.open_quantity)  # None: the whole position


def _plan_add(draft: _Draft, sentiment: Sentiment | None) -> None:
    direction = draft.held or (sentiment.direction if sentiment is not None else 0)
    if direction == 0:
        quantity = draft.open_quantity if draft.open_quantity is not None else ZERO
        draft.legs.append(LegSpec(LegPurpose.OPEN, None, quantity,
                                  denied="add needs an open position or a sentiment"))
        return
    if draft.held:
        draft.notes.append(f"adds to the existing {_word(draft.held)}")
    draft.open(Side.BUY if direction > 0 else Side.SELL, draft.open_quantity)


def _plan_reverse(draft: _Draft) -> None:
    if draft.held == 0:
        quantity = draft.open_quantity if draft.open_quantity is not None else ZERO
        draft.legs.append(LegSpec(LegPurpose.OPEN, None, quantity,
                                  denied="no position to reverse"))
        return
    quantity = draft.open_quantity if draft.open_quantity is not None else abs(draft.position)
    draft.close_then_open(Side.SELL if draft.held > 0 else Side.BUY, quantity)


def _cannot_short(quantity: Decimal) -> str:
    return (f"venue cannot short; selling {_fmt(quantity)} beyond the long position would "
            f"open a short")


def _word(direction: int) -> str:
    return "long" if direction > 0 else "short"


def _fmt(value: Decimal) -> str:
    return format_decimal(value)
