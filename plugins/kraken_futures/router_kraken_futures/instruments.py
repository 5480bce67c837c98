"""Kraken Futures contracts as core Instruments, and TradingView tickers to venue symbols.

Symbols by prefix: ``PF_`` linear multi-collateral perpetual, ``PI_`` inverse perpetual,
``FF_`` linear dated, ``FI_`` inverse dated (``_YYMMDD`` suffix). Bitcoin is ``XBT`` on this API.
Inverse contracts are sized in USD contracts (``inverse=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from router_core import (
    CanonicalSymbol,
    Instrument,
    InstrumentKind,
    MarketClosed,
    UnknownSymbol,
    decimals_step,
    to_decimal,
)

PERPETUAL_PREFIXES = {"PF": InstrumentKind.PERPETUAL, "PI": InstrumentKind.PERPETUAL}
DATED_PREFIXES = {"FF": InstrumentKind.FUTURE, "FI": InstrumentKind.FUTURE}
INVERSE_PREFIXES = frozenset({"PI", "FI"})
DATED_FOR = {"PF": "FF", "PI": "FI"}  # the dated family that matches a default contract kind
# The core spells assets canonically (BTC, DOGE); the futures API spells Bitcoin XBT.
VENUE_ASSET_NAMES = {"BTC": ("XBT", "BTC"), "DOGE": ("XDG", "DOGE")}
CANONICAL_ASSET = {"XBT": "BTC", "XDG": "DOGE"}


def canonical_asset(code: str) -> str:
    code = code.upper()
    return CANONICAL_ASSET.get(code, code)


def to_instrument(raw: Mapping[str, Any]) -> Instrument | None:
    """A core Instrument from one ``/instruments`` entry; ``None`` for indices and legacy kinds."""
    symbol = str(raw.get("symbol", "")).upper()
    prefix = symbol.split("_", 1)[0]
    kind = PERPETUAL_PREFIXES.get(prefix) or DATED_PREFIXES.get(prefix)
    if kind is None:
        return None
    base, quote = _base_quote(raw, symbol)
    precision = int(raw.get("contractValueTradePrecision", 0))
    lot = decimals_step(precision)
    tradeable = bool(raw.get("tradeable", False))
    post_only = bool(raw.get("postOnly", False))
    status = "online" if tradeable else "untradeable"
    if tradeable and post_only:
        status = "post_only"
    venue = {
        key: raw[key]
        for key in (
            "type", "pair", "underlying", "postOnly", "maxPositionSize", "impactMidSize",
            "contractValueTradePrecision", "marginLevels", "retailMarginLevels",
            "lastTradingTime", "openingDate", "fundingRateCoefficient", "maxRelativeFundingRate",
            "tradfi", "mtf", "category",
        )
        if key in raw
    }
    return Instrument(
        symbol=symbol,
        base=base,
        quote=quote,
        kind=kind,
        tick_size=to_decimal(raw.get("tickSize", 0), field=f"{symbol}.tickSize"),
        lot_size=lot,
        min_quantity=lot,
        contract_size=to_decimal(raw.get("contractSize", 1), field=f"{symbol}.contractSize"),
        inverse=prefix in INVERSE_PREFIXES,
        expiry=_expiry(raw, symbol),
        status=status,
        tradeable=tradeable,
        max_leverage=_max_leverage(raw.get("marginLevels")),
        venue=venue,
    )


def _base_quote(raw: Mapping[str, Any], symbol: str) -> tuple[str, str]:
    base, quote = raw.get("base"), raw.get("quote")
    if not (base and quote) and isinstance(raw.get("pair"), str) and ":" in raw["pair"]:
        base, quote = raw["pair"].split(":", 1)
    if not (base and quote):  # PF_XBTUSD -> XBT, USD
        pair = symbol.split("_")[1]
        base, quote = pair[:-3], pair[-3:]
    return canonical_asset(str(base)), canonical_asset(str(quote))


def _expiry(raw: Mapping[str, Any], symbol: str) -> date | None:
    text = raw.get("lastTradingTime")
    if isinstance(text, str):
        return datetime.fromisoformat(text).date()
    parts = symbol.split("_")
    if len(parts) == 3 and parts[2].isdigit() and len(parts[2]) == 6:
        return datetime.strptime(parts[2], "%y%m%d").date()
    return None


def _max_leverage(levels: object) -> Decimal | None:
    """1 / the initial margin of the first tier (0.02 -> 50x)."""
    if not isinstance(levels, list) or not levels or not isinstance(levels[0], Mapping):
        return None
    margin = levels[0].get("initialMargin")
    if margin is None:
        return None
    value = to_decimal(margin, field="initialMargin")
    return (Decimal(1) / value).quantize(Decimal("0.01")) if value > 0 else None


class InstrumentTable:
    """The loaded contracts by symbol, and the TradingView-ticker resolution rules."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_symbol = {inst.symbol: inst for inst in instruments}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> InstrumentTable:
        rows = payload.get("instruments")
        if not isinstance(rows, list):
            raise ValueError("the instruments answer has no instruments list")
        return cls(inst for row in rows if (inst := to_instrument(row)) is not None)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def all(self) -> Sequence[Instrument]:
        return list(self._by_symbol.values())

    def get(self, symbol: str) -> Instrument | None:
        return self._by_symbol.get(symbol.upper())

    def resolve(
        self, symbol: CanonicalSymbol, default_contract: str, *, today: date | None = None
    ) -> Instrument:
        """The contract a ticker means for an account whose default kind is PF or PI.

        * a venue symbol (``PF_XBTUSD``, ``pi_xbtusd``) is taken as is;
        * a perpetual (``XBTUSD.P``, ``BTCUSD.PM``, ``BTCUSDPERP``) or a plain pair
          (``KRAKEN:XBTUSD``) is the default kind's perpetual;
        * a dated ticker (``BTCUSDZ25``, ``BTCUSDZ2025``) is the matching FF_/FI_ contract
          expiring in that month; ``BTCUSD1!`` the nearest unexpired one.

        No silent switch between linear and inverse: sizes mean different things there.
        """
        direct = self.get(symbol.ticker)
        if direct is not None:
            return _usable(direct, symbol)
        base, quote = symbol.base, symbol.quote
        if not base and symbol.root and symbol.root.endswith("USD") and len(symbol.root) > 3:
            base, quote = canonical_asset(symbol.root[:-3]), "USD"  # BTCUSD1! -> BTC, USD
        if not base or not quote:
            raise UnknownSymbol(f"{symbol.raw!r}: cannot read a base and quote currency from it")
        if quote != "USD":
            raise UnknownSymbol(
                f"{symbol.raw!r}: Kraken Futures contracts are quoted in USD, not {quote}; "
                f"send {base}USD"
            )
        if symbol.kind is InstrumentKind.FUTURE:
            return self._dated(symbol, base, DATED_FOR[default_contract], today or date.today())
        for venue_base in VENUE_ASSET_NAMES.get(base, (base,)):
            found = self.get(f"{default_contract}_{venue_base}USD")
            if found is not None:
                return _usable(found, symbol)
        other = "PI" if default_contract == "PF" else "PF"
        hint = ""
        for venue_base in VENUE_ASSET_NAMES.get(base, (base,)):
            if self.get(f"{other}_{venue_base}USD") is not None:
                hint = (
                    f"; {other}_{venue_base}USD exists: send that symbol or set "
                    f'default_contract = "{other}"'
                )
                break
        raise UnknownSymbol(
            f"{symbol.raw!r}: Kraken Futures has no {default_contract}_{base}USD contract{hint}"
        )

    def _dated(
        self, symbol: CanonicalSymbol, base: str, family: str, today: date
    ) -> Instrument:
        names = VENUE_ASSET_NAMES.get(base, (base,))
        prefixes = tuple(f"{family}_{name}USD_" for name in names)
        candidates = sorted(
            (inst for sym, inst in self._by_symbol.items() if sym.startswith(prefixes)),
            key=lambda inst: inst.expiry or date.max,
        )
        if symbol.continuous:
            alive = [inst for inst in candidates if inst.expiry and inst.expiry >= today]
            if len(alive) >= symbol.continuous:
                return _usable(alive[symbol.continuous - 1], symbol)
        elif symbol.expiry_year and symbol.expiry_month:
            month = [
                inst for inst in candidates
                if inst.expiry
                and (inst.expiry.year, inst.expiry.month)
                == (symbol.expiry_year, symbol.expiry_month)
            ]
            if month:
                return _usable(month[-1], symbol)  # the quarterly is the month's last expiry
        listed = ", ".join(inst.symbol for inst in candidates) or "none"
        when = (
            f"{symbol.expiry_year}-{symbol.expiry_month:02d}"
            if symbol.expiry_year and symbol.expiry_month
            else f"continuous #{symbol.continuous}"
        )
        raise UnknownSymbol(
            f"{symbol.raw!r}: no {family}_ {base}USD contract for {when} (listed: {listed})"
        )


def _usable(inst: Instrument, symbol: CanonicalSymbol) -> Instrument:
    if not inst.tradeable:
        raise MarketClosed(f"{symbol.raw!r}: {inst.symbol} is listed but not tradeable")
    return inst
