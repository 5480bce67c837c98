"""No funding endpoint can be called; secrets stay out of reprs, errors and logs; config."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pydantic
import pytest
import router_kraken_spot
from router_kraken_spot.client import KrakenSpotClient
from router_kraken_spot.config import KrakenSpotConfig
from router_kraken_spot.endpoints import ENDPOINTS, EndpointNotAllowed, permissions
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import FAKE_API_KEY, FAKE_API_SECRET
from router_kraken_spot.testing import make_broker, make_context, make_order

from router_core import AuthError, ConfigError, InvalidOrder
from router_core import normalize_ticker as normalize

PACKAGE = Path(router_kraken_spot.__file__).parent
# Kraken's funding, transfer and earn endpoint names (case matters: they are CamelCase)
FUNDING = re.compile(r"\b(Withdraw\w*|Deposit\w*|WalletTransfer|AccountTransfer|Earn\w*|"
                     r"Stake|Unstake|Allocate\w*|Deallocate\w*)\b")


def test_package_source_names_no_funding_endpoint() -> None:
    for sample in ("/0/private/Withdraw", "DepositAddresses", "WalletTransfer", "Earn/Allocate"):
        assert FUNDING.search(sample)  # the scan would see one
    for source in PACKAGE.rglob("*.py"):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            assert not FUNDING.search(line), f"{source.name}:{number}: {line.strip()}"


def test_allowlist_holds_only_trading_and_query_endpoints() -> None:
    names = {endpoint.name for endpoint in ENDPOINTS.values()}
    assert names == {"Time", "AssetPairs", "Ticker", "BalanceEx", "TradeBalance", "OpenOrders",
                     "ClosedOrders", "OpenPositions", "AddOrder", "CancelOrder",
                     "TradesHistory", "GetWebSocketsToken"}  # the last two: the fill stream
    assert not any(FUNDING.search(name) for name in names)
    assert all(p in ("Funds: Query", "WebSocket interface: On")
               or p.startswith("Orders and trades") for p in permissions())


@pytest.mark.parametrize("method", ["Withdraw", "WithdrawInfo", "DepositAddresses",
                                    "WalletTransfer", "WithdrawCancel", "Ledgers", "../AddOrder"])
async def test_calls_outside_the_allowlist_raise_before_sending(broker, fake, method) -> None:
    before = len(fake.calls)
    with pytest.raises(EndpointNotAllowed):
        await broker.client.private(method, [("asset", "XBT"), ("amount", "1")])
    with pytest.raises(EndpointNotAllowed):
        await broker.client.public(method)
    assert len(fake.calls) == before


async def test_secrets_absent_from_reprs_errors_and_logs(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeKraken()
    broker = make_broker(make_context(tmp_path, fake))
    texts = [repr(broker), str(broker), repr(broker.config), repr(broker.client),
             broker.config.model_dump_json()]
    await broker.start()
    btc = await broker.resolve(normalize("XBTUSD"))
    fake.fail_next("AddOrder", "EAPI:Invalid signature")
    with pytest.raises(AuthError) as refused:
        await broker.submit_order(make_order(btc))
    with pytest.raises(InvalidOrder) as denied:
        await broker.submit_order(make_order(btc, quantity="0.000000001"))
    await broker.submit_order(make_order(btc))
    await broker.close()
    texts += [str(refused.value), repr(refused.value), str(denied.value)]
    texts += [record.getMessage() for record in caplog.records]
    secret_bytes_b64 = FAKE_API_SECRET[:20]
    for text in texts:
        assert FAKE_API_KEY not in text and secret_bytes_b64 not in text
        assert "API-Sign" not in text


def test_missing_or_bad_secret_is_a_config_error_without_the_value(tmp_path) -> None:
    fake = FakeKraken()
    with pytest.raises(ConfigError) as missing:
        make_broker(make_context(tmp_path, fake, environ={"KRAKEN_API_SECRET": ""}))
    assert "KRAKEN_API_SECRET" in str(missing.value)
    bad = "not base64 %%% secret-value"
    with pytest.raises(ConfigError) as invalid:
        make_broker(make_context(tmp_path, fake, environ={"KRAKEN_API_SECRET": bad}))
    assert "base64" in str(invalid.value) and bad not in str(invalid.value)


async def test_otp_is_sent_from_the_named_variable(tmp_path) -> None:
    fake = FakeKraken(otp="123456")
    context = make_context(tmp_path, fake, environ={"KRAKEN_OTP": "123456"})
    broker = make_broker(context, otp_env="KRAKEN_OTP")
    await broker.start()
    assert (await broker.balance("USD")).available > 0
    assert fake.calls[-1].fields["otp"] == "123456"
    assert "123456" not in repr(broker.client)
    await broker.close()


def test_config_schema_and_limits() -> None:
    config = KrakenSpotConfig.model_validate({"validate": True, "tier": "pro", "margin": True})
    assert config.validate_only and config.tier == "pro" and config.deadline_seconds == 10
    assert config.base_url == "https://api.kraken.com"
    assert "validate" in KrakenSpotConfig.model_json_schema(by_alias=True)["properties"]
    for bad in ({"deadline_seconds": 4}, {"deadline_seconds": 31}, {"tier": "gold"},
                {"api_secret": "x"}, {"base_url": "http://example.com"},
                {"timeout_seconds": 0}):
        with pytest.raises(pydantic.ValidationError):
            KrakenSpotConfig.model_validate(bad)
    assert KrakenSpotConfig(base_url="http://127.0.0.1:8765/").base_url == "http://127.0.0.1:8765"


def test_client_repr_names_only_a_fingerprint(tmp_path) -> None:
    client = KrakenSpotClient(KrakenSpotConfig(), make_context(tmp_path, FakeKraken()))
    assert FAKE_API_KEY not in repr(client) and client.key_id in repr(client)
