"""BrokerContract's secret check also reads the broker's own attributes: ``vars()`` a few
levels down, containers included, each value's repr and str. Secrets held as ``SecretStr`` or
``SecretBytes`` pass (they mask themselves); the core's context, whose environment holds the
secrets by design, is not the broker's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr

from router_core import (
    Balance,
    Broker,
    BrokerConfig,
    BrokerContext,
    Instrument,
    InstrumentKind,
    NonceRegistry,
    OrderResult,
    OrderStatus,
    Position,
    RateLimiterRegistry,
    UnknownSymbol,
)
from router_core.testing import BrokerContract
from router_core.testing.contract import ATTRIBUTE_DEPTH

SECRET = "attr-very-secret-value"


class Signer:
    def __init__(self, key: Any) -> None:
        self.key = key


class LeakySigner:
    __slots__ = ("__key",)

    def __init__(self, key: str) -> None:
        self.__key = key


class ChattySigner:
    def __init__(self, key: str) -> None:
        self._key = SecretStr(key)

    def __repr__(self) -> str:
        return f"<ChattySigner {self._key.get_secret_value()}>"


class AttrConfig(BrokerConfig):
    api_secret_env: str = "ATTR_SECRET"


class AttrBroker(Broker):
    """Holds its secret the way ``how`` says (set in the test before building it)."""

    name = "attr"
    Config = AttrConfig
    how = "secretstr"

    def __init__(self, config: AttrConfig, context: BrokerContext) -> None:
        super().__init__(config, context)
        secret = context.secret(config.api_secret_env, key="api_secret_env")
        clear = secret.get_secret_value()
        self.env = context.environ  # the core's: not checked
        self.signer: object = None
        self.ctx_copy = context  # likewise
        if self.how == "secretstr":
            self.client = Signer(secret)
            self.raw = Signer(SecretBytes(clear.encode()))
        elif self.how == "string":
            self._secret = clear
        elif self.how == "dict":
            self.client = Signer({"API-Key": clear})
        elif self.how == "nested-dict":  # one level below the walk's depth: its repr shows it
            self.client = Signer({"headers": {"API-Key": clear}})
        elif self.how == "list":
            self.keys = ["public", clear]
        elif self.how == "bytes":
            self.client = Signer(clear.encode())
        elif self.how == "slots":
            self.signer = LeakySigner(clear)
        elif self.how == "repr":
            self.signer = ChattySigner(clear)
        elif self.how == "too-deep":
            self.a = Signer(Signer(Signer(Signer(clear))))
        elif self.how == "cycle":
            first = Signer(None)
            first.key = Signer(first)
            self.loop = first

    async def resolve(self, symbol):
        if symbol.ticker != "BTCUSD":
            raise UnknownSymbol(f"attr: no {symbol.ticker}")
        return Instrument("BTCUSD", "BTC", "USD", InstrumentKind.SPOT, Decimal("0.01"),
                          Decimal("0.001"))

    async def balance(self, currency=None):
        return Balance("USD", Decimal(0), Decimal(0))

    async def position(self, instrument):
        return Position(instrument.symbol, Decimal(0))

    async def submit_order(self, order):
        return OrderResult(OrderStatus.DENIED, order.client_order_id, reason="attr: no")


class _Contract(BrokerContract):
    known_symbol = "BTCUSD"
    secrets = [SECRET]


def _broker(tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> AttrBroker:
    monkeypatch.setattr(AttrBroker, "how", how)
    context = BrokerContext(account="test", state_dir=tmp_path, nonces=NonceRegistry(None),
                            limiters=RateLimiterRegistry(), environ={"ATTR_SECRET": SECRET})
    return AttrBroker(AttrConfig(), context)


async def _check(broker: Broker) -> str | None:
    """The contract's failure message, or None when it passes."""
    try:
        await _Contract().test_secrets_absent_from_reprs_and_errors(broker)
    except pytest.fail.Exception as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("how", ["secretstr", "too-deep", "cycle"])
async def test_masked_or_out_of_reach_secrets_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    assert await _check(_broker(tmp_path, how, monkeypatch)) is None


@pytest.mark.parametrize(("how", "where"), [
    ("string", "broker._secret (a string attribute)"),
    ("dict", "broker.client.key['API-Key'] (a string attribute)"),
    ("nested-dict", "repr(broker.client.key['headers'])"),
    ("list", "broker.keys[1] (a string attribute)"),
    ("bytes", "broker.client.key (a bytes attribute)"),
    ("slots", "broker.signer.__key (a string attribute)"),
    ("repr", "repr(broker.signer)"),
])
async def test_a_secret_held_in_clear_fails_naming_the_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, where: str
) -> None:
    message = await _check(_broker(tmp_path, how, monkeypatch))
    assert message is not None
    assert message.startswith(f"attr: {where} contains the secret att...;"), message
    assert SECRET not in message


def test_the_depth_is_small() -> None:
    assert ATTRIBUTE_DEPTH == 3
