"""form_encode must send exactly what urllib's urlencode sends: Kraken signs the body bytes."""

from __future__ import annotations

import random
import uuid
from urllib.parse import urlencode

from router_kraken_spot.form import form_encode
from router_kraken_spot.signing import Signer, decode_secret, sign

VALUES = [
    "", "limit", "0.0001", "40000", "XXBTZUSD", "-1.5", "+5", "+1.5%", "#5", "a b", "a+b",
    "a&b=c", "x=y", "post,fciq", "2026-12-04T15:53:07.289Z", "~tilde_under.score-dash",
    "close[ordertype]", "100%", "é", "naïve", "日本", "emoji 🚀", "tab\there", "line\nbreak",
    "quote\"s", "slash/back\\slash", "semi;colon", "q?u#e", "@at", "$", "*", "!", "'", "(", ")",
    str(uuid.uuid4()), "\x00", "\x7f", "%41",
]


def test_matches_urlencode_field_by_field() -> None:
    for key in ("nonce", "close[price]", "a b", "ключ", "k~"):
        for value in VALUES:
            fields = [(key, value)]
            assert form_encode(fields) == urlencode(fields), (key, value)


def test_matches_urlencode_on_random_bodies() -> None:
    rng = random.Random(17)
    alphabet = "aZ09-._~ +&=%:/?#[]@!$'()*,;é€日\t\n"
    for _ in range(2000):
        fields = [("".join(rng.choices(alphabet, k=rng.randint(0, 6))),
                   "".join(rng.choices(alphabet, k=rng.randint(0, 12))))
                  for _ in range(rng.randint(0, 8))]
        assert form_encode(fields) == urlencode(fields), fields


def test_an_add_order_body_is_unchanged() -> None:
    fields = [("nonce", "1733327400123456"), ("ordertype", "limit"), ("type", "buy"),
              ("volume", "0.0001"), ("pair", "XXBTZUSD"), ("price", "40000"),
              ("close[ordertype]", "take-profit"), ("close[price]", "+1.5%"),
              ("cl_ord_id", "d25fb028-ee68-4c71-939f-e6a2c3751656"),
              ("deadline", "2026-12-04T15:53:07.289Z")]
    assert form_encode(fields) == urlencode(fields)


def test_signer_signs_as_sign_does_for_each_path() -> None:
    secret = decode_secret(
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==")
    signer = Signer(secret)
    for path in ("/0/private/AddOrder", "/0/private/CancelOrder", "/0/private/AddOrder"):
        for nonce, body in (("1", "nonce=1"), ("1616492376594", "nonce=1616492376594&a=b")):
            assert signer.sign(path, nonce, body) == sign(secret, path, nonce, body)
    assert "kQH5" not in repr(signer)
