"""ccxt's markets as the router's instruments, and TradingView tickers resolved against them.

A ticker (``BYBIT:BTCUSDT.P``, ``BINANCE:ETHUSDT``, ``KRAKEN:XBTUSD``) is read by the core into
base, quote and kind; this module finds the one market of the account's market type that
matches: first by the exchange's own market id (``XXBTZUSD``, ``PF_XBTUSD``, ``BTCUSDT``),
then by base and quote (and expiry for a dated future). Two matches are refused with both
named, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from router_core import CanonicalSymbol, Instrument, InstrumentKind, UnknownSymbol

# ccxt's precision modes (ccxt.base.decimal_to_precision), repeated so this module needs no
# ccxt import: DECIMAL_PLACES counts decimals, TICK_SIZE gives the step itself.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4

MARKET_KINDS = {
    "spot": InstrumentKind.SPOT,
    "swap": InstrumentKind.PERPETUAL,
    "future": InstrumentKind.FUTURE,
}


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))


def step(value: Any, precision_mode: int) -> Decimal | None:
    """A ccxt precision (``market['precision']['amount']``) as a Decimal step; ``None`` when
    ccxt gives none or counts significant digits (no fixed step)."""
    number = _decimal(value)
    if number is None or precision_mode == SIGNIFICANT_DIGITS:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(number))
    return number


def to_instrument(market: Mapping[str, Any], precision_mode: int) -> Instrument | None:
    """The Instrument of one ccxt market; ``None`` for a market without fixed price and
    amount steps (the router sends only quantities on a step)."""
    kind = MARKET_KINDS.get(str(market.get("type")))
    precision = market.get("precision") or {}
    tick = step(precision.get("price"), precision_mode)
    lot = step(precision.get("amount"), precision_mode)
    if kind is None or tick is None or lot is None or tick <= 0 or lot <= 0:
        return None
    limits = market.get("limits") or {}
    expiry = market.get("expiry")
    sub_type = "linear" if market.get("linear") else "inverse" if market.get("inverse") else None
    return Instrument(
        symbol=str(market["symbol"]),
        base=str(market["base"]),
        quote=str(market["quote"]),
        kind=kind,
        tick_size=tick,
        lot_size=lot,
        min_quantity=_decimal((limits.get("amount") or {}).get("min")) or Decimal(0),
        min_notional=_decimal((limits.get("cost") or {}).get("min")) or Decimal(0),
        contract_size=_decimal(market.get("contractSize")) or Decimal(1),
        inverse=bool(market.get("inverse")),
        expiry=(datetime.fromtimestamp(int(expiry) / 1000, UTC).date() if expiry else None),
        status="online" if market.get("active") is not False else "inactive",
        tradeable=market.get("active") is not False,
        max_leverage=_decimal((limits.get("leverage") or {}).get("max")),
        venue={"id": str(market["id"]), "type": str(market["type"]), "sub_type": sub_type,
               "settle": market.get("settle")},
    )


@dataclass
class MarketIndex:
    """The account's instruments (one market type), by market id and by base and quote."""

    market_type: str
    by_symbol: dict[str, Instrument] = field(default_factory=dict)
    by_id: dict[str, list[Instrument]] = field(default_factory=dict)
    by_pair: dict[tuple[str, str], list[Instrument]] = field(default_factory=dict)

    @classmethod
    def build(cls, markets: Iterable[Mapping[str, Any]], market_type: str,
              precision_mode: int, contract: str | None = None) -> MarketIndex:
        """The index of ``market_type``'s markets (only linear or inverse ones when
        ``contract`` says)."""
        index = cls(market_type)
        for market in markets:
            if market.get("type") != market_type:
                continue
            instrument = to_instrument(market, precision_mode)
            if instrument is None:
                continue
            if contract is not None and instrument.venue["sub_type"] != contract:
                continue
            index.by_symbol[instrument.symbol] = instrument
            index.by_id.setdefault(str(market["id"]).upper(), []).append(instrument)
            index.by_pair.setdefault((_code(instrument.base), _code(instrument.quote)),
                                     []).append(instrument)
        return index

    def find(self, symbol: CanonicalSymbol) -> Instrument | None:
        """The one instrument ``symbol`` names; ``None`` when none does. Raises
        ``UnknownSymbol`` listing the candidates when several do."""
        raw = symbol.raw.strip().upper().rpartition(":")[2]
        for name in (raw, symbol.ticker.upper()):
            found = self.by_id.get(name)
            if found:
                return self._one(symbol, found)
        if symbol.base is None or symbol.quote is None:
            return None
        found = self.by_pair.get((_code(symbol.base), _code(symbol.quote)), [])
        if symbol.expiry_year is not None and symbol.expiry_month is not None:
            found = [i for i in found if i.expiry is not None
                     and (i.expiry.year, i.expiry.month) == (symbol.expiry_year,
                                                             symbol.expiry_month)]
        return self._one(symbol, found) if found else None

    def _one(self, symbol: CanonicalSymbol, found: list[Instrument]) -> Instrument:
        if len(found) == 1:
            return found[0]
        names = ", ".join(f"{i.symbol} (id {i.venue['id']})"
                          for i in sorted(found, key=lambda i: i.symbol))
        raise UnknownSymbol(
            f"{symbol.raw!r} is ambiguous among the {self.market_type} markets: {names}; send "
            "the exchange's own market id as the ticker")


def _code(asset: str) -> str:
    """Assets compared in one spelling: ccxt says BTC where Kraken says XBT (the core too)."""
    upper = asset.upper()
    return {"XBT": "BTC", "XDG": "DOGE"}.get(upper, upper)
