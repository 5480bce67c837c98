"""Kraken's published Authent vectors, the derived regression values, and the encoding."""

from __future__ import annotations

import base64
from decimal import Decimal
from urllib.parse import quote

import pytest
from router_kraken_futures.client import encode_params, parse_json
from router_kraken_futures.signing import (
    Authenticator,
    InvalidSecret,
    authent,
    decode_secret,
    sign_challenge,
)

SDK_SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
WS_SECRET = (
    "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm"
)


def test_rest_vector_signs_without_the_derivatives_prefix() -> None:
    assert base64.b64decode(SDK_SECRET) == b"python-kraken-sdk unit-test secret value"
    value = authent(
        decode_secret(SDK_SECRET), "/derivatives/api/v3/sendorder",
        "orderType=lmt&symbol=PI_XBTUSD", "1616492376594",
    )
    assert value == (
        "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="
    )


def test_keeping_the_prefix_would_give_another_value() -> None:
    import hashlib
    import hmac

    message = "orderType=lmt&symbol=PI_XBTUSD" + "1616492376594" + "/derivatives/api/v3/sendorder"
    wrong = base64.b64encode(
        hmac.new(base64.b64decode(SDK_SECRET), hashlib.sha256(message.encode()).digest(),
                 hashlib.sha512).digest()
    ).decode()
    right = authent(decode_secret(SDK_SECRET), "/derivatives/api/v3/sendorder",
                    "orderType=lmt&symbol=PI_XBTUSD", "1616492376594")
    assert wrong != right


def test_websocket_challenge_vector() -> None:
    assert sign_challenge(decode_secret(WS_SECRET), "c100b894-1729-464d-ace1-52dbce11db42") == (
        "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="
    )


@pytest.mark.parametrize(
    ("post_data", "nonce", "path", "expected"),
    [
        ("symbol=fi_xbtusd_180615", "1415957147987", "/api/v3/orderbook",
         "JHLjN8OUDYaXjHRGT0z4nUvJorORrXoL9omot4BK5ihtp6jKHPHfzX9MrpVjqAgKqGJejoO3gySwoVCMJQlx/Q=="),
        ("symbol=fi_xbtusd_180615", "", "/api/v3/orderbook",
         "wbTnNJcBmSp0+Ls8kuc45sTuKvRMQ3Gx5Wwz5cpEZ2Jxrj2Fu6Ov6VMkuklFHPhIIYWUXA2iCmjMLrcNcl57yg=="),
        ("orderType=mkt&symbol=PF_XBTUSD&side=buy&size=0.001&cliOrdId=tv-123", "1700000000000",
         "/derivatives/api/v3/sendorder",
         "pSd0TrQb93y5InBStslu0VkavnKjMD4Nf+ymSAWN1wwtcjHgs3+vjTno220vhW5I2lRDexaDx297FYncsTZwMQ=="),
    ],
)
def test_derived_vectors(post_data: str, nonce: str, path: str, expected: str) -> None:
    assert authent(decode_secret(WS_SECRET), path, post_data, nonce) == expected


def test_the_rest_docs_example_secret_is_not_base64() -> None:
    with pytest.raises(InvalidSecret) as info:
        decode_secret("rttp4AzwRfYEdQ7R7X8Z/04Y4TZPa97pqCypi3xXxAqftygftnI6H9yGV+OcUOOJeFtZkr8mVwbAndU3Kz4Q+eG")
    assert "rttp4" not in str(info.value)


def test_params_are_percent_encoded_in_order() -> None:
    assert encode_params({"greeting": "hello world"}) == "greeting=hello%20world"
    assert encode_params({"b": "1", "a": "2"}) == "b=1&a=2"
    assert encode_params({"processBefore": "2026-01-01T00:00:00.000Z"}) == (
        "processBefore=2026-01-01T00%3A00%3A00.000Z"
    )
    assert encode_params({"cliOrdIds": ["x", "y"]}) == "cliOrdIds=x&cliOrdIds=y"
    assert encode_params(None) == ""


def test_encode_params_quotes_exactly_as_urllib_quote() -> None:
    # the fast path for unreserved text must send what quote(..., safe="") sends: it is signed
    values = ["", "lmt", "0.0001", "PF_XBTUSD", "-1.5", "a b", "a+b", "a&b=c", "x=y", "~_.-",
              "2026-12-04T15:53:07.289Z", "100%", "é", "日本", "🚀", "tab\t", "[]", "/", "%41",
              "\x00", "\x7f", "d25fb028-ee68-4c71-939f-e6a2c3751656"]
    for key in ("symbol", "a b", "ключ"):
        for value in values:
            assert encode_params({key: value}) == f"{quote(key, safe='')}={quote(value, safe='')}"
    assert encode_params({"ids": values}) == "&".join(f"ids={quote(v, safe='')}" for v in values)


def test_authenticator_signs_as_authent_does() -> None:
    secret = decode_secret(SDK_SECRET)
    signer = Authenticator(secret)
    for path, post_data, nonce in (("/derivatives/api/v3/sendorder", "a=1&b=x%20y", "1"),
                                   ("/api/history/v2/executions", "", ""),
                                   ("/derivatives/api/v3/sendorder", "", "1700000000000")):
        assert signer.authent(path, post_data, nonce) == authent(secret, path, post_data, nonce)
    assert SDK_SECRET[:8] not in repr(signer)


def test_answers_parse_with_decimal_fractions_and_refuse_what_is_not_json() -> None:
    payload = parse_json(b'{"result": "success", "price": 40000.5, "size": 2, "name": "\\u00e9"}')
    assert payload == {"result": "success", "price": Decimal("40000.5"), "size": 2, "name": "é"}
    assert isinstance(payload["price"], Decimal)
    for garbage in (b"", b"<html>", b"\xff\xfe{}", b'{"a": 1} x'):
        with pytest.raises(ValueError):
            parse_json(garbage)
