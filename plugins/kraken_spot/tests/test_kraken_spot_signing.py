"""API-Sign against Kraken's published test vector, and the fake's checks of it."""

from __future__ import annotations

import base64

import httpx
from router_kraken_spot.fake import FakeKraken
from router_kraken_spot.fake_data import FAKE_API_KEY, FAKE_API_SECRET
from router_kraken_spot.signing import decode_secret, sign, verify

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
NONCE = "1616492376594"
BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
PATH = "/0/private/AddOrder"
EXPECTED = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_published_vector() -> None:
    assert sign(decode_secret(SECRET), PATH, NONCE, BODY) == EXPECTED


def test_json_body_regression_value() -> None:
    body = ('{"nonce": "1616492376594", "ordertype": "limit", "pair": "XBTUSD", '
            '"price": 37500, "type": "buy", "volume": 1.25}')
    assert sign(decode_secret(SECRET), PATH, NONCE, body) == (
        "xojekerxRL59CSvi3027oZ1+nMQF0TgqD5QE569qR8tgSJ4tAhoVYVGhSEciXkufsn6foHHVi0N3Utiarvg74w=="
    )


def test_verify_rejects_any_change() -> None:
    secret = decode_secret(SECRET)
    assert verify(secret, PATH, NONCE, BODY, EXPECTED)
    assert not verify(secret, PATH, NONCE, BODY.replace("1.25", "1.26"), EXPECTED)
    assert not verify(secret, "/0/private/CancelOrder", NONCE, BODY, EXPECTED)


async def _post(fake: FakeKraken, body: str, *, secret: str = FAKE_API_SECRET,
                key: str = FAKE_API_KEY, signed_body: str | None = None) -> list[str]:
    nonce = body.split("&")[0].split("=")[1]
    signature = sign(decode_secret(secret), "/0/private/BalanceEx", nonce, signed_body or body)
    async with httpx.AsyncClient(transport=fake.transport(), base_url="http://127.0.0.1") as c:
        response = await c.post("/0/private/BalanceEx", content=body,
                                headers={"API-Key": key, "API-Sign": signature})
    return response.json()["error"]


async def test_fake_accepts_a_correct_signature() -> None:
    assert await _post(FakeKraken(), "nonce=100") == []


async def test_fake_rejects_tampered_body() -> None:
    errors = await _post(FakeKraken(), "nonce=100&asset=ZEUR", signed_body="nonce=100&asset=ZUSD")
    assert errors == ["EAPI:Invalid signature"]


async def test_fake_rejects_wrong_secret() -> None:
    other = base64.b64encode(b"x" * 64).decode()
    assert await _post(FakeKraken(), "nonce=100", secret=other) == ["EAPI:Invalid signature"]


async def test_fake_rejects_wrong_key() -> None:
    assert await _post(FakeKraken(), "nonce=100", key="someone-else") == ["EAPI:Invalid key"]


async def test_fake_rejects_replayed_and_lower_nonce() -> None:
    fake = FakeKraken()
    assert await _post(fake, "nonce=100") == []
    assert await _post(fake, "nonce=100") == ["EAPI:Invalid nonce"]
    assert await _post(fake, "nonce=99") == ["EAPI:Invalid nonce"]
    assert await _post(fake, "nonce=101") == []


async def test_fake_accepts_extra_keys_with_their_own_nonces() -> None:
    from router_kraken_spot.fake_data import extra_key

    key, secret = extra_key(1)
    fake = FakeKraken(extra_keys={key: secret})
    assert await _post(fake, "nonce=100") == []
    assert await _post(fake, "nonce=100", key=key, secret=secret) == []  # its own nonce
    assert await _post(fake, "nonce=101", key=key) == ["EAPI:Invalid signature"]
