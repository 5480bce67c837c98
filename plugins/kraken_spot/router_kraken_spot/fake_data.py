"""Starting state of the fake Kraken: the official AssetPairs example plus a few more pairs."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from importlib import resources
from typing import Any

FAKE_API_KEY = "fake-kraken-api-key"  # not a real key: the fake's default
# 64 bytes of base64 derived from a fixed phrase; not a real secret
FAKE_API_SECRET = (
    "ZmFrZS1rcmFrZW4tc2VjcmV0LWZvci1hbGVydC1yb3V0ZXItdGVzdHMtb25seS0wMTIzNDU2Nzg5YWJjZGVmMDE="  # noqa: S105
)


def extra_key(number: int) -> tuple[str, str]:
    """The fake's ``number``-th extra (API key, base64 secret): deterministic, not real."""
    key = f"{FAKE_API_KEY}-{number}"
    return key, base64.b64encode(hashlib.sha512(key.encode()).digest()).decode()


def _pair(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    pair = copy.deepcopy(template)
    pair.update(changes)
    return pair


def default_pairs() -> dict[str, dict[str, Any]]:
    """Kraken's published AssetPairs example (XETHXXBT, XXBTZUSD) and four more pairs."""
    text = resources.files("router_kraken_spot").joinpath("data/asset_pairs.json").read_text()
    pairs: dict[str, dict[str, Any]] = json.loads(text)["result"]
    btc = pairs["XXBTZUSD"]
    pairs["XDGUSD"] = _pair(
        btc, altname="XDGUSD", wsname="XDG/USD", base="XXDG", quote="ZUSD", pair_decimals=7,
        lot_decimals=8, cost_decimals=5, ordermin="50", costmin="0.5", tick_size="0.0000001",
        leverage_buy=[2, 3], leverage_sell=[2, 3],
    )
    pairs["XBTUSDT"] = _pair(
        btc, altname="XBTUSDT", wsname="XBT/USDT", base="XXBT", quote="USDT", pair_decimals=1,
        tick_size="0.1", leverage_buy=[], leverage_sell=[],
    )
    pairs["SOLUSD"] = _pair(
        btc, altname="SOLUSD", wsname="SOL/USD", base="SOL", quote="ZUSD", pair_decimals=2,
        lot_decimals=8, ordermin="0.02", costmin="0.5", tick_size="0.01", status="cancel_only",
    )
    pairs["ADAUSD"] = _pair(
        btc, altname="ADAUSD", wsname="ADA/USD", base="ADA", quote="ZUSD", pair_decimals=6,
        lot_decimals=8, ordermin="5", costmin="0.5", tick_size="0.000001",
        leverage_buy=[], leverage_sell=[],
    )
    del pairs["ADAUSD"]["status"]  # ~13% of live pairs carry no status: treated as online
    return pairs


DEFAULT_PRICES = {
    "XXBTZUSD": "50000.0",
    "XETHXXBT": "0.05",
    "XDGUSD": "0.1",
    "XBTUSDT": "50000.0",
    "SOLUSD": "150.00",
    "ADAUSD": "0.5",
}

DEFAULT_BALANCES = {
    "ZUSD": "100000.0000",
    "XXBT": "2.0000000000",
    "XETH": "10.0000000000",
    "USDT": "10000.00000000",
    "XXDG": "0.00000000",
}
