"""The fake's extra keys (several accounts on one fake, benchmarks) and its cl_ord_id index."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import extra_key
from router_kraken_spot.testing import make_broker, make_context, make_order

from router_core import BrokerError, OrderStatus, OrderType
from router_core import normalize_ticker as normalize


async def test_each_extra_key_signs_with_its_own_secret_and_nonces(tmp_path: Path) -> None:
    key1, secret1 = extra_key(1)
    key2, secret2 = extra_key(2)
    assert key1 != key2 and secret1 != secret2
    fake = FakeKraken(extra_keys=dict([extra_key(1), extra_key(2)]))
    for number, (key, secret) in enumerate(((key1, secret1), (key2, secret2))):
        context = make_context(tmp_path / str(number), fake, account=f"a{number}",
                               environ={"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret})
        broker = make_broker(context)
        await broker.start()
        await broker.balance("USD")
        await broker.close()
    assert set(fake.last_nonce) == {key1, key2}
    assert fake.errors_sent == {}


async def test_a_key_the_fake_does_not_know_is_refused(tmp_path: Path) -> None:
    key, secret = extra_key(3)
    fake = FakeKraken(extra_keys=dict([extra_key(1)]))
    context = make_context(tmp_path, fake,
                           environ={"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret})
    broker = make_broker(context)
    await broker.start()
    try:
        await broker.balance("USD")
    except Exception as exc:  # the typed AuthError
        assert "Invalid key" in str(exc)
    else:
        raise AssertionError("an unknown key was accepted")
    finally:
        await broker.close()


async def test_an_open_cl_ord_id_is_refused_and_free_again_once_canceled(
        tmp_path: Path) -> None:
    fake = FakeKraken()
    broker = make_broker(make_context(tmp_path, fake))
    await broker.start()
    try:
        btc = await broker.resolve(normalize("XBTUSD"))
        cid = "6f1c2a4e-0000-4000-8000-000000000001"
        resting = make_order(btc, order_type=OrderType.LIMIT, limit_price=Decimal("40000"),
                             quantity="0.001", client_order_id=cid)
        await broker.submit_order(resting)
        with pytest.raises(BrokerError, match="cl_ord_id"):
            await broker.submit_order(resting)
        await broker.cancel_order(cid, btc)
        again = await broker.submit_order(resting)
        assert again.status is OrderStatus.ACCEPTED
        assert len(fake.orders) == 2
    finally:
        await broker.close()
