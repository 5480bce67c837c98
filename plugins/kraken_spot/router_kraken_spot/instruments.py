"""AssetPairs: loaded once, cached, refreshed on an unknown symbol at most once a minute.

Kraken spells one pair three ways (key ``XXBTZUSD``, altname ``XBTUSD``, wsname ``XBT/USD``),
TradingView and WebSocket v2 a fourth (``BTCUSD``, ``BTC/USD``), and Bitcoin and Dogecoin have
two asset codes each (XBT/BTC, XDG/DOGE). Every spelling is indexed to the pair key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from router_core import (
    CanonicalSymbol,
    Clock,
    Instrument,
    InstrumentKind,
    MarketClosed,
    UnknownSymbol,
    VenueUnavailable,
    decimals_step,
)
from router_core import InstrumentCache as CoreInstrumentCache

REFRESH_SECONDS = 60.0

# Kraken's legacy asset ids carry an X (crypto) or Z (fiat) prefix; newer ids have none. Never
# strip a leading X or Z blindly: XRP, XLM, XMR, XTZ and ZEC are real codes.
LEGACY_ASSETS = {
    "XXBT": "XBT", "XETH": "ETH", "XLTC": "LTC", "XXRP": "XRP", "XXLM": "XLM", "XXMR": "XMR",
    "XZEC": "ZEC", "XETC": "ETC", "XMLN": "MLN", "XREP": "REP", "XXDG": "XDG", "ZUSD": "USD",
    "ZEUR": "EUR", "ZGBP": "GBP", "ZJPY": "JPY", "ZCAD": "CAD", "ZAUD": "AUD",
}
ALIASES = {"XBT": "BTC", "XDG": "DOGE"}


def canonical_asset(code: str) -> str:
    """``XXBT``/``XBT``/``BTC`` -> ``BTC``; ``ZUSD``/``USD`` -> ``USD``."""
    code = code.upper()
    code = LEGACY_ASSETS.get(code, code)
    return ALIASES.get(code, code)


def _squash(text: str) -> str:
    return text.upper().replace("/", "").replace("-", "").replace("_", "")


def _pair_assets(info: Mapping[str, Any]) -> tuple[str, str]:
    wsname = info.get("wsname")
    if isinstance(wsname, str) and "/" in wsname:
        base, _, quote = wsname.partition("/")
        return canonical_asset(base), canonical_asset(quote)
    return canonical_asset(str(info.get("base", ""))), canonical_asset(str(info.get("quote", "")))


def decimal_or(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    """A Decimal from Kraken's string numbers; ``default`` when missing or unreadable."""
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def to_instrument(key: str, info: Mapping[str, Any]) -> Instrument:
    base, quote = _pair_assets(info)
    pair_decimals = int(info.get("pair_decimals", 8))
    lot_decimals = int(info.get("lot_decimals", 8))
    leverage_buy = tuple(int(x) for x in info.get("leverage_buy") or ())
    leverage_sell = tuple(int(x) for x in info.get("leverage_sell") or ())
    leverage = leverage_buy + leverage_sell
    status = str(info.get("status") or "online")  # absent on some pairs: treat as online
    return Instrument(
        symbol=key,
        base=base,
        quote=quote,
        kind=InstrumentKind.SPOT,
        tick_size=decimal_or(info.get("tick_size"), decimals_step(pair_decimals)),
        lot_size=decimals_step(lot_decimals),
        min_quantity=decimal_or(info.get("ordermin")),
        min_notional=decimal_or(info.get("costmin")),
        status=status,
        tradeable=status == "online",
        max_leverage=Decimal(max(leverage)) if leverage else None,
        venue=MappingProxyType({
            "altname": info.get("altname", key),
            "wsname": info.get("wsname"),
            "base_asset": info.get("base"),
            "quote_asset": info.get("quote"),
            "pair_decimals": pair_decimals,
            "lot_decimals": lot_decimals,
            "cost_decimals": int(info.get("cost_decimals", pair_decimals)),
            "leverage_buy": leverage_buy,
            "leverage_sell": leverage_sell,
        }),
    )


class PairIndex:
    """Instruments by every spelling of every pair."""

    def __init__(self, pairs: Mapping[str, Mapping[str, Any]]) -> None:
        self.instruments: dict[str, Instrument] = {}
        self._names: dict[str, str] = {}
        self._by_assets: dict[tuple[str, str], str] = {}
        self.asset_ids: dict[str, str] = {}  # canonical code -> Kraken asset id (BTC -> XXBT)
        for key, info in pairs.items():
            if key.endswith(".d"):  # dark-pool twins share the altname; never route there
                continue
            instrument = to_instrument(key, info)
            self.instruments[key] = instrument
            for name in (key, info.get("altname"), info.get("wsname")):
                if isinstance(name, str) and name:
                    self._names.setdefault(_squash(name), key)
            self._names.setdefault(instrument.base + instrument.quote, key)
            self._by_assets.setdefault((instrument.base, instrument.quote), key)
            for asset_id in (info.get("base"), info.get("quote")):
                if isinstance(asset_id, str) and asset_id:
                    self.asset_ids.setdefault(canonical_asset(asset_id), asset_id)

    def find(self, symbol: CanonicalSymbol) -> Instrument | None:
        for text in (symbol.ticker, symbol.raw.rpartition(":")[2]):
            if text:
                key = self._names.get(_squash(text))
                if key is not None:
                    return self.instruments[key]
        if symbol.base and symbol.quote:
            key = self._by_assets.get((canonical_asset(symbol.base), canonical_asset(symbol.quote)))
            if key is not None:
                return self.instruments[key]
        return None

    def by_name(self, name: str) -> Instrument | None:
        key = self._names.get(_squash(name))
        return None if key is None else self.instruments[key]


class InstrumentCache:
    """Loads AssetPairs through ``fetch`` once; reloads on a miss at most once a minute (the
    core's ``InstrumentCache``: one load at a time, a failed load changes nothing)."""

    def __init__(self, fetch: Callable[[], Awaitable[Mapping[str, Any]]], clock: Clock) -> None:
        self._fetch = fetch
        self._cache = CoreInstrumentCache(self._load, clock=clock,
                                          refresh_seconds=REFRESH_SECONDS)

    async def index(self) -> PairIndex:
        return await self._cache.get()

    async def _load(self) -> PairIndex:
        pairs = await self._fetch()
        if not isinstance(pairs, Mapping):
            raise VenueUnavailable("Kraken AssetPairs answered without a pair map")
        return PairIndex(pairs)

    async def resolve(self, symbol: CanonicalSymbol) -> Instrument:
        instrument = await self._cache.find(lambda index: index.find(symbol))
        if instrument is None:
            raise UnknownSymbol(
                f"Kraken spot has no pair for {symbol.raw!r} (tried key, altname, wsname and "
                f"{symbol.base}/{symbol.quote})",
                from_venue=False,
            )
        require_online(instrument)
        return instrument


def require_online(instrument: Instrument) -> None:
    if instrument.status != "online":
        raise MarketClosed(
            f"Kraken pair {instrument.venue.get('altname', instrument.symbol)} is "
            f"{instrument.status}, not online; order refused locally, nothing sent",
            venue_code=f"status:{instrument.status}",
            from_venue=False,
        )
