"""Property tests for the planner: a CLOSE never exceeds the position nor crosses zero, sendable
quantities are positive, and the position after every non-denied leg is what the alert meant."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from router_core.brokers import Capabilities
from router_core.decimals import round_down
from router_core.models import Action, LegPurpose, Sentiment, Side
from router_core.planning import PlanDecision, plan_legs

LOTS = st.sampled_from([D(1), D("0.1"), D("0.001"), D("0.00000001")])


@st.composite
def scenarios(draw, *, on_lot: bool = True):
    lot = draw(LOTS)
    if on_lot:
        position = draw(st.integers(-10_000, 10_000)) * lot
    else:
        position = draw(st.decimals(-1000, 1000, places=10))
    open_quantity = draw(st.none() | st.integers(0, 10_000).map(lambda n: n * lot))
    can_short = draw(st.booleans())
    capabilities = Capabilities(
        can_short=can_short, net_position=can_short, reduce_only=draw(st.booleans()),
        single_order_flip=draw(st.booleans()))
    return dict(action=draw(st.sampled_from(Action)),
                sentiment=draw(st.none() | st.sampled_from(Sentiment)),
                position=position, open_quantity=open_quantity, capabilities=capabilities,
                reverse=draw(st.booleans()), single_order_flip=draw(st.booleans()),
                lot_size=lot)


def sign(value: D) -> int:
    return (value > 0) - (value < 0)


def apply(position: D, decision: PlanDecision) -> D:
    for leg in decision.legs:
        if leg.denied is None and leg.side is not None:
            position += leg.quantity if leg.side is Side.BUY else -leg.quantity
    return position


def check_shape(case: dict, decision: PlanDecision) -> None:
    position = case["position"]
    purposes = [leg.purpose for leg in decision.legs]
    assert purposes.count(LegPurpose.CLOSE) <= 1
    if LegPurpose.CLOSE in purposes and LegPurpose.OPEN in purposes:
        assert purposes.index(LegPurpose.CLOSE) < purposes.index(LegPurpose.OPEN)
    for leg in decision.legs:
        if leg.purpose is LegPurpose.CANCEL:
            assert case["action"] is Action.CANCEL and leg.side is None
            continue
        if leg.denied is None:
            assert leg.quantity > 0 and leg.side is not None
        if leg.purpose is LegPurpose.CLOSE and leg.denied is None:
            assert leg.quantity <= abs(position)
            assert leg.side is (Side.SELL if position > 0 else Side.BUY)
            assert leg.reduce_only is case["capabilities"].reduce_only
            assert leg.quantity % case["lot_size"] == 0
        if leg.purpose is LegPurpose.FLIP:
            assert case["single_order_flip"] and case["capabilities"].single_order_flip
        if leg.purpose is LegPurpose.OPEN and leg.side is Side.SELL:
            assert leg.denied or case["capabilities"].can_short
    if not decision.legs:
        assert decision.notes


@given(scenarios(on_lot=False))
def test_shape_and_close_limits(case):
    check_shape(case, plan_legs(**case))


def intended(case: dict) -> D:
    """Where the position should end, from the alert's meaning alone."""
    action, sentiment, position = case["action"], case["sentiment"], case["position"]
    quantity = case["open_quantity"]
    can_short = case["capabilities"].can_short
    held = sign(position)

    def opened(start: D, direction: int) -> D:
        if quantity is None or quantity == 0 or (direction < 0 and not can_short):
            return start
        return start + direction * quantity

    if action is Action.CANCEL:
        return position
    if action is Action.EXIT:  # all of it, or the quantity asked for, capped at the position
        if quantity is None:
            return D(0)
        return position - held * min(quantity, abs(position))
    if action is Action.REVERSE:
        if held == 0:
            return position
        if quantity is None:
            quantity = abs(position)
        return opened(D(0), -held)
    if action is Action.ADD:
        direction = held or (sentiment.direction if sentiment else 0)
        return opened(position, direction) if direction else position
    direction = 1 if action is Action.BUY else -1
    if sentiment is not None and sentiment.direction == 0:
        return D(0) if held == -direction else position
    if sentiment is not None and sentiment.direction == -direction:
        if held != -direction or not quantity:
            return position
        return position + direction * min(quantity, abs(position))
    if held != -direction:
        return opened(position, direction)
    return opened(D(0), direction) if case["reverse"] else D(0)


@given(scenarios())
def test_the_position_ends_where_the_alert_meant(case):
    decision = plan_legs(**case)
    check_shape(case, decision)
    assert apply(case["position"], decision) == intended(case)


@given(scenarios(on_lot=False))
def test_closes_leave_only_dust(case):
    case = {**case, "action": Action.EXIT, "open_quantity": None}
    decision = plan_legs(**case)
    remaining = apply(case["position"], decision)
    assert sign(remaining) in (0, sign(case["position"]))
    assert abs(remaining) < case["lot_size"]
    assert abs(case["position"]) - abs(remaining) == round_down(abs(case["position"]),
                                                                case["lot_size"])
