"""Each stub's Config: credentials as environment variable names, environments, strictness."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from router_propfirms.matchtrader import MatchTraderBroker, MatchTraderConfig
from router_propfirms.projectx import ProjectXBroker, ProjectXConfig
from router_propfirms.rithmic import RithmicBroker
from router_propfirms.tradelocker import TradeLockerBroker, TradeLockerConfig
from router_propfirms.tradovate import TradovateBroker, TradovateConfig

from router_core import BrokerConfig

# broker -> (credential env-name fields, environment field and its choices)
EXPECTED = {
    TradovateBroker: (
        {"username_env", "password_env", "cid_env", "sec_env"}, "environment", ["demo", "live"]
    ),
    RithmicBroker: (
        {"username_env", "password_env"}, "environment", ["test", "paper", "live"]
    ),
    TradeLockerBroker: ({"email_env", "password_env"}, "environment", ["demo", "live"]),
    MatchTraderBroker: (
        {"email_env", "password_env", "trader_api_token_env"}, "environment", ["sandbox", "prod"]
    ),
    ProjectXBroker: (
        {"username_env", "api_key_env"}, "gateway", ["demo", "topstepx", "custom"]
    ),
}

BROKERS = list(EXPECTED)


def _enum(schema: dict[str, Any], field: str) -> list[str]:
    prop = schema["properties"][field]
    return prop.get("enum") or prop["anyOf"][0]["enum"]


@pytest.mark.parametrize("cls", BROKERS)
def test_schema_names_credentials_and_environment(cls: Any) -> None:
    env_fields, environment, choices = EXPECTED[cls]
    assert issubclass(cls.Config, BrokerConfig)
    schema = cls.Config.model_json_schema()
    assert env_fields <= set(schema["properties"])
    assert _enum(schema, environment) == choices
    assert schema["additionalProperties"] is False
    assert "roll_days_before_expiry" in schema["properties"] or cls in (
        TradeLockerBroker, MatchTraderBroker,
    )


@pytest.mark.parametrize("cls", BROKERS)
def test_unknown_key_is_rejected(cls: Any, required_settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        cls.Config.model_validate({**required_settings[cls.name], "api_secret": "hunter2"})
    error = caught.value.errors()[0]
    assert (error["type"], error["loc"]) == ("extra_forbidden", ("api_secret",))


@pytest.mark.parametrize("cls", BROKERS)
def test_defaults_validate_and_secrets_are_only_named(
    cls: Any, required_settings: dict[str, Any]
) -> None:
    config = cls.Config.model_validate(required_settings[cls.name])
    env_fields, _, _ = EXPECTED[cls]
    for field in env_fields:
        value = getattr(config, field)
        assert value is None or (value.isupper() and " " not in value)


@pytest.mark.parametrize("cls", BROKERS)
def test_an_env_name_must_look_like_a_variable_name(
    cls: Any, required_settings: dict[str, Any]
) -> None:
    # a pasted secret (spaces, symbols) is not a variable name and is refused
    field = sorted(EXPECTED[cls][0])[0]
    with pytest.raises(ValidationError) as caught:
        cls.Config.model_validate({**required_settings[cls.name], field: "s3cr3t pa$$"})
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("cls", "missing"),
    [
        (TradovateBroker, "app_id"),
        (RithmicBroker, "gateway_url"),
        (RithmicBroker, "system_name"),
        (TradeLockerBroker, "server"),
    ],
)
def test_required_fields(cls: Any, missing: str, required_settings: dict[str, Any]) -> None:
    settings = {k: v for k, v in required_settings[cls.name].items() if k != missing}
    with pytest.raises(ValidationError) as caught:
        cls.Config.model_validate(settings)
    assert caught.value.errors()[0]["loc"] == (missing,)


def test_environment_urls() -> None:
    assert TradovateConfig(app_id="a").rest_url == "https://demo.tradovateapi.com/v1"
    assert TradovateConfig(app_id="a", environment="live").rest_url == (
        "https://live.tradovateapi.com/v1"
    )
    assert TradeLockerConfig(server="S", environment="live").rest_url == (
        "https://live.tradelocker.com/backend-api"
    )
    assert ProjectXConfig().gateway_url == "https://gateway-api-demo.s2f.projectx.com"
    assert ProjectXConfig(gateway="topstepx").gateway_url == "https://api.topstepx.com"
    assert MatchTraderConfig(broker_id="1").api_url == "https://mtr-demo-prod.match-trader.com"
    assert MatchTraderConfig(api="trader", trader_api_token_env="MT_TOKEN").api_url == (
        "https://trader-api.match-trader.com"
    )


def test_rithmic_gateway_must_be_a_websocket_url(required_settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RithmicBroker.Config.model_validate(
            {**required_settings["rithmic"], "gateway_url": "http://rithmic.example"}
        )


def test_projectx_custom_gateway_needs_base_url() -> None:
    with pytest.raises(ValidationError, match="gateway 'custom' needs base_url"):
        ProjectXConfig(gateway="custom")
    config = ProjectXConfig(gateway="custom", base_url="https://api.firm.example")
    assert config.gateway_url == "https://api.firm.example"


def test_projectx_root_overrides_are_validated() -> None:
    with pytest.raises(ValidationError):
        ProjectXConfig(root_overrides={"es": "EP"})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "api 'platform' needs broker_id"),
        ({"broker_id": "1", "environment": "prod"}, "in prod needs base_url"),
        ({"api": "trader"}, "api 'trader' needs trader_api_token_env"),
    ],
)
def test_matchtrader_api_choice_needs_its_fields(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MatchTraderConfig.model_validate(settings)


def test_roll_days_are_bounded() -> None:
    with pytest.raises(ValidationError):
        TradovateConfig(app_id="a", roll_days_before_expiry=-1)
