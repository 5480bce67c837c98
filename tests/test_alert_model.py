"""The native alert model: field rules, contradictions, helpers, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router_core.alert import (
    AccountTarget,
    Alert,
    AlertValidationError,
    StopLossType,
    alert_errors,
    validate_alert,
)
from router_core.errors import AlertError
from router_core.models import Action, OrderType, QuantityType, Sentiment, TimeInForce

BASE = {"ticker": "BTCUSD", "action": "buy"}


def errors_of(body: dict) -> list[tuple[str, str]]:
    with pytest.raises(AlertError) as info:
        validate_alert(body)
    return [(e.field, e.reason) for e in alert_errors(info.value)]


def test_minimal_alert_has_safe_defaults() -> None:
    alert = validate_alert(BASE)
    assert alert.ticker == "BTCUSD"
    assert alert.action is Action.BUY
    assert alert.order_type is OrderType.MARKET
    assert alert.quantity is None and alert.accounts == () and alert.extras == {}
    assert alert.reduce_only is False and alert.post_only is False


def test_full_alert_reads_every_field() -> None:
    alert = validate_alert({
        **BASE,
        "sentiment": "LONG",
        "quantity": "0.25",
        "quantityType": "risk_percent",
        "price": Decimal("65000.5"),
        "signalPrice": 65001,
        "orderType": "limit",
        "limitPrice": "64990",
        "timeInForce": "gtd",
        "expireTime": "2030-01-01T00:00:00Z",
        "takeProfit": {"percent": "3"},
        "stopLoss": {"type": "stop_limit", "stopPrice": "64000", "limitPrice": "63900"},
        "passphrase": "hunter2",
        "accounts": ["a", {"account": "b", "multiplier": "0.5"}],
        "id": "abc-1",
        "time": "2024-05-01T13:30:00Z",
        "timenow": "2024-05-01T13:30:02Z",
        "interval": "15",
        "strategy": "ema",
        "orderId": "Long",
        "leverage": "3",
        "reduceOnly": "true",
        "postOnly": True,
        "extras": {"venue": {"flag": 1}},
    })
    assert alert.sentiment is Sentiment.LONG
    assert alert.quantity == Decimal("0.25") and isinstance(alert.quantity, Decimal)
    assert alert.quantity_type is QuantityType.RISK_PERCENT
    assert alert.signal_price == Decimal(65001)
    assert alert.time_in_force is TimeInForce.GTD
    assert alert.expire_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert alert.take_profit is not None and alert.take_profit.percent == Decimal(3)
    assert alert.stop_loss is not None and alert.stop_loss.type is StopLossType.STOP_LIMIT
    assert alert.accounts == (
        AccountTarget(account="a"),
        AccountTarget(account="b", multiplier=Decimal("0.5")),
    )
    assert alert.passphrase is not None and alert.passphrase.get_secret_value() == "hunter2"
    assert alert.time == datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
    assert alert.order_id == "Long" and alert.leverage == Decimal(3)
    assert alert.reduce_only is True and alert.post_only is True


def test_python_names_are_accepted_too() -> None:
    alert = Alert(ticker="X", action=Action.SELL, quantity_type="fixed_quantity", quantity=1)
    assert alert.quantity_type is QuantityType.FIXED_QUANTITY


def test_alert_is_frozen() -> None:
    alert = validate_alert(BASE)
    with pytest.raises(ValidationError):
        alert.ticker = "ETHUSD"  # type: ignore[misc]


def test_passphrase_never_in_repr_str_or_dumps() -> None:
    alert = validate_alert({**BASE, "passphrase": "hunter2"})
    for text in (repr(alert), str(alert), str(alert.model_dump()),
                 alert.model_dump_json(), str(alert.public_dict())):
        assert "hunter2" not in text
    assert "passphrase" not in alert.public_dict()


def test_passphrase_never_in_error_messages() -> None:
    with pytest.raises(AlertError) as info:
        validate_alert({**BASE, "passphrase": "x" * 300})
    assert "xxxx" not in str(info.value)
    assert info.value.field == "passphrase"


def test_public_dict_is_json_ready_with_plain_decimals() -> None:
    alert = validate_alert({
        **BASE, "quantity": Decimal("1E+1"), "price": "0.00000001",
        "time": "2024-05-01T15:30:00+02:00", "accounts": [{"account": "a", "multiplier": 2}],
    })
    data = alert.public_dict()
    assert data["quantity"] == "10"
    assert data["price"] == "0.00000001"
    assert data["time"] == "2024-05-01T13:30:00Z"
    assert data["accounts"] == [{"account": "a", "multiplier": "2"}]
    assert data["orderType"] == "market"
    assert validate_alert(data) == alert  # round trip


def test_intent_key_prefers_the_id() -> None:
    assert validate_alert({**BASE, "id": "my-key", "time": "2024-05-01T13:30:00Z"}).intent_key() \
        == "my-key"


def test_intent_key_from_tradingview_time_is_stable_and_distinct() -> None:
    body = {**BASE, "time": "2024-05-01T13:30:00Z", "strategy": "s", "orderId": "Long"}
    key = validate_alert(body).intent_key()
    assert key is not None and key.startswith("tv:") and len(key) == 3 + 64
    assert validate_alert(dict(body)).intent_key() == key
    for change in ({"orderId": "Long2"}, {"action": "sell"}, {"ticker": "ETHUSD"},
                   {"time": "2024-05-01T13:31:00Z"}, {"strategy": "t"}, {"sentiment": "long"}):
        assert validate_alert({**body, **change}).intent_key() != key
    # timenow is the firing time and does not change the intent
    assert validate_alert({**body, "timenow": "2024-05-01T13:30:09Z"}).intent_key() == key


def test_intent_key_is_none_without_id_or_time() -> None:
    assert validate_alert(BASE).intent_key() is None


# --- field rules ---------------------------------------------------------------------------

FIELD_CASES = [
    # (changes, expected field, words in the reason)
    ({"ticker": ""}, "ticker", "empty"),
    ({"ticker": 5}, "ticker", "string"),
    ({"ticker": "X" * 41}, "ticker", "longer than 40"),
    ({"ticker": "BTC USD"}, "ticker", "is not a symbol"),
    ({"ticker": "BTC\nUSD"}, "ticker", "is not a symbol"),
    ({"action": "breakeven"}, "action", "unknown value"),
    ({"action": None}, "action", "expected a string"),
    ({"sentiment": "up"}, "sentiment", "unknown value"),
    ({"quantity": 0}, "quantity", "greater than 0"),
    ({"quantity": "-1"}, "quantity", "greater than 0"),
    ({"quantity": True}, "quantity", "got true"),
    ({"quantity": "NaN"}, "quantity", "finite"),
    ({"quantity": "inf"}, "quantity", "finite"),
    ({"quantity": Decimal("Infinity")}, "quantity", "finite"),
    ({"quantity": "1e400"}, "quantity", "out of range"),
    ({"quantity": "1e-31"}, "quantity", "out of range"),
    ({"quantity": "1e" + "9" * 40}, "quantity", "out of range"),
    ({"quantity": "-1e-" + "9" * 40}, "quantity", "out of range"),
    ({"quantity": "1.0000000000000000000000000000001"}, "quantity", "significant digits"),
    ({"quantity": "1_000"}, "quantity", "not a number"),
    ({"quantity": "0x10"}, "quantity", "not a number"),
    ({"quantity": ""}, "quantity", "empty"),
    ({"quantity": "{{strategy.order.contracts}}"}, "quantity", "not rendered"),
    ({"quantity": [1]}, "quantity", "a list"),
    ({"price": "1" * 65}, "price", "longer than"),
    ({"quantityType": "lots"}, "quantityType", "unknown value"),
    ({"orderType": "take_profit"}, "orderType", "unknown value"),
    ({"timeInForce": "forever"}, "timeInForce", "unknown value"),
    ({"time": "yesterday"}, "time", "not a time"),
    ({"time": "2024-05-01T13:30:00"}, "time", "zone"),
    ({"time": 1714570200}, "time", "expected a time string"),
    ({"timenow": "{{timenow}}"}, "timenow", "not rendered"),
    ({"id": "x" * 129}, "id", "longer than 128"),
    ({"leverage": 0}, "leverage", "greater than 0"),
    ({"reduceOnly": "yes"}, "reduceOnly", "true or false"),
    ({"accounts": "main"}, None, None),  # one name is fine
    ({"accounts": 5}, "accounts", "list"),
    ({"accounts": [{"account": "a", "multiplier": "-1"}]}, "accounts[0].multiplier", "greater"),
    ({"accounts": [{"account": "a", "mult": 2}]}, "accounts[0].mult", "unknown field"),
    ({"accounts": [{"account": "a"}, "a"]}, "accounts[1]", "listed twice"),
    ({"accounts": [f"a{i}" for i in range(65)]}, "accounts", "more than 64"),
    ({"takeProfit": {"limitPrice": 0}}, "takeProfit.limitPrice", "greater than 0"),
    ({"takeProfit": "100"}, "takeProfit", "object"),
    ({"stopLoss": {"stopPrice": 1, "typ": "stop"}}, "stopLoss.typ", "unknown field"),
    ({"stopLoss": {"type": "limit", "stopPrice": 1}}, "stopLoss.type", "unknown value"),
    ({"extras": []}, "extras", "object"),
    ({"quantityTyp": "fixed_quantity"}, "quantityTyp", "unknown field"),
    ({"extendedHours": True}, "extendedHours", "not supported"),
    ({"limitPrice": 1, "limit_price": 2}, "limitPrice", "given twice"),
]


@pytest.mark.parametrize(("changes", "field", "words"), FIELD_CASES,
                         ids=[str(c[0])[:50] for c in FIELD_CASES])
def test_field_rules(changes: dict, field: str | None, words: str | None) -> None:
    body = {**BASE, **changes}
    if field is None:
        validate_alert(body)
        return
    found = errors_of(body)
    assert len(found) == 1, found
    assert found[0][0] == field
    assert words in found[0][1]
    assert "\n" not in found[0][1]


def test_missing_required_fields_are_all_listed() -> None:
    assert errors_of({}) == [("ticker", "required"), ("action", "required")]


def test_not_an_object() -> None:
    with pytest.raises(AlertError) as info:
        validate_alert(["buy"])  # type: ignore[arg-type]
    assert info.value.field == "body"


# --- contradictions ------------------------------------------------------------------------

CONTRADICTIONS = [
    ({"limitPrice": 10}, "limitPrice", "orderType market"),
    ({"stopPrice": 10}, "stopPrice", "orderType market"),
    ({"orderType": "limit"}, "limitPrice", "needs limitPrice"),
    ({"orderType": "stop_limit", "stopPrice": 10}, "limitPrice", "needs limitPrice"),
    ({"orderType": "stop"}, "stopPrice", "needs stopPrice"),
    ({"orderType": "stop_limit", "limitPrice": 10}, "stopPrice", "needs stopPrice"),
    ({"orderType": "trailing_stop"}, "trailAmount", "exactly one"),
    ({"orderType": "trailing_stop", "trailAmount": 1, "trailPercent": 1}, "trailAmount",
     "exactly one"),
    ({"trailPercent": 1}, "trailPercent", "use orderType trailing_stop"),
    ({"orderType": "trailing_stop", "trailPercent": 100}, "trailPercent", "below 100"),
    ({"quantityType": "fixed_quantity"}, "quantityType", "needs a quantity"),
    ({"action": "add", "quantity": 5, "quantityType": "percent_of_position"}, "quantityType",
     "buy or sell"),
    ({"action": "reverse", "quantity": 5, "quantityType": "percent_of_position"},
     "quantityType", "buy or sell"),
    ({"quantity": 1, "quantityType": "risk_percent"}, "stopLoss", "needs a stop loss"),
    ({"quantity": 100, "quantityType": "risk_dollar_amount"}, "stopLoss", "needs a stop loss"),
    ({"quantity": 1, "quantityType": "risk_percent",
      "stopLoss": {"type": "trailing_stop", "trailPercent": 1}}, "stopLoss", "needs a stop"),
    ({"quantity": "100.01", "quantityType": "percent_of_equity"}, "quantity", "above 100"),
    ({"quantity": 101, "quantityType": "percent_of_position"}, "quantity", "above 100"),
    ({"quantity": 101, "quantityType": "risk_percent", "stopLoss": {"percent": 1}}, "quantity",
     "above 100"),
    ({"takeProfit": {}}, "takeProfit", "got none"),
    ({"takeProfit": {"percent": 1, "amount": 2}}, "takeProfit", "got percent, amount"),
    ({"stopLoss": {}}, "stopLoss", "got none"),
    ({"stopLoss": {"stopPrice": 1, "percent": 2}}, "stopLoss", "exactly one"),
    ({"stopLoss": {"stopPrice": 1, "trailAmount": 2}}, "stopLoss", "exactly one"),
    ({"stopLoss": {"type": "stop_limit", "stopPrice": 1}}, "stopLoss.limitPrice", "needs"),
    ({"stopLoss": {"stopPrice": 1, "limitPrice": 1}}, "stopLoss.limitPrice", "stop_limit"),
    ({"stopLoss": {"type": "trailing_stop"}}, "stopLoss", "trailAmount or trailPercent"),
    ({"stopLoss": {"type": "trailing_stop", "trailAmount": 1, "stopPrice": 2}}, "stopLoss",
     "exactly one"),
    ({"stopLoss": {"type": "trailing_stop", "trailAmount": 1, "limitPrice": 2}},
     "stopLoss.limitPrice", "not used"),
    ({"stopLoss": {"percent": 100}}, "stopLoss.percent", "below 100"),
    ({"stopLoss": {"type": "trailing_stop", "trailPercent": 150}}, "stopLoss.trailPercent",
     "below 100"),
    ({"timeInForce": "gtd"}, "expireTime", "needs expireTime"),
    ({"expireTime": "2030-01-01T00:00:00Z"}, "expireTime", "only meaningful"),
    ({"action": "cancel", "quantity": 1}, "quantity", "cancel"),
    ({"action": "exit", "quantity": 1, "quantityType": "percent_of_equity"}, "quantityType",
     "no meaning with action exit"),
    ({"action": "exit", "quantity": 1, "quantityType": "risk_dollar_amount"}, "quantityType",
     "no meaning with action exit"),
    ({"action": "exit", "takeProfit": {"percent": 1}}, "takeProfit", "action exit"),
    ({"action": "cancel", "stopLoss": {"percent": 1}}, "stopLoss", "action cancel"),
]


@pytest.mark.parametrize(("changes", "field", "words"), CONTRADICTIONS,
                         ids=[str(c[0])[:60] for c in CONTRADICTIONS])
def test_contradictions(changes: dict, field: str, words: str) -> None:
    found = errors_of({**BASE, **changes})
    assert len(found) == 1, found
    assert found[0][0] == field
    assert words in found[0][1]


CONSISTENT = [
    {"sentiment": "short", "quantity": 1},  # a partial close of a short, as TradersPost reads it
    {"action": "sell", "sentiment": "bullish", "quantity": 1},
    {"orderType": "limit", "price": 10},
    {"orderType": "limit", "limitPrice": 10},
    {"orderType": "stop", "stopPrice": 10},
    {"orderType": "stop_limit", "stopPrice": 10, "limitPrice": 9},
    {"orderType": "trailing_stop", "trailPercent": "0.5"},
    {"sentiment": "flat"},
    {"action": "sell", "sentiment": "flat"},
    {"action": "sell", "sentiment": "short"},
    {"action": "sell", "quantity": 50, "quantityType": "percent_of_position"},
    {"quantity": 100, "quantityType": "percent_of_equity"},
    {"quantity": 1000, "quantityType": "dollar_amount"},
    {"quantity": 1, "quantityType": "risk_percent", "stopLoss": {"amount": 50}},
    {"quantity": 50, "quantityType": "risk_dollar_amount", "stopLoss": {"stopPrice": 1}},
    {"stopLoss": {"type": "trailing_stop", "trailAmount": 5}},
    {"timeInForce": "ioc"},
    {"action": "cancel"},
]


@pytest.mark.parametrize("changes", CONSISTENT, ids=[str(c)[:60] for c in CONSISTENT])
def test_consistent_combinations_pass(changes: dict) -> None:
    validate_alert({**BASE, **changes})


def test_every_contradiction_is_listed() -> None:
    with pytest.raises(AlertValidationError) as info:
        validate_alert({**BASE, "quantityType": "fixed_quantity", "limitPrice": 1,
                        "timeInForce": "gtd"})
    assert [e.field for e in info.value.errors] == ["quantityType", "limitPrice", "expireTime"]
    assert str(info.value) == (  # one line: the first
        "quantityType: fixed_quantity needs a quantity")


def test_alert_errors_converts_a_raw_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        Alert.model_validate({"ticker": "X", "action": "buy", "stopLoss": {"stopPrice": "abc"}})
    assert [str(e) for e in alert_errors(info.value)] == ["stopLoss.stopPrice: not a number: 'abc'"]


def test_numbers_keep_their_exact_decimal_value() -> None:
    alert = validate_alert({**BASE, "quantity": "0.1", "price": 0.1, "leverage": 3})
    assert alert.quantity == Decimal("0.1")
    assert alert.price == Decimal("0.1")  # a float goes through its shortest repr
    assert alert.leverage == Decimal(3)


def test_limits_are_inclusive_where_documented() -> None:
    validate_alert({**BASE, "quantity": "1e30"})
    validate_alert({**BASE, "quantity": "1e-30"})
    validate_alert({**BASE, "quantity": "1." + "0" * 28 + "1"})  # 30 significant digits


# --- never anything but AlertError ---------------------------------------------------------

numbers = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[+-]?\d{0,40}(\.\d{0,40})?([eE][+-]?\d{1,40})?", fullmatch=True),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(quantity=numbers, price=numbers, multiplier=numbers)
def test_arbitrary_numbers_give_an_alert_or_an_alert_error(
    quantity: object, price: object, multiplier: object
) -> None:
    body = {**BASE, "quantity": quantity, "price": price,
            "accounts": [{"account": "a", "multiplier": multiplier}]}
    try:
        alert = validate_alert(body)
    except AlertError as exc:
        for error in alert_errors(exc):
            assert error.field in ("quantity", "price", "accounts[0].multiplier")
            assert "\n" not in str(error)
        return
    if quantity is None:  # an explicit null is an absent field
        assert alert.quantity is None
    else:
        assert alert.quantity is not None and alert.quantity > 0
        assert alert.quantity.is_finite() and abs(alert.quantity.adjusted()) <= 30


@settings(max_examples=100, deadline=None)
@given(body=st.dictionaries(
    st.sampled_from([*sorted(Alert.model_fields), "limitPrice", "stopLoss", "takeProfit",
                     "quantityType", "orderType", "bogus"]),
    st.one_of(st.text(max_size=20), st.integers(), st.booleans(), st.none(),
              st.dictionaries(st.text(max_size=12), st.text(max_size=5), max_size=3)),
    max_size=8,
))
def test_arbitrary_bodies_never_crash(body: dict) -> None:
    try:
        validate_alert(body)
    except AlertError as exc:
        assert alert_errors(exc)


PINNED_BODIES = [
    BASE,
    {"ticker": "KRAKEN:XBTUSD", "action": "sell", "quantity": " 0.25 ", "orderType": "limit",
     "limitPrice": 40000, "passphrase": "s3cret", "timenow": "2026-12-04T18:00:00Z",
     "accounts": ["a", {"account": "b", "multiplier": "2"}], "id": "x1",
     "stopLoss": {"type": "stop", "percent": "1.5"}, "takeProfit": {"amount": 10},
     "reduceOnly": "true", "extras": {"k": [1, "v"]}, "strategy": "s", "interval": "5"},
    {"ticker": "ES1!", "action": "exit", "sentiment": "flat", "quantity_type": "fixed_quantity",
     "quantity": Decimal("1"), "time": "2026-12-04T17:55:00Z", "timeInForce": "gtc"},
]


@pytest.mark.parametrize("body", PINNED_BODIES)
def test_validate_alert_and_public_dict_give_what_pydantics_wrappers_give(body: dict) -> None:
    """``validate_alert`` and ``public_dict`` call pydantic-core directly (one call per
    delivery less): the same model and the same dict as ``model_validate``/``model_dump``."""
    alert = validate_alert(body)
    assert alert == Alert.model_validate(body)
    public = alert.public_dict()
    assert public == alert.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert list(public) == list(alert.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert "passphrase" not in public


def test_validate_alert_still_names_every_problem() -> None:
    assert errors_of({"ticker": "BTCUSD", "action": "hold", "quantity": "-1"}) == [
        ("action", "unknown value 'hold'; expected one of: buy, sell, exit, cancel, add, "
                   "reverse"),
        ("quantity", "must be greater than 0, got -1"),
    ]


def test_bare_account_names_share_one_validated_target_and_bad_ones_are_named_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from router_core import alert as alert_module

    body = {"ticker": "BTCUSD", "action": "buy"}
    first = validate_alert({**body, "accounts": ["desk-1", " desk-2 "]}).accounts
    again = validate_alert({**body, "accounts": "desk-1"}).accounts
    assert [t.account for t in first] == ["desk-1", "desk-2"]
    assert again[0] is first[0]  # immutable, validated once
    assert again[0] == AccountTarget(account="desk-1")
    with pytest.raises(AlertValidationError) as refused:
        validate_alert({**body, "accounts": ["desk-1", "x" * 65, "{{acct}}"]})
    assert [(e.field, e.reason) for e in refused.value.errors] == [
        ("accounts[1].account", "longer than 64 characters"),
        ("accounts[2].account", "placeholder was not rendered by TradingView")]
    monkeypatch.setattr(alert_module, "MAX_NAMED_TARGETS", len(alert_module._NAMED_TARGETS))
    assert validate_alert({**body, "accounts": ["desk-new"]}).accounts[0].account == "desk-new"
    assert "desk-new" not in alert_module._NAMED_TARGETS  # kept no more than the bound


def test_accounts_are_written_as_pydantic_writes_them_with_and_without_nulls() -> None:
    alert = validate_alert({"ticker": "BTCUSD", "action": "buy",
                            "accounts": ["a", {"account": "b", "multiplier": "0.50"}]})
    assert alert.public_dict()["accounts"] == [{"account": "a"},
                                               {"account": "b", "multiplier": "0.50"}]
    assert alert.model_dump(mode="json")["accounts"] == [
        {"account": "a", "multiplier": None}, {"account": "b", "multiplier": "0.50"}]
    assert '"accounts":[{"account":"a","multiplier":null},{"account":"b","multiplier":"0.50"}]' \
        in alert.model_dump_json()
    assert alert.model_dump()["accounts"] == (  # python mode: pydantic's own, Decimals kept
        {"account": "a", "multiplier": None}, {"account": "b", "multiplier": Decimal("0.50")})
