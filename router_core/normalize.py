"""Read a TradingView-style ticker into a venue-neutral CanonicalSymbol.

Only the broker knows its venue's names (``XXBTZUSD``, ``PF_XBTUSD``, ``NQM5``); this module
only takes the ticker apart: exchange prefix, perpetual suffix, futures root, month and year,
crypto base and quote. ``XBT`` and ``XDG`` become ``BTC`` and ``DOGE`` so brokers see one
spelling. A dash pair (``BTC-USDT``, ``KRAKEN:ETH-USD``) reads as the slash pair ``BTC/USDT``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

from .errors import AlertError
from .models import CanonicalSymbol, InstrumentKind

MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December
ASSET_ALIASES = {"XBT": "BTC", "XDG": "DOGE"}
# "USDT" before "USD"; no quote here may end another one's base ("TUSD" would eat "XBTUSD").
QUOTES = (
    "USDT",
    "USDC",
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CAD",
    "CHF",
    "AUD",
    "XBT",
    "BTC",
    "ETH",
    "DAI",
)
PERPETUAL_SUFFIXES = (".PM", ".P", "PERP")
# Kraken Futures' own contract names say what they are: PF_/PI_ perpetual, FF_/FI_ dated.
VENUE_PREFIXES = {
    "PF_": InstrumentKind.PERPETUAL,
    "PI_": InstrumentKind.PERPETUAL,
    "FF_": InstrumentKind.FUTURE,
    "FI_": InstrumentKind.FUTURE,
}

_CONTINUOUS = re.compile(r"^([A-Z0-9]{1,6}?)(\d{1,2})!$")
_DATED = re.compile(r"^([A-Z][A-Z0-9]{0,5}?)([FGHJKMNQUVXZ])(\d{4}|\d{1,2})$")
_VALID = re.compile(r"^[A-Z0-9._/!:-]{1,40}$")


def asset(code: str) -> str:
    """The canonical spelling of an asset code (``XBT`` -> ``BTC``)."""
    code = code.upper()
    return ASSET_ALIASES.get(code, code)


def dash_pair_as_slash(ticker: str) -> str:
    """``BTC-USDT`` -> ``BTC/USDT``: one dash between a base and a known quote; else as given.

    The quote must be one of ``QUOTES``, so a share class such as ``BRK-B`` stays a name.
    """
    base, sep, quote = ticker.partition("-")
    if sep and base.isascii() and base.isalnum() and quote.upper() in QUOTES:
        return f"{base}/{quote}"
    return ticker


def split_pair(ticker: str) -> tuple[str, str] | None:
    """``BTCUSD``, ``BTC/USD`` or ``BTC-USD`` -> ``("BTC", "USD")``; ``None`` when no known
    quote ends the ticker."""
    ticker = dash_pair_as_slash(ticker)
    if "/" in ticker:
        base, _, quote = ticker.partition("/")
        return (asset(base), asset(quote)) if base and quote else None
    for quote in QUOTES:
        if ticker.endswith(quote) and len(ticker) > len(quote):
            return asset(ticker[: -len(quote)]), asset(quote)
    return None


def expand_year(digits: str, *, today: datetime | None = None) -> int:
    """A 1, 2 or 4 digit contract year as a full year, the nearest one not in the past decade."""
    if len(digits) == 4:
        return int(digits)
    now = (today or datetime.now(UTC)).year
    if len(digits) == 2:
        return 2000 + int(digits)
    decade = now - now % 10
    year = decade + int(digits)
    return year + 10 if year < now - 1 else year


@lru_cache(maxsize=4096)
def normalize(ticker: str) -> CanonicalSymbol:
    """Take a ticker apart. Raises AlertError on an empty or malformed ticker."""
    raw = ticker
    text = ticker.strip().upper()
    if not text or not _VALID.match(text):
        raise AlertError("ticker", f"{ticker!r} is not a symbol")
    prefix, sep, rest = text.rpartition(":")
    exchange = prefix if sep else None
    text = dash_pair_as_slash(rest)
    if not text:
        raise AlertError("ticker", f"{ticker!r} has an exchange but no symbol")

    if match := _CONTINUOUS.match(text):
        return CanonicalSymbol(
            raw=raw,
            exchange=exchange,
            kind=InstrumentKind.FUTURE,
            root=match.group(1),
            continuous=int(match.group(2)),
            ticker=text,
        )

    venue_kind = VENUE_PREFIXES.get(text[:3])
    if venue_kind is not None and len(text) > 3:  # a futures venue's own name: PF_XBTUSD
        pair = split_pair(text[3:].split("_")[0])
        return CanonicalSymbol(
            raw=raw,
            exchange=exchange,
            kind=venue_kind,
            base=pair[0] if pair else None,
            quote=pair[1] if pair else None,
            ticker=text,
        )

    for suffix in PERPETUAL_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            bare = dash_pair_as_slash(text[: -len(suffix)])
            pair = split_pair(bare)
            return CanonicalSymbol(
                raw=raw,
                exchange=exchange,
                kind=InstrumentKind.PERPETUAL,
                base=pair[0] if pair else None,
                quote=pair[1] if pair else None,
                ticker=bare,
            )

    pair = split_pair(text)
    if pair is None and (match := _DATED.match(text)):
        root, month, year = match.groups()
        root_pair = split_pair(root)
        return CanonicalSymbol(
            raw=raw,
            exchange=exchange,
            kind=InstrumentKind.FUTURE,
            root=root,
            base=root_pair[0] if root_pair else None,
            quote=root_pair[1] if root_pair else None,
            expiry_year=expand_year(year),
            expiry_month=MONTH_CODES.index(month) + 1,
            ticker=text,
        )
    return CanonicalSymbol(
        raw=raw,
        exchange=exchange,
        kind=InstrumentKind.SPOT,
        base=pair[0] if pair else text,
        quote=pair[1] if pair else None,
        ticker=text,
    )


# The public name: ``router_core.normalize`` is this module, so the function is exported as
# ``router_core.normalize_ticker``.
normalize_ticker = normalize
