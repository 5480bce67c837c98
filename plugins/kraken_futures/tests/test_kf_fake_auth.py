"""The fake checks Authent and nonces the way Kraken documents them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
from router_kraken_futures.fake import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures
from router_kraken_futures.signing import authent, decode_secret

from router_core.testing import FakeClock

PATH = "/derivatives/api/v3/accounts"


def _client(fake: FakeKrakenFutures) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url="http://127.0.0.1:9")


def _full_path_authent(path: str, post_data: str, nonce: str) -> str:
    digest = hashlib.sha256((post_data + nonce + path).encode()).digest()
    mac = hmac.new(base64.b64decode(FAKE_API_SECRET), digest, hashlib.sha512).digest()
    return base64.b64encode(mac).decode()


async def test_fake_accepts_the_documented_signature() -> None:
    fake = FakeKrakenFutures(clock=FakeClock())
    headers = {"APIKey": FAKE_API_KEY, "Nonce": "1700000000001",
               "Authent": authent(decode_secret(FAKE_API_SECRET), PATH, "", "1700000000001")}
    async with _client(fake) as client:
        answer = (await client.get(PATH, headers=headers)).json()
    assert answer["result"] == "success"
    assert "flex" in answer["accounts"]


async def test_fake_rejects_a_signature_over_the_derivatives_path() -> None:
    fake = FakeKrakenFutures(clock=FakeClock())
    headers = {"APIKey": FAKE_API_KEY, "Nonce": "1700000000001",
               "Authent": _full_path_authent(PATH, "", "1700000000001")}
    async with _client(fake) as client:
        answer = json.loads((await client.get(PATH, headers=headers)).content)
    assert answer == {"result": "error", "serverTime": answer["serverTime"],
                      "error": "authenticationError"}
    assert fake.auth_failures == ["signed over the /derivatives path"]


async def test_fake_rejects_replayed_and_lower_nonces() -> None:
    fake = FakeKrakenFutures(clock=FakeClock())
    secret = decode_secret(FAKE_API_SECRET)

    def headers(nonce: str) -> dict[str, str]:
        return {"APIKey": FAKE_API_KEY, "Nonce": nonce,
                "Authent": authent(secret, PATH, "", nonce)}

    async with _client(fake) as client:
        first = (await client.get(PATH, headers=headers("1700000000005"))).json()
        again = (await client.get(PATH, headers=headers("1700000000005"))).json()
        lower = (await client.get(PATH, headers=headers("1700000000004"))).json()
    assert first["result"] == "success"
    assert again["error"] == "nonceDuplicate"
    assert lower["error"] == "nonceBelowThreshold"
    assert fake.nonce_errors == 2


async def test_fake_signs_the_encoded_query_string() -> None:
    fake = FakeKrakenFutures(clock=FakeClock())
    path = "/derivatives/api/v3/orders/status"
    query = "cliOrdIds=a%20b"
    nonce = "1700000000009"
    headers = {"APIKey": FAKE_API_KEY, "Nonce": nonce,
               "Authent": authent(decode_secret(FAKE_API_SECRET), path, query, nonce)}
    async with _client(fake) as client:
        answer = (await client.post(f"{path}?{query}", headers=headers)).json()
    assert answer["result"] == "success"
    assert answer["orders"] == []


async def test_fake_enforces_the_500_per_10_seconds_budget() -> None:
    clock = FakeClock()
    fake = FakeKrakenFutures(clock=clock)
    secret = decode_secret(FAKE_API_SECRET)
    answers = []
    async with _client(fake) as client:
        for n in range(252):  # accounts costs 2: 250 fit in 500
            nonce = str(1_700_000_000_000 + n)
            headers = {"APIKey": FAKE_API_KEY, "Nonce": nonce,
                       "Authent": authent(secret, PATH, "", nonce)}
            answers.append((await client.get(PATH, headers=headers)).json())
            if n == 250:
                clock.advance(0.04)  # 2 units refill: one more call fits
    assert [a["result"] for a in answers[:250]] == ["success"] * 250
    assert answers[250]["error"] == "apiLimitExceeded"
    assert answers[251]["result"] == "success"
    assert fake.rate_limited == 1
