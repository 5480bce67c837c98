"""A loopback fake of Kraken Futures for tests: ``FakeKrakenFutures`` is an ASGI app."""

from __future__ import annotations

from .app import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures, Recorded, Script
from .engine import Exchange, FakeOrder

__all__ = [
    "FAKE_API_KEY",
    "FAKE_API_SECRET",
    "Exchange",
    "FakeKrakenFutures",
    "FakeOrder",
    "Recorded",
    "Script",
]
