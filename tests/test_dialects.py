"""The built-in dialects map their bodies onto the native alert, and refuse clearly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from router_core.alert import Alert, alert_errors
from router_core.errors import AlertError
from router_core.intake import parse_alert
from router_core.models import Action, QuantityType, Sentiment
from router_core.plugins import make_plugin_manager


@pytest.fixture(scope="module")
def plugins():
    return make_plugin_manager(enabled=[])


def parse(body: dict, plugins) -> Alert:
    return parse_alert(json.dumps(body).encode(), "application/json", plugins)


def refuse(body: dict, plugins) -> AlertError:
    with pytest.raises(AlertError) as info:
        parse(body, plugins)
    assert len(alert_errors(info.value)) == 1
    return info.value


# --- TradingView strategy --------------------------------------------------------------------

TV = {"ticker": "BTCUSD", "price": "65000"}

TV_CASES = [
    # (strategy fields, action, sentiment, quantity)
    ({"action": "buy", "contracts": "1", "market_position": "long",
      "prev_market_position": "flat"}, Action.BUY, Sentiment.LONG, "1"),
    ({"action": "sell", "contracts": "3", "market_position": "short",
      "prev_market_position": "flat"}, Action.SELL, Sentiment.SHORT, "3"),
    # reversal: contracts counts the close too; the new size comes from the sizes
    ({"action": "sell", "contracts": "2", "market_position": "short",
      "prev_market_position": "long", "prev_market_position_size": "1"},
     Action.SELL, Sentiment.SHORT, "1"),
    ({"action": "buy", "contracts": "5", "market_position": "long",
      "prev_market_position": "short", "market_position_size": "3"},
     Action.BUY, Sentiment.LONG, "3"),
    ({"action": "buy", "contracts": "5", "marketPosition": "long",
      "prevMarketPosition": "short", "positionSize": "2"}, Action.BUY, Sentiment.LONG, "2"),
    # exits
    ({"action": "sell", "contracts": "1", "market_position": "flat",
      "prev_market_position": "long"}, Action.EXIT, None, None),
    ({"action": "buy", "contracts": "1", "market_position": "flat",
      "prev_market_position": "short", "position_size": "0"}, Action.EXIT, None, None),
    # partial exits close what the strategy closed, never the whole position
    ({"action": "sell", "contracts": "1", "market_position": "long",
      "prev_market_position": "long"}, Action.EXIT, None, "1"),
    ({"action": "buy", "market_position": "short", "prev_market_position": "short",
      "market_position_size": "1", "prev_market_position_size": "3"}, Action.EXIT, None, "2"),
    # pyramiding
    ({"action": "buy", "contracts": "1", "market_position": "long",
      "prev_market_position": "long"}, Action.ADD, Sentiment.LONG, "1"),
    ({"action": "sell", "market_position": "short", "prev_market_position": "short",
      "market_position_size": "3", "prev_market_position_size": "2"},
     Action.ADD, Sentiment.SHORT, "1"),
    # position_size alone tells the direction and the size
    ({"action": "sell", "contracts": "4", "position_size": "-2"},
     Action.SELL, Sentiment.SHORT, "2"),
    # no size at all: the account's sizing decides
    ({"action": "BUY", "market_position": "Long", "prev_market_position": "flat"},
     Action.BUY, Sentiment.LONG, None),
]


@pytest.mark.parametrize(("fields", "action", "sentiment", "quantity"), TV_CASES,
                         ids=[f"case{i}" for i in range(len(TV_CASES))])
def test_tradingview_strategy_mapping(fields, action, sentiment, quantity, plugins) -> None:
    alert = parse({**TV, **fields}, plugins)
    assert alert.action is action
    assert alert.sentiment is sentiment
    assert alert.quantity == (None if quantity is None else Decimal(quantity))
    assert alert.price == Decimal(65000)


def test_tradingview_three_commas_nesting(plugins) -> None:
    alert = parse({
        "tv_exchange": "KRAKEN", "tv_instrument": "XBTUSD", "action": "buy",
        "trigger_price": "64990", "timestamp": "2024-05-01T13:45:00Z",
        "strategy_info": {"market_position": "long", "market_position_size": "2",
                          "prev_market_position": "flat", "prev_market_position_size": "0"},
        "order": {"amount": "2", "currency_type": "base"},
    }, plugins)
    assert alert.ticker == "KRAKEN:XBTUSD"
    assert (alert.action, alert.sentiment, alert.quantity) == (
        Action.BUY, Sentiment.LONG, Decimal(2))
    assert alert.price == Decimal(64990)
    assert alert.timenow is not None and alert.timenow.minute == 45


def test_tradingview_passes_native_fields_through(plugins) -> None:
    alert = parse({**TV, "action": "buy", "contracts": "1", "market_position": "long",
                   "prev_market_position": "flat", "passphrase": "p", "accounts": ["a"],
                   "stopLoss": {"percent": "1"}, "orderId": "Long", "strategy": "ema",
                   "time": "2024-05-01T13:30:00Z", "comment": "Long entry"}, plugins)
    assert alert.order_id == "Long" and alert.strategy == "ema"
    assert alert.stop_loss is not None and alert.accounts[0].account == "a"
    assert alert.intent_key() is not None and alert.intent_key().startswith("tv:")


TV_REFUSALS = [
    ({"action": "{{strategy.order.action}}", "contracts": "1", "market_position": "long"},
     "action", "placeholder was not rendered by TradingView"),
    ({"action": "buy", "contracts": "1", "market_position": "{{strategy.market_position}}"},
     "market_position", "placeholder was not rendered by TradingView"),
    ({"action": "buy", "contracts": "1", "strategy_info": {"market_position": "{{x}}"}},
     "strategy_info.market_position", "not rendered"),
    ({"action": "buy", "contracts": "1", "market_position": "up"}, "market_position",
     "unknown position"),
    ({"action": "sell", "contracts": "1", "market_position": "long",
      "prev_market_position": "flat"}, "market_position", "impossible"),
    ({"action": "buy", "contracts": "2", "market_position": "long",
      "prev_market_position": "short"}, "market_position_size", "new position size"),
    ({"action": "buy", "contracts": "2", "market_position": "long"}, "market_position_size",
     "new position size"),
    ({"action": "sell", "market_position": "long", "prev_market_position": "long"},
     "contracts", "partial exit (long -> smaller long) needs"),
    ({"action": "buy", "contracts": "1", "quantity": "1", "market_position": "long"},
     "quantity", "given twice"),
    ({"action": "buy", "contracts": "abc", "market_position": "long"}, "contracts",
     "not a number"),
    ({"action": "buy", "contracts": "0", "market_position": "long"}, "contracts",
     "greater than 0"),
    ({"contracts": "1", "market_position": "long"}, "action", "required"),
    ({"action": "buy", "contracts": "1", "market_position": "long",
      "strategy_info": {"market_position": "long"}}, "strategy_info.market_position",
     "given twice"),
    ({"action": "buy", "market_position": "long", "prev_market_position": "flat",
      "order": {"amount": "1", "currency_type": "quote"}}, "order.currency_type", "base"),
    ({"action": "buy", "contracts": "1", "market_position": "long",
      "prev_market_position": "flat", "sentiment": "long"}, "sentiment", "given twice"),
    ({"action": "buy", "contracts": "1", "market_position": "long",
      "prev_market_position": "flat", "max_lag": "30"}, "max_lag", "unknown field"),
]


@pytest.mark.parametrize(("fields", "field", "words"), TV_REFUSALS,
                         ids=[f"refusal{i}" for i in range(len(TV_REFUSALS))])
def test_tradingview_refusals(fields, field, words, plugins) -> None:
    error = refuse({**TV, **fields}, plugins)
    assert error.field == field
    assert words in error.reason


def test_tradingview_unrendered_ticker_in_any_key(plugins) -> None:
    error = refuse({"ticker": "{{ticker}}", "action": "buy", "contracts": "1",
                    "market_position": "long", "prev_market_position": "flat"}, plugins)
    assert (error.field, error.reason) == ("ticker", "placeholder was not rendered by TradingView")


# --- PickMyTrade -----------------------------------------------------------------------------

PMT = {"symbol": "NQ1!", "data": "buy", "quantity": 2, "price": "18250.25", "tp": 0, "sl": 0,
       "dollar_tp": 0, "dollar_sl": 0, "percentage_tp": 0, "percentage_sl": 0, "trail": 0,
       "trail_stop": 0, "trail_trigger": 0, "trail_freq": 0, "update_tp": False,
       "update_sl": False, "risk_percentage": 0, "token": "tok-123",
       "duplicate_position_allow": False, "reverse_order_close": True}


def test_pickmytrade_basic_buy(plugins) -> None:
    alert = parse(PMT, plugins)
    assert (alert.ticker, alert.action, alert.sentiment) == ("NQ1!", Action.BUY, Sentiment.LONG)
    assert alert.quantity == Decimal(2)
    assert alert.quantity_type is QuantityType.FIXED_QUANTITY
    assert alert.price == Decimal("18250.25")
    assert alert.take_profit is None and alert.stop_loss is None  # zeros mean unset
    assert alert.passphrase is not None and alert.passphrase.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(alert) and "tok-123" not in str(alert.public_dict())


def test_pickmytrade_close_is_exit(plugins) -> None:
    alert = parse({**PMT, "data": "close", "quantity": 0}, plugins)
    assert alert.action is Action.EXIT and alert.quantity is None and alert.sentiment is None


def test_pickmytrade_close_ignores_size_price_and_brackets(plugins) -> None:
    alert = parse({**PMT, "data": "close", "quantity": 3, "risk_percentage": 1, "sl": 18200,
                   "tp": 18300, "trail": 1, "order_type": "LMT"}, plugins)
    assert alert.action is Action.EXIT
    assert (alert.quantity, alert.price, alert.take_profit, alert.stop_loss) == (
        None, None, None, None)


def test_pickmytrade_sell_is_short(plugins) -> None:
    alert = parse({**PMT, "data": "Sell"}, plugins)
    assert (alert.action, alert.sentiment) == (Action.SELL, Sentiment.SHORT)


def test_pickmytrade_risk_percentage(plugins) -> None:
    alert = parse({**PMT, "quantity": 0, "risk_percentage": "1.5", "sl": 18200}, plugins)
    assert alert.quantity_type is QuantityType.RISK_PERCENT
    assert alert.quantity == Decimal("1.5")
    assert alert.stop_loss is not None and alert.stop_loss.stop_price == Decimal(18200)


@pytest.mark.parametrize(("fields", "attr", "value"), [
    ({"tp": 18300}, ("take_profit", "limit_price"), "18300"),
    ({"dollar_tp": "50"}, ("take_profit", "amount"), "50"),
    ({"percentage_tp": "1.5"}, ("take_profit", "percent"), "1.5"),
    ({"sl": 18200}, ("stop_loss", "stop_price"), "18200"),
    ({"dollar_sl": 25}, ("stop_loss", "amount"), "25"),
    ({"percentage_sl": "0.5"}, ("stop_loss", "percent"), "0.5"),
    ({"trail": 1, "trail_stop": 10}, ("stop_loss", "trail_amount"), "10"),
])
def test_pickmytrade_brackets(fields, attr, value, plugins) -> None:
    alert = parse({**PMT, **fields}, plugins)
    assert getattr(getattr(alert, attr[0]), attr[1]) == Decimal(value)


def test_pickmytrade_date_gives_timenow_and_id(plugins) -> None:
    alert = parse({**PMT, "date": "2024-05-01T13:30:05Z"}, plugins)
    assert alert.timenow is not None and alert.timenow.second == 5
    assert alert.id == "pmt:2024-05-01T13:30:05Z:NQ1!:buy"
    assert alert.intent_key() == alert.id
    assert parse({**PMT, "date": "2024-05-01T13:30:05Z", "data": "sell"}, plugins).id != alert.id


def test_pickmytrade_multiple_accounts(plugins) -> None:
    alert = parse({**PMT, "multiple_accounts": [
        {"token": "t1", "account_id": "apex-1", "risk_percentage": 0, "quantity_multiplier": 1},
        {"token": "t2", "account_id": "apex-2", "quantity_multiplier": "2.5",
         "connection_name": "RITHMIC1"},
    ]}, plugins)
    assert [(a.account, a.multiplier) for a in alert.accounts] == [
        ("apex-1", Decimal(1)), ("apex-2", Decimal("2.5"))]


def test_pickmytrade_pyramid_and_limit(plugins) -> None:
    alert = parse({**PMT, "duplicate_position_allow": True, "order_type": "LMT",
                   "platform": "RITHMIC"}, plugins)
    assert alert.action is Action.ADD
    assert alert.order_type.value == "limit" and alert.limit_price == Decimal("18250.25")


PMT_REFUSALS = [
    ({"update_tp": True}, "update_tp", "not supported yet"),
    ({"update_sl": 1}, "update_sl", "not supported yet"),
    ({"trail_trigger": 5}, "trail_trigger", "not supported yet"),
    ({"reverse_order_close": False}, "reverse_order_close", "not supported yet"),
    ({"data": "hold"}, "data", "buy, sell or close"),
    ({"quantity": 1, "risk_percentage": 1}, "risk_percentage", "quantity 0"),
    ({"quantity": 0}, "quantity", "risk_percentage"),
    ({"quantity": -1}, "quantity", "negative"),
    ({"trail": 1}, "trail_stop", "trail needs"),
    ({"trail": 1, "trail_stop": 5, "sl": 1}, "trail", "either"),
    ({"order_type": "STP"}, "order_type", "MKT or LMT"),
    ({"symbol": "{{ticker}}"}, "symbol", "not rendered"),
    ({"qty": 1}, "qty", "unknown field for the pickmytrade dialect"),
    ({"multiple_accounts": [{"quantity_multiplier": 1}]}, "multiple_accounts[0].account_id",
     "required"),
    ({"multiple_accounts": [{"account_id": "a", "risk_percentage": 2}]},
     "multiple_accounts[0].risk_percentage", "not supported yet"),
    ({"multiple_accounts": [{"account_id": "a", "mult": 2}]}, "multiple_accounts[0].mult",
     "unknown field"),
    ({"multiple_accounts": [{"account_id": "a", "quantity_multiplier": -2}]},
     "accounts[0].multiplier", "greater than 0"),
    ({"duplicate_position_allow": "maybe"}, "duplicate_position_allow", "true or false"),
]


@pytest.mark.parametrize(("fields", "field", "words"), PMT_REFUSALS,
                         ids=[f"refusal{i}" for i in range(len(PMT_REFUSALS))])
def test_pickmytrade_refusals(fields, field, words, plugins) -> None:
    error = refuse({**PMT, **fields}, plugins)
    assert error.field == field
    assert words in error.reason


# --- native ----------------------------------------------------------------------------------


def test_native_body_passes_unchanged(plugins) -> None:
    alert = parse({"ticker": "BTCUSD", "action": "sell", "sentiment": "flat"}, plugins)
    assert (alert.action, alert.sentiment) == (Action.SELL, Sentiment.FLAT)


def test_native_takes_a_half_alert_to_name_the_missing_field(plugins) -> None:
    assert refuse({"ticker": "BTCUSD"}, plugins).field == "action"
    assert refuse({"action": "buy"}, plugins).field == "ticker"


def test_native_does_not_claim_other_json(plugins) -> None:
    error = refuse({"signal": "long"}, plugins)
    assert error.field == "body" and "not a recognised alert" in error.reason
