"""Planning: every action x sentiment x position x account kind x reverse x flip x way of
sizing against a compact hand-written table, then the rules and the examples of
docs/order-semantics.md one by one."""

from __future__ import annotations

import functools
import itertools
from decimal import Decimal as D

import pytest

from router_core.decimals import format_decimal
from router_core.models import AccountKind, Action, LegPurpose, Sentiment
from router_core.planning import LegSpec, PlanDecision, PlanRequest, plan_legs

S = Sentiment
ALL_SENTIMENTS = (None, S.LONG, S.BULLISH, S.SHORT, S.BEARISH, S.FLAT)
NONE = (None,)
UP = (S.LONG, S.BULLISH)
DOWN = (S.SHORT, S.BEARISH)
FLAT = (S.FLAT,)
LONGISH = NONE + UP  # none, or agreeing with a buy
SHORTISH = NONE + DOWN
BOTH = (True, False)
ON = (True,)
OFF = (False,)
POSITIONS = {"long": D(2), "short": D(-2), "flat": D(0)}
ALL_POSITIONS = tuple(POSITIONS)

# net: futures; margin: spot margin with leverage 2 on the account; cash: a spot wallet (never
# short, so its "short" cells do not exist). Margin without leverage is checked against margin
# with it (test_margin_without_leverage_refuses_every_leg), not in the table.
KINDS = {"net": (AccountKind.NET, None), "margin": (AccountKind.MARGIN, D(2)),
         "cash": (AccountKind.CASH, None)}
ANY_KIND = tuple(KINDS)
NOT_CASH = ("net", "margin")
CASH = ("cash",)

# How the alert is sized. "none": the alert gives no size (buy, sell and add get the account's
# default 1; exit, reverse and cancel get nothing, like the router). "qty": the alert says 1.
# "pct": percent_of_position, sized to 1. "ro": reduceOnly, no size in the alert.
MODES = ("none", "qty", "pct", "ro")
SIZED = frozenset({Action.BUY, Action.SELL, Action.ADD})
EXPLICIT = ("qty", "pct")
NOT_RO = ("none", "qty", "pct")
ANY_MODE = MODES
RO = ("ro",)
NO_SIZE = ("none",)
QTY = ("qty",)
PCT = ("pct",)

