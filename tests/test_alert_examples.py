"""Every example under schemas/examples: valid ones parse, invalid ones name their field."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_core.alert import alert_errors
from router_core.errors import AlertError
from router_core.intake import parse_alert
from router_core.plugins import make_plugin_manager

EXAMPLES = Path(__file__).resolve().parents[1] / "schemas" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))

# file name -> the field its single error must name
EXPECTED_FIELD = {
    "account_listed_twice": "accounts[1]",
    "exit_sized_from_equity": "quantityType",
    "gtd_without_expire_time": "expireTime",
    "limit_order_without_limit_price": "limitPrice",
    "limit_price_with_market_order": "limitPrice",
    "missing_ticker": "ticker",
    "multiplier_zero": "accounts[0].multiplier",
    "not_an_alert": "body",
    "percent_of_equity_above_100": "quantity",
    "percent_of_position_with_add": "quantityType",
    "pickmytrade_update_tp": "update_tp",
    "price_not_a_number": "price",
    "quantity_boolean": "quantity",
    "quantity_huge_exponent": "quantity",
    "quantity_nan": "quantity",
    "quantity_negative_string": "quantity",
    "quantity_type_without_quantity": "quantityType",
    "quantity_zero": "quantity",
    "risk_percent_without_stop_loss": "stopLoss",
    "stop_loss_negative_price": "stopLoss.stopPrice",
    "stop_order_without_stop_price": "stopPrice",
    "take_profit_two_prices": "takeProfit",
    "time_without_zone": "time",
    "tradingview_placeholder_not_rendered": "ticker",
    "trailing_stop_with_both_trails": "trailAmount",
    "unknown_action": "action",
    "unknown_field_typo": "quantityTyp",
}


@pytest.fixture(scope="module")
def plugins():
    return make_plugin_manager(enabled=[])


def test_there_are_enough_examples() -> None:
    assert len(VALID) >= 10
    assert len(INVALID) >= 12


def test_every_invalid_example_has_an_expected_field() -> None:
    assert sorted(p.stem for p in INVALID) == sorted(EXPECTED_FIELD)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_example_parses(path: Path, plugins) -> None:
    alert = parse_alert(path.read_bytes(), "application/json", plugins)
    assert alert.ticker
    assert "passphrase" not in alert.public_dict()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_example_names_its_field(path: Path, plugins) -> None:
    with pytest.raises(AlertError) as info:
        parse_alert(path.read_bytes(), "application/json", plugins)
    errors = alert_errors(info.value)
    assert len(errors) == 1, [str(e) for e in errors]
    assert errors[0].field == EXPECTED_FIELD[path.stem]
    assert errors[0].reason and "\n" not in str(errors[0])
    assert str(info.value) == str(errors[0])
