"""Kraken spot REST request signing (API-Sign), exactly as Kraken documents it.

``API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))`` where
``body`` is the exact byte string sent and ``path`` is the URI path without host or query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


class BadSecret(ValueError):
    """The API secret is not valid base64; the message never contains the secret."""


def decode_secret(secret_b64: str) -> bytes:
    try:
        return base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError):
        raise BadSecret("the Kraken API secret is not valid base64") from None


def sign(secret: bytes, path: str, nonce: str, body: str) -> str:
    """The API-Sign header for ``body`` (which must contain ``nonce``) sent to ``path``:
    ``base64(HMAC-SHA512(secret, path + SHA256(nonce + body)))``."""
    return Signer(secret).sign(path, nonce, body)


class Signer:
    """``sign`` with one secret, for a client that signs many requests.

    The HMAC state after the key and a path is kept for each path, so a request hashes only
    its own nonce and body.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._by_path: dict[str, hmac.HMAC] = {}

    def __repr__(self) -> str:
        return "<kraken-spot Signer>"  # never the secret

    def sign(self, path: str, nonce: str, body: str) -> str:
        keyed = self._by_path.get(path)
        if keyed is None:
            keyed = self._by_path[path] = hmac.new(self._secret, path.encode(), hashlib.sha512)
        mac = keyed.copy()
        mac.update(hashlib.sha256((nonce + body).encode()).digest())
        return base64.b64encode(mac.digest()).decode()


def verify(secret: bytes, path: str, nonce: str, body: str, signature: str) -> bool:
    """Constant-time check of a received API-Sign (used by the fake venue)."""
    return hmac.compare_digest(sign(secret, path, nonce, body), signature)