# A leg is "purpose side quantity [ro] [after] [denied]" ("-": no side; "after": waits for the
# previous leg to fill). CANCELS heads the list when the router's resting orders are cancelled
# first. Each row: action, sentiments, positions, kinds, reverse, flip, modes, legs. Rows must
# not overlap and together cover every case (test_table_covers_every_case_once).
CANCELS = "(cancel resting)"
B, Se, X, A, R, C = Action.BUY, Action.SELL, Action.EXIT, Action.ADD, Action.REVERSE, Action.CANCEL
TABLE = [
    # -- buy --------------------------------------------------------------------------------
    # reduceOnly only ever closes a short (all of it: the alert gave no size)
    (B, ALL_SENTIMENTS, ("flat", "long"), ANY_KIND, BOTH, BOTH, RO, ["close buy 1 denied"]),
    (B, ALL_SENTIMENTS, ("short",), ANY_KIND, BOTH, BOTH, RO, ["close buy 2 ro"]),
    # sentiment flat closes a short (all, or the alert's size) and never opens
    (B, FLAT, ("flat",), ANY_KIND, BOTH, BOTH, NOT_RO, []),
    (B, FLAT, ("long",), ANY_KIND, BOTH, BOTH, NOT_RO, ["close buy 0 denied"]),
    (B, FLAT, ("short",), ANY_KIND, BOTH, BOTH, NO_SIZE, [CANCELS, "close buy 2 ro"]),
    (B, FLAT, ("short",), ANY_KIND, BOTH, BOTH, EXPLICIT, ["close buy 1 ro"]),
    # sentiment short: still short afterwards, so the short shrinks by the quantity
    (B, DOWN, ("flat", "long"), ANY_KIND, BOTH, BOTH, NOT_RO, ["close buy 1 denied"]),
    (B, DOWN, ("short",), ANY_KIND, BOTH, BOTH, NOT_RO, ["close buy 1 ro"]),
    # no sentiment, or one that agrees: open, add, or hold at the alert's size
    (B, LONGISH, ("flat",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open buy 1"]),
    (B, NONE, ("long",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open buy 1"]),
    (B, UP, ("long",), ANY_KIND, BOTH, BOTH, NO_SIZE, ["open buy 1"]),
    (B, UP, ("long",), ANY_KIND, BOTH, BOTH, EXPLICIT, []),  # long 2 is already >= 1
    # ... against a short: a partial close, or a reversal
    (B, LONGISH, ("short",), ANY_KIND, BOTH, BOTH, PCT, ["close buy 1 ro"]),
    (B, NONE, ("short",), ANY_KIND, BOTH, BOTH, QTY, ["close buy 1 ro"]),  # 1 < short 2
    (B, LONGISH, ("short",), ANY_KIND, OFF, BOTH, NO_SIZE, [CANCELS, "close buy 2 ro"]),
    (B, UP, ("short",), ANY_KIND, OFF, BOTH, QTY, [CANCELS, "close buy 2 ro"]),
    (B, LONGISH, ("short",), ANY_KIND, ON, ON, NO_SIZE, [CANCELS, "flip buy 3"]),
    (B, UP, ("short",), ANY_KIND, ON, ON, QTY, [CANCELS, "flip buy 3"]),
    (B, LONGISH, ("short",), ANY_KIND, ON, OFF, NO_SIZE,
     [CANCELS, "close buy 2 ro", "open buy 1 after"]),
    (B, UP, ("short",), ANY_KIND, ON, OFF, QTY, [CANCELS, "close buy 2 ro", "open buy 1 after"]),
    # -- sell: the mirror image, where a cash account has no short ------------------------------
    (Se, ALL_SENTIMENTS, ("flat", "short"), ANY_KIND, BOTH, BOTH, RO, ["close sell 1 denied"]),
    (Se, ALL_SENTIMENTS, ("long",), ANY_KIND, BOTH, BOTH, RO, ["close sell 2 ro"]),
    (Se, FLAT, ("flat",), ANY_KIND, BOTH, BOTH, NOT_RO, []),
    (Se, FLAT, ("short",), ANY_KIND, BOTH, BOTH, NOT_RO, ["close sell 0 denied"]),
    (Se, FLAT, ("long",), ANY_KIND, BOTH, BOTH, NO_SIZE, [CANCELS, "close sell 2 ro"]),
    (Se, FLAT, ("long",), ANY_KIND, BOTH, BOTH, EXPLICIT, ["close sell 1 ro"]),
    (Se, UP, ("flat", "short"), ANY_KIND, BOTH, BOTH, NOT_RO, ["close sell 1 denied"]),
    (Se, UP, ("long",), ANY_KIND, BOTH, BOTH, NOT_RO, ["close sell 1 ro"]),
    (Se, SHORTISH, ("flat",), NOT_CASH, BOTH, BOTH, NOT_RO, ["open sell 1"]),
    (Se, SHORTISH, ("flat",), CASH, BOTH, BOTH, NOT_RO, ["open sell 1 denied"]),
    (Se, NONE, ("short",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open sell 1"]),
    (Se, DOWN, ("short",), ANY_KIND, BOTH, BOTH, NO_SIZE, ["open sell 1"]),
    (Se, DOWN, ("short",), ANY_KIND, BOTH, BOTH, EXPLICIT, []),
    (Se, SHORTISH, ("long",), ANY_KIND, BOTH, BOTH, PCT, ["close sell 1 ro"]),
    (Se, NONE, ("long",), ANY_KIND, BOTH, BOTH, QTY, ["close sell 1 ro"]),
    # on cash a plain sell only sells what is held (see test_cash_full_sale_cancels_resting)
    (Se, NONE, ("long",), CASH, BOTH, BOTH, NO_SIZE, [CANCELS, "close sell 2 ro"]),
    (Se, SHORTISH, ("long",), NOT_CASH, OFF, BOTH, NO_SIZE, [CANCELS, "close sell 2 ro"]),
    (Se, DOWN, ("long",), NOT_CASH, OFF, BOTH, QTY, [CANCELS, "close sell 2 ro"]),
    (Se, SHORTISH, ("long",), NOT_CASH, ON, ON, NO_SIZE, [CANCELS, "flip sell 3"]),
    (Se, DOWN, ("long",), NOT_CASH, ON, ON, QTY, [CANCELS, "flip sell 3"]),
    (Se, SHORTISH, ("long",), NOT_CASH, ON, OFF, NO_SIZE,
     [CANCELS, "close sell 2 ro", "open sell 1 after"]),
    (Se, DOWN, ("long",), NOT_CASH, ON, OFF, QTY,
     [CANCELS, "close sell 2 ro", "open sell 1 after"]),
    # sentiment short on cash: sell everything, the short part refused (no single flip order)
    (Se, DOWN, ("long",), CASH, OFF, BOTH, ("none", "qty"), [CANCELS, "close sell 2 ro"]),
    (Se, DOWN, ("long",), CASH, ON, BOTH, ("none", "qty"),
     [CANCELS, "close sell 2 ro", "open sell 1 after denied"]),
    # -- exit closes all (cancelling the resting orders first) or the alert's size ------------
    (X, ALL_SENTIMENTS, ("flat",), ANY_KIND, BOTH, BOTH, ANY_MODE, [CANCELS]),
    (X, ALL_SENTIMENTS, ("long",), ANY_KIND, BOTH, BOTH, ("none", "ro"),
     [CANCELS, "close sell 2 ro"]),
    (X, ALL_SENTIMENTS, ("short",), ANY_KIND, BOTH, BOTH, ("none", "ro"),
     [CANCELS, "close buy 2 ro"]),
    (X, ALL_SENTIMENTS, ("long",), ANY_KIND, BOTH, BOTH, EXPLICIT, ["close sell 1 ro"]),
    (X, ALL_SENTIMENTS, ("short",), ANY_KIND, BOTH, BOTH, EXPLICIT, ["close buy 1 ro"]),
    # -- add grows the position, or opens in the sentiment's direction when flat ---------------
    (A, LONGISH, ("long",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open buy 1"]),
    (A, LONGISH, ("long",), ANY_KIND, BOTH, BOTH, RO, ["open buy 1 denied"]),
    (A, SHORTISH, ("short",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open sell 1"]),
    (A, SHORTISH, ("short",), ANY_KIND, BOTH, BOTH, RO, ["open sell 1 denied"]),
    # add grows a position and flat closes one: the alert contradicts itself
    (A, FLAT, ("long", "short"), ANY_KIND, BOTH, BOTH, ANY_MODE, ["open - 1 denied"]),
    (A, DOWN, ("long",), ANY_KIND, BOTH, BOTH, ANY_MODE, ["open - 1 denied"]),
    (A, UP, ("short",), ANY_KIND, BOTH, BOTH, ANY_MODE, ["open - 1 denied"]),
    (A, UP, ("flat",), ANY_KIND, BOTH, BOTH, NOT_RO, ["open buy 1"]),
    (A, UP, ("flat",), ANY_KIND, BOTH, BOTH, RO, ["open buy 1 denied"]),
    (A, DOWN, ("flat",), NOT_CASH, BOTH, BOTH, NOT_RO, ["open sell 1"]),
    (A, DOWN, ("flat",), NOT_CASH, BOTH, BOTH, RO, ["open sell 1 denied"]),
    (A, DOWN, ("flat",), CASH, BOTH, BOTH, ANY_MODE, ["open sell 1 denied"]),
    (A, (None, S.FLAT), ("flat",), ANY_KIND, BOTH, BOTH, ANY_MODE, ["open - 1 denied"]),
    # -- reverse: the reverse setting does not apply; no size in the alert mirrors the position -
    (R, ALL_SENTIMENTS, ("flat",), ANY_KIND, BOTH, BOTH, ("none", "ro"), ["open - 0 denied"]),
    (R, ALL_SENTIMENTS, ("flat",), ANY_KIND, BOTH, BOTH, EXPLICIT, ["open - 1 denied"]),
    (R, ALL_SENTIMENTS, ("long",), NOT_CASH, BOTH, ON, NO_SIZE, [CANCELS, "flip sell 4"]),
    (R, ALL_SENTIMENTS, ("long",), NOT_CASH, BOTH, ON, EXPLICIT, [CANCELS, "flip sell 3"]),
    (R, ALL_SENTIMENTS, ("short",), NOT_CASH, BOTH, ON, NO_SIZE, [CANCELS, "flip buy 4"]),
    (R, ALL_SENTIMENTS, ("short",), NOT_CASH, BOTH, ON, EXPLICIT, [CANCELS, "flip buy 3"]),
    (R, ALL_SENTIMENTS, ("long",), NOT_CASH, BOTH, OFF, NO_SIZE,
     [CANCELS, "close sell 2 ro", "open sell 2 after"]),
    (R, ALL_SENTIMENTS, ("long",), NOT_CASH, BOTH, OFF, EXPLICIT,
     [CANCELS, "close sell 2 ro", "open sell 1 after"]),
    (R, ALL_SENTIMENTS, ("short",), NOT_CASH, BOTH, OFF, NO_SIZE,
     [CANCELS, "close buy 2 ro", "open buy 2 after"]),
    (R, ALL_SENTIMENTS, ("short",), NOT_CASH, BOTH, OFF, EXPLICIT,
     [CANCELS, "close buy 2 ro", "open buy 1 after"]),
    # reduceOnly never opens, and cash never shorts: the close goes, the open is refused
    (R, ALL_SENTIMENTS, ("long",), NOT_CASH, BOTH, BOTH, RO,
     [CANCELS, "close sell 2 ro", "open sell 2 after denied"]),
    (R, ALL_SENTIMENTS, ("short",), NOT_CASH, BOTH, BOTH, RO,
     [CANCELS, "close buy 2 ro", "open buy 2 after denied"]),
    (R, ALL_SENTIMENTS, ("long",), CASH, BOTH, BOTH, ("none", "ro"),
     [CANCELS, "close sell 2 ro", "open sell 2 after denied"]),
    (R, ALL_SENTIMENTS, ("long",), CASH, BOTH, BOTH, EXPLICIT,
     [CANCELS, "close sell 2 ro", "open sell 1 after denied"]),
    # -- cancel ---------------------------------------------------------------------------------
    (C, ALL_SENTIMENTS, ALL_POSITIONS, ANY_KIND, BOTH, BOTH, ANY_MODE, [CANCELS, "cancel - 0"]),
]


def exists(position: str, kind: str) -> bool:
    return not (kind == "cash" and position == "short")


def expand(table):
    for action, sentiments, positions, kinds, reverses, flips, modes, legs in table:
        for case in itertools.product(sentiments, positions, kinds, reverses, flips, modes):
            if exists(case[1], case[2]):
                yield (action, *case), legs


CASES = list(expand(TABLE))


def case_id(key) -> str:
    action, sentiment, position, kind, reverse, flip, mode = key
    return (f"{action}-{sentiment or 'none'}-{position}-{kind}-rev{int(reverse)}"
            f"-flip{int(flip)}-{mode}")


def request(key, **changes) -> PlanRequest:
    """The request for one cell of the table (``changes`` override any field)."""
    action, sentiment, position, kind, reverse, flip, mode = key
    account_kind, leverage = KINDS[kind]
    quantity = D(1) if action in SIZED or mode in EXPLICIT else None
    fields = dict(action=action, sentiment=sentiment, position=POSITIONS[position],
                  quantity=quantity, explicit=mode in EXPLICIT, of_position=mode == "pct",
                  reduce_only=mode == "ro", kind=account_kind, reverse=reverse, flip=flip,
                  leverage=leverage)
    return PlanRequest(**{**fields, **changes})


def leg_text(leg: LegSpec) -> str:
    words = [leg.purpose.value, leg.side.value if leg.side else "-", format_decimal(leg.quantity)]
    words += [word for word, on in (("ro", leg.reduce_only), ("after", leg.after_fill),
                                    ("denied", leg.denied is not None)) if on]
    return " ".join(words)


def texts(decision: PlanDecision) -> list[str]:
    head = [CANCELS] if decision.cancel_resting else []
    return head + [leg_text(leg) for leg in decision.legs]


def signed_sum(decision: PlanDecision) -> D:
    """What the legs that may be sent add to the position when they fill."""
    return sum((leg.signed for leg in decision.legs if leg.denied is None), D(0))


@pytest.mark.parametrize(("key", "expected"), CASES, ids=[case_id(key) for key, _ in CASES])
def test_plan_table(key, expected):
    req = request(key)
    decision = plan_legs(req)
    assert texts(decision) == expected
    assert decision.target == req.position + signed_sum(decision)
    if not decision.legs:
        assert decision.notes, "a plan without legs must say why"
    for leg in decision.legs:
        if leg.denied is None and leg.side is not None:
            assert leg.leverage == req.leverage  # margin legs carry it, net and cash none


def test_table_covers_every_case_once():
    keys = [key for key, _ in CASES]
    assert len(keys) == len(set(keys)), "two rows overlap"
    everything = {key for key in itertools.product(Action, ALL_SENTIMENTS, POSITIONS, KINDS,
                                                   BOTH, BOTH, MODES) if exists(key[2], key[3])}
    assert set(keys) == everything
    assert len(keys) == 6 * 6 * 8 * 2 * 2 * 4


@pytest.mark.parametrize("key", [key for key, _ in CASES if key[3] == "margin"], ids=case_id)
def test_margin_without_leverage_refuses_every_leg(key):
    """The same legs as with leverage (two where one flip order would go: a flip needs
    leverage too), every one refused, naming leverage when nothing else refused it first."""
    with_leverage = plan_legs(request(key, flip=False))
    without = plan_legs(request(key, leverage=None))
    shape = [(leg.purpose, leg.side, leg.quantity, leg.after_fill) for leg in without.legs]
    assert shape == [(leg.purpose, leg.side, leg.quantity, leg.after_fill)
                     for leg in with_leverage.legs]
    assert without.cancel_resting == with_leverage.cancel_resting
    for leg, levered in zip(without.legs, with_leverage.legs, strict=True):
        if leg.purpose is LegPurpose.CANCEL:
            continue
        assert leg.denied is not None
        if levered.denied is None:
            assert "needs leverage" in leg.denied or "needs its leverage" in leg.denied


def plan(action, position, *, sentiment=None, quantity=D(1), explicit=False, kind="net",
         **fields) -> PlanDecision:
    account_kind, leverage = KINDS[kind]
    fields.setdefault("leverage", leverage)
    return plan_legs(PlanRequest(action=action, sentiment=sentiment, position=D(position),
                                 quantity=quantity, explicit=explicit, kind=account_kind,
                                 **fields))


def alert(*args, **fields) -> functools.partial[PlanDecision]:
    """A plan to make inside the test that reads it (a parametrize list plans nothing)."""
    return functools.partial(plan, *args, **fields)


def legs(decision: PlanDecision) -> list[str]:
    return [leg_text(leg) for leg in decision.legs]


# --- the examples of docs/order-semantics.md ------------------------------------------------

# venue, before, alert (as request fields), the legs sent or refused, the position after them.
DOC_EXAMPLES = [
    ("futures", 0, dict(action=B, quantity=D(2), explicit=True), ["open buy 2"], 2),
    ("futures", 2, dict(action=Se, quantity=D(2), explicit=True, sentiment=S.SHORT, flip=True),
     ["flip sell 4"], -2),
    ("futures", 2, dict(action=Se, quantity=D(2), explicit=True, sentiment=S.SHORT),
     ["close sell 2 ro", "open sell 2 after"], -2),
    ("futures", 2, dict(action=Se, quantity=D(1), explicit=True), ["close sell 1 ro"], 1),
    ("futures", 2, dict(action=Se, sentiment=S.FLAT), ["close sell 2 ro"], 0),
    ("futures", 0, dict(action=Se, quantity=D(1), explicit=True, reduce_only=True),
     ["close sell 1 denied"], 0),
    ("futures", 2, dict(action=X, quantity=None), ["close sell 2 ro"], 0),
    ("futures", 2, dict(action=Se, quantity=D(1), explicit=True, of_position=True),
     ["close sell 1 ro"], 1),
    ("spot cash", "0.1", dict(action=Se, quantity=D(1)), ["close sell 0.1 ro"], 0),
    ("spot cash", "0.1", dict(action=Se, quantity=D("0.05"), explicit=True),
     ["close sell 0.05 ro"], "0.05"),
    ("spot cash", 0, dict(action=Se, quantity=D("0.2"), explicit=True),
     ["open sell 0.2 denied"], 0),
    ("spot cash", "0.1", dict(action=Se, quantity=D("0.1"), explicit=True, sentiment=S.SHORT),
     ["close sell 0.1 ro", "open sell 0.1 after denied"], 0),
    ("spot margin", 0, dict(action=Se, quantity=D("0.1"), explicit=True, leverage=None),
     ["open sell 0.1 denied"], 0),
    ("spot margin", 0, dict(action=Se, quantity=D("0.1"), explicit=True, leverage=D(2)),
     ["open sell 0.1"], "-0.1"),
]
VENUES = {"futures": "net", "spot cash": "cash", "spot margin": "margin"}


@pytest.mark.parametrize(("venue", "before", "alert", "expected", "after"), DOC_EXAMPLES)
def test_doc_examples(venue, before, alert, expected, after):
    decision = plan(position=before, kind=VENUES[venue], **alert)
    assert legs(decision) == expected
    sent = [leg for leg in decision.legs if leg.denied is None]
    assert D(before) + signed_sum(decision) == decision.target == D(after)
    if venue == "spot margin" and sent:
        assert all(leg.leverage == D(2) for leg in sent)


def test_doc_example_exit_cancels_resting_orders_first():
    decision = plan(X, 2, quantity=None)
    assert decision.cancel_resting and legs(decision) == ["close sell 2 ro"]


def test_doc_example_refusals_are_reported_as_such():
    """Each "refused" outcome of the table is a denied leg (a refusal), never silence."""
    assert plan(Se, 0, reduce_only=True).refused[0].startswith("reduceOnly: nothing to reduce")
    assert plan(Se, 0, kind="cash").refused[0].startswith("spot cash cannot short")
    assert "needs leverage" in plan(Se, 0, kind="margin", leverage=None).refused[0]
    short_part = plan(Se, "0.1", kind="cash", quantity=D("0.1"), explicit=True,
                      sentiment=S.SHORT)
    assert [reason.split(":")[0] for reason in short_part.refused] == ["spot cash cannot short"]


# --- refusals name the rule -----------------------------------------------------------------


@pytest.mark.parametrize(("make", "rule"), [
    (alert(B, 0, reduce_only=True), "reduceOnly: nothing to reduce (the account is flat)"),
    (alert(Se, "2.5", sentiment=S.LONG, quantity=None),
     "no quantity was sized for the partial close"),
    (alert(Se, -3, reduce_only=True), "reduceOnly: nothing to reduce (the account is short 3)"),
    (alert(A, 2, reduce_only=True), "reduceOnly: opening a long of 1 is not allowed"),
    (alert(Se, 0, kind="cash"), "spot cash cannot short"),
    (alert(Se, 1, kind="cash", sentiment=S.SHORT, quantity=D(3), explicit=True),
     "spot cash cannot short"),
    (alert(Se, 0, can_short=False), "this account cannot short"),
    (alert(Se, 0, kind="margin", leverage=None), "a margin short needs leverage"),
    (alert(B, 0, kind="margin", leverage=None), "a margin long needs leverage"),
    (alert(X, 2, kind="margin", leverage=None, quantity=None),
     "closing a margin position needs its leverage"),
    (alert(B, 2, sentiment=S.FLAT), "buy with sentiment flat closes a short"),
    (alert(Se, 0, sentiment=S.BULLISH), "sell with sentiment bullish reduces a long"),
    (alert(A, 0), "add needs an open position or a sentiment"),
    (alert(A, -2, sentiment=S.LONG), "the sentiment contradicts the position"),
    (alert(R, 0, quantity=None), "no position to reverse"),
], ids=lambda value: value if isinstance(value, str) else "-")
def test_refusals_name_the_rule(make, rule):
    decision = make()
    assert any(rule in reason for reason in decision.refused), decision.refused


def test_refused_reduce_only_sends_nothing():
    for position in (0, 2):
        decision = plan(B, position, reduce_only=True, quantity=D(1), explicit=True)
        assert all(leg.denied for leg in decision.legs) and decision.legs


def test_sizing_denial_replaces_the_generic_reason():
    decision = plan(B, 0, quantity=None, sizing_denial="no price to size 100 USD")
    assert decision.refused == ("no price to size 100 USD",)


# --- an unsized explicit alert never closes everything --------------------------------------


@pytest.mark.parametrize(("name", "make"), [
    ("exit", alert(X, 2, quantity=None, explicit=True)),
    ("exit percent", alert(X, -2, quantity=None, explicit=True, of_position=True)),
    ("sentiment flat", alert(Se, 2, quantity=None, explicit=True, sentiment=S.FLAT)),
    ("sentiment against", alert(B, -2, quantity=None, explicit=True, sentiment=S.SHORT)),
    ("reduceOnly", alert(B, -2, quantity=None, explicit=True, reduce_only=True)),
    ("percent against", alert(Se, 2, quantity=None, explicit=True, of_position=True)),
    ("cash sale", alert(Se, 2, quantity=None, explicit=True, kind="cash")),
])
def test_unsized_explicit_close_is_refused_and_closes_nothing(name, make):
    decision = make()
    assert decision.legs and all(leg.denied for leg in decision.legs)
    assert decision.legs[0].purpose is LegPurpose.CLOSE
    assert all(leg.quantity == 0 for leg in decision.legs)


@pytest.mark.parametrize("reverse", BOTH)
def test_unsized_explicit_opposite_order_closes_nothing(reverse):
    """"buy 1" against a short of 2 is a partial exit; without its size the planner cannot
    tell a partial exit from a reversal, so it must not close everything."""
    decision = plan(B, -2, quantity=None, explicit=True, reverse=reverse)
    assert all(leg.denied for leg in decision.legs)


# --- closes: never beyond the position, rounded down to the lot ------------------------------


def test_exit_leaves_dust_below_the_lot():
    decision = plan(X, "0.123456789", kind="cash", quantity=None, lot_size=D("0.0001"))
    assert legs(decision) == ["close sell 0.1234 ro"]
    assert decision.notes == ("0.000056789 left as dust below the lot size 0.0001",)


def test_dust_only_closes_nothing():
    decision = plan(Se, "0.00005", sentiment=S.FLAT, kind="cash", lot_size=D("0.0001"))
    assert decision.legs == ()
    assert decision.notes == (
        "the long of 0.00005 is below the lot size 0.0001: nothing to close (dust left)",)


def test_a_reduction_below_the_lot_closes_nothing():
    decision = plan(Se, "0.5", sentiment=S.LONG, quantity=D("0.00001"), lot_size=D("0.001"))
    assert decision.legs == ()
    assert decision.notes == (
        "reducing the long of 0.5 by 0.00001 rounds down to zero at the lot size 0.001: "
        "nothing to close",)


def test_a_partial_close_rounds_down_to_the_lot():
    decision = plan(B, "-2", quantity=D("0.0567"), explicit=True, lot_size=D("0.01"))
    assert legs(decision) == ["close buy 0.05 ro"]


@pytest.mark.parametrize(("make", "expected"), [
    (alert(B, -2, sentiment=S.SHORT, quantity=D(5)), "close buy 2 ro"),
    (alert(X, 3, quantity=D(5), explicit=True), "close sell 3 ro"),
    (alert(Se, 2, sentiment=S.FLAT, quantity=D(5), explicit=True), "close sell 2 ro"),
    (alert(B, -2, reduce_only=True, quantity=D(5), explicit=True), "close buy 2 ro"),
    (alert(Se, 2, kind="cash", quantity=D(5), explicit=True), "close sell 2 ro"),
    (alert(Se, 2, of_position=True, quantity=D(5), explicit=True), "close sell 2 ro"),
])
def test_a_close_is_capped_at_the_position(make, expected):
    decision = make()
    assert legs(decision) == [expected]
    assert any("is capped at the" in note for note in decision.notes)


def test_a_flip_notes_the_dust_it_leaves():
    decision = plan(B, "-2.0005", flip=True, lot_size=D("0.001"))
    assert legs(decision) == ["flip buy 3"]
    assert decision.legs[0].opening == 1  # the part that opens (its brackets cover that)
    assert decision.notes == ("0.0005 left as dust below the lot size 0.001",
                              "one order closes the short and opens the long")


@pytest.mark.parametrize("flip", BOTH)
def test_a_reverse_without_size_opens_on_the_lot(flip):
    decision = plan(R, "2.0005", quantity=None, flip=flip, lot_size=D("0.001"))
    assert all(leg.quantity % D("0.001") == 0 for leg in decision.legs)


def test_a_held_margin_position_closes_with_its_own_leverage():
    decision = plan(X, 2, kind="margin", quantity=None, leverage=None,
                    position_leverage=D(3))
    assert legs(decision) == ["close sell 2 ro"] and decision.legs[0].leverage == D(3)
    decision = plan(B, -2, kind="margin", leverage=None, position_leverage=D(3))
    assert legs(decision) == ["close buy 2 ro", "open buy 1 after denied"]
    assert decision.legs[0].leverage == D(3)
    assert "needs leverage" in decision.legs[1].denied


# --- cancel_resting and after_fill ----------------------------------------------------------


@pytest.mark.parametrize(("make", "cancels"), [
    (alert(X, 2, quantity=None), True),  # full exit
    (alert(X, 2, quantity=D(2), explicit=True), True),  # the alert's size is all of it
    (alert(X, 2, quantity=D(1), explicit=True), False),  # partial exit
    (alert(X, 2, quantity=D(1), explicit=True, of_position=True), False),
    (alert(Se, 2, sentiment=S.FLAT), True),
    (alert(Se, 2, sentiment=S.FLAT, quantity=D(1), explicit=True), False),
    (alert(Se, 2, quantity=D(1), explicit=True), False),  # partial exit, nothing reversed
    (alert(Se, 2, sentiment=S.LONG), False),  # partial close
    (alert(Se, 2, reverse=False), True),  # the long is closed, nothing opened
    (alert(Se, 2), True),  # reversal, two legs
    (alert(Se, 2, flip=True), True),  # reversal, one order
    (alert(R, -2, quantity=None), True),
    (alert(B, 2), False),  # adds
    (alert(C, 2, quantity=None), True),
])
def test_cancel_resting(make, cancels):
    decision = make()
    assert decision.cancel_resting is cancels


def test_cash_full_sale_cancels_resting():
    assert plan(Se, 2, kind="cash").cancel_resting


def test_the_open_waits_for_the_close():
    decision = plan(B, -2)
    assert [leg.after_fill for leg in decision.legs] == [False, True]
    assert decision.legs[1].purpose is LegPurpose.OPEN
    # one flip order, or an open with nothing before it, waits for nothing
    assert [leg.after_fill for leg in plan(B, -2, flip=True).legs] == [False]
    assert [leg.after_fill for leg in plan(B, 0).legs] == [False]
    # a close of dust plans no leg: the open has nothing to wait for
    decision = plan(B, "-0.0001", lot_size=D("0.001"))
    assert legs(decision) == ["open buy 1"]


# --- target ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "position", "target"), [
    (alert(B, -2), -2, 1),
    (alert(B, -2, flip=True), -2, 1),
    (alert(Se, 2, quantity=D(1), explicit=True), 2, 1),
    (alert(X, "0.123456789", quantity=None, lot_size=D("0.0001")), "0.123456789", "0.000056789"),
    # a refused part does not count: the target is where the legs that go lead
    (alert(Se, 2, kind="cash", sentiment=S.SHORT, quantity=D(1), explicit=True), 2, 0),
    (alert(B, 0, reduce_only=True), 0, 0),
    (alert(B, -2, kind="margin", leverage=None), -2, -2),
    (alert(C, 2, quantity=None), 2, 2),
])
def test_target_is_the_position_plus_the_legs_that_go(make, position, target):
    decision = make()
    assert decision.target == D(position) + signed_sum(decision) == D(target)


# --- principle 11: a target sentiment with a size is a target, not an increment --------------


@pytest.mark.parametrize(("action", "position", "sentiment"), [
    (B, 2, S.LONG), (B, 3, S.BULLISH), (Se, -2, S.SHORT), (Se, -5, S.BEARISH),
])
def test_sentiment_at_or_beyond_the_size_sends_nothing(action, position, sentiment):
    decision = plan(action, position, sentiment=sentiment, quantity=D(2), explicit=True)
    assert decision.legs == ()
    assert "nothing to add" in decision.notes[0]
    assert decision.target == D(position)


def test_sentiment_below_the_size_tops_up():
    decision = plan(B, "0.5", sentiment=S.LONG, quantity=D(2), explicit=True)
    assert legs(decision) == ["open buy 1.5"] and decision.target == 2
    assert decision.notes == ("tops the long of 0.5 up to the alert's 2",)
    decision = plan(Se, "-0.5", sentiment=S.SHORT, quantity=D(2), explicit=True)
    assert legs(decision) == ["open sell 1.5"] and decision.target == -2


def test_a_top_up_rounds_down_to_the_lot():
    decision = plan(B, "0.55", sentiment=S.LONG, quantity=D(2), explicit=True, lot_size=D("0.1"))
    assert legs(decision) == ["open buy 1.4"]


def test_a_refired_alert_without_a_sentiment_adds_again():
    decision = plan(B, 2, quantity=D(2), explicit=True)
    assert legs(decision) == ["open buy 2"]
    assert decision.notes == ("adds to the existing long",)


# --- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("position", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_position_is_refused(position):
    with pytest.raises(ValueError, match="position must be a finite number"):
        plan(X, position, quantity=None)


@pytest.mark.parametrize("action", list(Action))
def test_a_negative_cash_position_is_refused(action):
    with pytest.raises(ValueError, match=r"a cash account cannot hold -0\.1"):
        plan(action, "-0.1", kind="cash")


def test_plain_string_actions_are_accepted_and_unknown_ones_refused():
    assert legs(plan("exit", 2, quantity=None)) == ["close sell 2 ro"]
    with pytest.raises(ValueError, match="'breakeven' is not a valid Action"):
        plan("breakeven", 2)


def test_zero_quantity_is_not_emitted():
    decision = plan(B, 0, quantity=D(0))
    assert decision.legs == ()
    assert decision.notes == ("the sized quantity is 0: nothing to open",)
    assert legs(plan(B, -2, quantity=D(0), flip=True)) == ["close buy 2 ro"]

