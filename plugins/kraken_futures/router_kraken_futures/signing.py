"""Kraken Futures request signatures (the ``Authent`` header) and the WebSocket challenge.

The signed path is the endpoint path *without* the ``/derivatives`` prefix: Kraken signs
``/api/v3/sendorder`` for the URL ``/derivatives/api/v3/sendorder``. History endpoints
(``/api/history/...``) have no prefix and are signed as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

DERIVATIVES_PREFIX = "/derivatives"


class InvalidSecret(ValueError):
    """The API secret is not valid base64; the message never contains the secret."""


def decode_secret(secret_b64: str) -> bytes:
    try:
        return base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("the API secret is not valid base64") from None


def signed_path(path: str) -> str:
    return path.removeprefix(DERIVATIVES_PREFIX)


def authent(secret: bytes, path: str, post_data: str, nonce: str = "") -> str:
    """``base64(HMAC-SHA512(secret, SHA256(postData + nonce + path)))``.

    ``post_data`` is the URL-encoded parameter string exactly as sent; ``nonce`` is ``""``
    when no ``Nonce`` header is sent.
    """
    return Authenticator(secret).authent(path, post_data, nonce)


class Authenticator:
    """``authent`` with one secret, for a client that signs many requests: the HMAC keyed
    with the secret is set up once and copied for each request (the same header, less CPU)."""

    def __init__(self, secret: bytes) -> None:
        self._keyed = hmac.new(secret, digestmod=hashlib.sha512)

    def __repr__(self) -> str:
        return "<kraken-futures Authenticator>"  # never the secret

    def authent(self, path: str, post_data: str, nonce: str = "") -> str:
        mac = self._keyed.copy()
        mac.update(hashlib.sha256((post_data + nonce + signed_path(path)).encode()).digest())
        return base64.b64encode(mac.digest()).decode()


def sign_challenge(secret: bytes, challenge: str) -> str:
    """The WebSocket ``signed_challenge`` for a ``challenge`` message."""
    digest = hashlib.sha256(challenge.encode()).digest()
    return base64.b64encode(hmac.new(secret, digest, hashlib.sha512).digest()).decode()
