"""Planning: every action x sentiment x position x reverse x can_short x single_order_flip
combination against a compact hand-written table, then the edge cases one by one."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from router_core.brokers import Capabilities
from router_core.models import Action, Sentiment
from router_core.planning import LegSpec, plan_legs

S = Sentiment
ALL_SENTIMENTS = (None, S.LONG, S.BULLISH, S.SHORT, S.BEARISH, S.FLAT)
LONGISH = (None, S.LONG, S.BULLISH)  # None or agreeing with a buy
SHORTISH = (None, S.SHORT, S.BEARISH)
UP = (S.LONG, S.BULLISH)
DOWN = (S.SHORT, S.BEARISH)
FLAT = (S.FLAT,)
BOTH = (True, False)
ON = (True,)
OFF = (False,)
POSITIONS = {"long": D(2), "short": D(-2), "flat": D(0)}
OPEN_QUANTITY = D(1)

# Each row: action, sentiments, positions, reverse, can_short, single_order_flip, legs.
# A leg is "purpose side quantity [ro] [denied]"; "-" is no side. Rows must not overlap and
# together must cover every combination (checked by test_table_covers_every_case_once).
TABLE = [
    # buy with no sentiment or a long one
    (Action.BUY, LONGISH, ("flat", "long"), BOTH, BOTH, BOTH, ["open buy 1"]),
    (Action.BUY, LONGISH, ("short",), ON, BOTH, OFF, ["close buy 2 ro", "open buy 1"]),
    (Action.BUY, LONGISH, ("short",), ON, BOTH, ON, ["flip buy 3"]),
    (Action.BUY, LONGISH, ("short",), OFF, BOTH, BOTH, ["close buy 2 ro"]),
    # buy + flat closes a short only
    (Action.BUY, FLAT, ("flat", "long"), BOTH, BOTH, BOTH, []),
    (Action.BUY, FLAT, ("short",), BOTH, BOTH, BOTH, ["close buy 2 ro"]),
    # buy + short sentiment: the strategy stays short, the short shrinks by the quantity
    (Action.BUY, DOWN, ("short",), BOTH, BOTH, BOTH, ["close buy 1 ro"]),
    (Action.BUY, DOWN, ("flat", "long"), BOTH, BOTH, BOTH, []),
    # sell, the mirror, where a venue that cannot short denies the opening sell
    (Action.SELL, SHORTISH, ("flat", "short"), BOTH, ON, BOTH, ["open sell 1"]),
    (Action.SELL, SHORTISH, ("flat", "short"), BOTH, OFF, BOTH, ["open sell 1 denied"]),
    (Action.SELL, SHORTISH, ("long",), ON, ON, OFF, ["close sell 2 ro", "open sell 1"]),
    (Action.SELL, SHORTISH, ("long",), ON, ON, ON, ["flip sell 3"]),
    (Action.SELL, SHORTISH, ("long",), ON, OFF, BOTH, ["close sell 2 ro", "open sell 1 denied"]),
    (Action.SELL, SHORTISH, ("long",), OFF, BOTH, BOTH, ["close sell 2 ro"]),
    (Action.SELL, FLAT, ("flat", "short"), BOTH, BOTH, BOTH, []),
    (Action.SELL, FLAT, ("long",), BOTH, BOTH, BOTH, ["close sell 2 ro"]),
    (Action.SELL, UP, ("long",), BOTH, BOTH, BOTH, ["close sell 1 ro"]),
    (Action.SELL, UP, ("flat", "short"), BOTH, BOTH, BOTH, []),
    # exit closes everything, whatever else the alert says
    (Action.EXIT, ALL_SENTIMENTS, ("long",), BOTH, BOTH, BOTH, ["close sell 2 ro"]),
    (Action.EXIT, ALL_SENTIMENTS, ("short",), BOTH, BOTH, BOTH, ["close buy 2 ro"]),
    (Action.EXIT, ALL_SENTIMENTS, ("flat",), BOTH, BOTH, BOTH, []),
    # add follows the position, or the sentiment when flat
    (Action.ADD, ALL_SENTIMENTS, ("long",), BOTH, BOTH, BOTH, ["open buy 1"]),
    (Action.ADD, ALL_SENTIMENTS, ("short",), BOTH, ON, BOTH, ["open sell 1"]),
    (Action.ADD, ALL_SENTIMENTS, ("short",), BOTH, OFF, BOTH, ["open sell 1 denied"]),
    (Action.ADD, UP, ("flat",), BOTH, BOTH, BOTH, ["open buy 1"]),
    (Action.ADD, DOWN, ("flat",), BOTH, ON, BOTH, ["open sell 1"]),
    (Action.ADD, DOWN, ("flat",), BOTH, OFF, BOTH, ["open sell 1 denied"]),
    (Action.ADD, (None, S.FLAT), ("flat",), BOTH, BOTH, BOTH, ["open - 1 denied"]),
    # reverse is explicit: the reverse setting does not apply
    (Action.REVERSE, ALL_SENTIMENTS, ("flat",), BOTH, BOTH, BOTH, ["open - 1 denied"]),
    (Action.REVERSE, ALL_SENTIMENTS, ("short",), BOTH, BOTH, OFF,
     ["close buy 2 ro", "open buy 1"]),
    (Action.REVERSE, ALL_SENTIMENTS, ("short",), BOTH, BOTH, ON, ["flip buy 3"]),
    (Action.REVERSE, ALL_SENTIMENTS, ("long",), BOTH, ON, OFF, ["close sell 2 ro", "open sell 1"]),
    (Action.REVERSE, ALL_SENTIMENTS, ("long",), BOTH, ON, ON, ["flip sell 3"]),
    (Action.REVERSE, ALL_SENTIMENTS, ("long",), BOTH, OFF, BOTH,
     ["close sell 2 ro", "open sell 1 denied"]),
    # cancel
    (Action.CANCEL, ALL_SENTIMENTS, tuple(POSITIONS), BOTH, BOTH, BOTH, ["cancel - 0"]),
]


def expand(table):
    for action, sentiments, positions, reverses, shorts, flips, legs in table:
        for case in itertools.product(sentiments, positions, reverses, shorts, flips):
            yield (action, *case), legs


CASES = list(expand(TABLE))


def case_id(key):
    action, sentiment, position, reverse, can_short, flip = key
    return (f"{action}-{sentiment or 'none'}-{position}-rev{int(reverse)}"
            f"-short{int(can_short)}-flip{int(flip)}")


def leg_text(leg: LegSpec) -> str:
    words = [leg.purpose.value, leg.side.value if leg.side else "-", format(leg.quantity, "f")]
    if leg.reduce_only:
        words.append("ro")
    if leg.denied:
        words.append("denied")
    return " ".join(words)


def caps(*, can_short: bool, reduce_only: bool = True, flip: bool = True) -> Capabilities:
    return Capabilities(can_short=can_short, net_position=can_short, reduce_only=reduce_only,
                        single_order_flip=flip)


@pytest.mark.parametrize(("key", "expected"), CASES, ids=[case_id(key) for key, _ in CASES])
def test_plan_table(key, expected):
    action, sentiment, position, reverse, can_short, flip = key
    # The router sizes nothing for an exit without a quantity: it closes the whole position.
    quantity = None if action is Action.EXIT else OPEN_QUANTITY
    decision = plan_legs(action=action, sentiment=sentiment, position=POSITIONS[position],
                         open_quantity=quantity, capabilities=caps(can_short=can_short),
                         reverse=reverse, single_order_flip=flip)
    assert [leg_text(leg) for leg in decision.legs] == expected
    if not decision.legs:
        assert decision.notes, "a plan without legs must say why"


def test_table_covers_every_case_once():
    keys = [key for key, _ in CASES]
    assert len(keys) == len(set(keys)), "two rows overlap"
    everything = set(itertools.product(Action, ALL_SENTIMENTS, POSITIONS, BOTH, BOTH, BOTH))
    assert set(keys) == everything
    assert len(keys) == 864


def plan(action, position, *, sentiment=None, quantity=OPEN_QUANTITY, can_short=True,
         reverse=True, flip=False, lot_size=D(0), capabilities=None):
    if action in (Action.EXIT, "exit") and quantity is OPEN_QUANTITY:
        quantity = None  # like the router: an exit without a quantity closes everything
    return plan_legs(action=action, sentiment=sentiment, position=D(position),
                     open_quantity=quantity,
                     capabilities=capabilities or caps(can_short=can_short),
                     reverse=reverse, single_order_flip=flip, lot_size=lot_size)


def texts(decision):
    return [leg_text(leg) for leg in decision.legs]


# --- notes and reasons -----------------------------------------------------------------------


@pytest.mark.parametrize(("action", "position", "sentiment", "note"), [
    (Action.BUY, 2, None, "adds to the existing long"),
    (Action.SELL, -2, S.SHORT, "adds to the existing short"),
    (Action.ADD, 2, None, "adds to the existing long"),
    (Action.BUY, 0, S.FLAT, "already flat: nothing to close"),
    (Action.EXIT, 0, None, "already flat: nothing to close"),
    (Action.SELL, -2, S.FLAT, "sell with sentiment flat: there is no long to close; "
                              "the short is left alone"),
    (Action.BUY, 2, S.FLAT, "buy with sentiment flat: there is no short to close; "
                            "the long is left alone"),
    (Action.BUY, 0, S.SHORT, "buy with sentiment short: there is no short to reduce"),
    (Action.SELL, 0, S.BULLISH, "sell with sentiment bullish: there is no long to reduce"),
])
def test_notes(action, position, sentiment, note):
    assert note in plan(action, position, sentiment=sentiment).notes


def test_reverse_off_note():
    decision = plan(Action.BUY, -2, reverse=False)
    assert decision.notes == ("reverse is off: closed the short, opened nothing",)
    decision = plan(Action.SELL, 2, reverse=False)
    assert decision.notes == ("reverse is off: closed the long, opened nothing",)


def test_flip_note():
    decision = plan(Action.BUY, -2, flip=True)
    assert decision.notes == ("one order closes the short and opens the long",)
    assert decision.legs[0].reduce_only is False


def test_denied_reasons():
    [leg] = plan(Action.SELL, 0, can_short=False).legs
    assert leg.denied == "venue cannot short; selling 1 beyond the long position would open a short"
    [leg] = plan(Action.ADD, 0).legs
    assert leg.denied == "add needs an open position or a sentiment"
    [leg] = plan(Action.REVERSE, 0).legs
    assert leg.denied == "no position to reverse"


# --- quantities ------------------------------------------------------------------------------


def test_flip_requested_but_not_supported_falls_back_to_two_legs():
    decision = plan(Action.BUY, -2, flip=True,
                    capabilities=caps(can_short=True, flip=False))
    assert texts(decision) == ["close buy 2 ro", "open buy 1"]


def test_reduce_only_follows_the_venue():
    decision = plan(Action.EXIT, 2, capabilities=caps(can_short=True, reduce_only=False))
    assert texts(decision) == ["close sell 2"]


def test_unsized_opening_leg_is_denied():
    [leg] = plan(Action.BUY, 0, quantity=None).legs
    assert leg_text(leg) == "open buy 0 denied"
    assert leg.denied == "no quantity was sized for the opening leg"
    decision = plan(Action.BUY, -2, quantity=None)
    assert texts(decision) == ["close buy 2 ro", "open buy 0 denied"]


def test_unsized_flip_falls_back_to_close_and_a_denied_open():
    decision = plan(Action.BUY, -2, quantity=None, flip=True)
    assert texts(decision) == ["close buy 2 ro", "open buy 0 denied"]


def test_zero_quantity_is_not_emitted():
    decision = plan(Action.BUY, 0, quantity=D(0))
    assert decision.legs == ()
    assert decision.notes == ("the sized quantity is 0: nothing to open",)
    assert texts(plan(Action.BUY, -2, quantity=D(0), flip=True)) == ["close buy 2 ro"]


def test_reverse_without_quantity_mirrors_the_position():
    assert texts(plan(Action.REVERSE, D("-2.5"), quantity=None)) == [
        "close buy 2.5 ro", "open buy 2.5"]
    assert texts(plan(Action.REVERSE, D("2.5"), quantity=None, flip=True)) == ["flip sell 5.0"]


def test_reduce_is_capped_at_the_position():
    decision = plan(Action.BUY, -2, sentiment=S.SHORT, quantity=D(5))
    assert texts(decision) == ["close buy 2 ro"]
    assert decision.notes == ("the reduction 5 is capped at the short of 2",)


def test_reduce_without_quantity_is_denied():
    [leg] = plan(Action.SELL, 2, sentiment=S.LONG, quantity=None).legs
    assert leg_text(leg) == "close sell 0 denied"


def test_exit_closes_the_quantity_asked_for():
    assert texts(plan(Action.EXIT, -7, quantity=D(1))) == ["close buy 1 ro"]
    assert texts(plan(Action.EXIT, -7, quantity=None)) == ["close buy 7 ro"]


def test_non_finite_position_is_refused():
    with pytest.raises(ValueError, match="position must be a finite number"):
        plan(Action.EXIT, D("NaN"))


# --- spot cash venues ------------------------------------------------------------------------

SPOT = Capabilities(can_short=False, net_position=False)


def test_spot_exit_leaves_dust_below_the_lot():
    decision = plan(Action.EXIT, D("0.123456789"), capabilities=SPOT, lot_size=D("0.0001"))
    assert texts(decision) == ["close sell 0.1234"]
    assert decision.notes == ("0.000056789 left as dust below the lot size 0.0001",)


def test_spot_dust_only_closes_nothing():
    decision = plan(Action.SELL, D("0.00005"), sentiment=S.FLAT, capabilities=SPOT,
                    lot_size=D("0.0001"))
    assert decision.legs == ()
    assert decision.notes == (
        "the long of 0.00005 is below the lot size 0.0001: nothing to close (dust left)",)


def test_spot_sell_with_reverse_closes_and_denies_the_short():
    decision = plan(Action.SELL, D("0.5"), capabilities=SPOT, lot_size=D("0.001"))
    assert texts(decision) == ["close sell 0.5", "open sell 1 denied"]


def test_spot_sell_with_reverse_off_closes_only():
    decision = plan(Action.SELL, D("0.5"), capabilities=SPOT, reverse=False)
    assert texts(decision) == ["close sell 0.5"]


def test_spot_sell_from_nothing_is_a_denied_short():
    decision = plan(Action.SELL, 0, capabilities=SPOT)
    assert texts(decision) == ["open sell 1 denied"]
    assert decision.legs[0].denied.startswith("venue cannot short; ")


def test_spot_buy_opens():
    assert texts(plan(Action.BUY, 0, capabilities=SPOT)) == ["open buy 1"]


def test_a_reduction_below_the_lot_closes_nothing():
    decision = plan(Action.SELL, D("0.5"), sentiment=S.LONG, quantity=D("0.00001"),
                    lot_size=D("0.001"))
    assert decision.legs == ()
    assert decision.notes == (
        "reducing the long of 0.5 by 0.00001 rounds down to zero at the lot size 0.001: "
        "nothing to close",)


def test_a_flip_notes_the_dust_it_leaves():
    decision = plan(Action.BUY, D("-2.0005"), flip=True, lot_size=D("0.001"))
    assert texts(decision) == ["flip buy 3.000"]
    assert decision.notes == ("0.0005 left as dust below the lot size 0.001",
                              "one order closes the short and opens the long")


def test_plain_string_actions_are_accepted_and_unknown_ones_refused():
    assert texts(plan("exit", 2)) == ["close sell 2 ro"]
    with pytest.raises(ValueError, match="'breakeven' is not a valid Action"):
        plan("breakeven", 2)


@pytest.mark.parametrize(
    ("position", "quantity", "expected"),
    [
        (D(3), D(1), ["close sell 1 ro"]),  # part of a long
        (D(-3), D("1.5"), ["close buy 1.5 ro"]),  # part of a short
        (D(3), D(5), ["close sell 3 ro"]),  # capped at the position
        (D(3), None, ["close sell 3 ro"]),  # no quantity: all of it
    ],
)
def test_exit_with_a_quantity_closes_that_much(position, quantity, expected):
    decision = plan_legs(action=Action.EXIT, sentiment=None, position=position,
                         open_quantity=quantity, capabilities=caps(can_short=True))
    assert [leg_text(leg) for leg in decision.legs] == expected
