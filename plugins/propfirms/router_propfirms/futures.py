"""US futures contracts shared by every prop-firm venue: month codes, contract specs, roll rule.

Venues only differ in how they *spell* a contract (``NQM5``, ``NQM5`` + ``CME``,
``CON.F.US.ENQ.M25``); which contract a TradingView ticker means is decided here, once.

Dates are computed from the exchanges' published rules, counting weekends and the regular US
exchange holidays (``exchange_holidays``) as non-business days. Special closures are unknown,
so a computed date can be a business day off after one. That is the precision a stub needs; a
full adapter should take expiries from the venue's contract list instead.

Roll rule for continuous tickers (``NQ1!``): the front contract is the first contract of the
root's cycle whose *roll date* is after today (on the roll date itself the next contract is the
front). The roll date is ``anchor - roll_days`` calendar days, where the anchor is the first
notice day for physically delivered roots whose delivery starts before the last trading day
(treasuries, metals) and the last trading day for everything else. Default ``roll_days``:
8 for equity index and currency futures (third Friday - 8 days = the second Thursday, the
usual quarterly roll date), 2 for the others (the "2 days before expiry" rule
prop-brokers.md cites). An account may override it with ``roll_days_before_expiry``.
``NQ2!`` is the contract after the front one.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from pydantic import ConfigDict, Field

from router_core import BrokerConfig, CanonicalSymbol, Instrument, InstrumentKind, UnknownSymbol

from .rules_config import PropRules

_ONE = Decimal(1)  # futures trade whole contracts
MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December (CME standard)
QUARTERLY = "HMUZ"
MONTHLY = MONTH_CODES


class Family(StrEnum):
    """Contract families that share an expiry rule and a default roll offset."""

    EQUITY_INDEX = "equity_index"  # cash settled, last trading day = third Friday
    CURRENCY = "currency"  # two business days before the third Wednesday
    TREASURY = "treasury"  # delivery from the last business day of the prior month
    ENERGY = "energy"  # trading ends before the 25th of the prior month
    METAL = "metal"  # delivery from the last business day of the prior month
    CRYPTO = "crypto"  # cash settled, last trading day = last Friday of the month


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What every venue agrees on for one root (CME Group contract specifications)."""

    root: str
    description: str
    exchange: str  # CME, CBOT, NYMEX or COMEX
    family: Family
    tick_size: Decimal
    point_value: Decimal  # USD per 1.0 of price for one contract
    cycle: str  # months the continuous contract walks through
    listed: str  # months a dated ticker may name (at least the cycle)
    ltd_business_days_before_25th: int = 3  # energy only: CL 3, MCL 4


def _spec(
    root: str,
    description: str,
    exchange: str,
    family: Family,
    tick: str,
    point_value: str,
    cycle: str,
    listed: str | None = None,
    **extra: int,
) -> ContractSpec:
    return ContractSpec(
        root, description, exchange, family, Decimal(tick), Decimal(point_value), cycle,
        listed or cycle, **extra,
    )


# The one table of roots. Gold and silver list near months monthly but trade (and roll) in
# their active months, so a dated ticker may name any month while NQ1!-style tickers walk
# the active cycle only.
SPECS: Mapping[str, ContractSpec] = {
    s.root: s
    for s in (
        _spec("ES", "E-mini S&P 500", "CME", Family.EQUITY_INDEX, "0.25", "50", QUARTERLY),
        _spec("MES", "Micro E-mini S&P 500", "CME", Family.EQUITY_INDEX, "0.25", "5", QUARTERLY),
        _spec("NQ", "E-mini Nasdaq-100", "CME", Family.EQUITY_INDEX, "0.25", "20", QUARTERLY),
        _spec("MNQ", "Micro E-mini Nasdaq-100", "CME", Family.EQUITY_INDEX, "0.25", "2",
              QUARTERLY),
        _spec("RTY", "E-mini Russell 2000", "CME", Family.EQUITY_INDEX, "0.1", "50", QUARTERLY),
        _spec("M2K", "Micro E-mini Russell 2000", "CME", Family.EQUITY_INDEX, "0.1", "5",
              QUARTERLY),
        _spec("YM", "E-mini Dow ($5)", "CBOT", Family.EQUITY_INDEX, "1", "5", QUARTERLY),
        _spec("MYM", "Micro E-mini Dow", "CBOT", Family.EQUITY_INDEX, "1", "0.5", QUARTERLY),
        _spec("6E", "Euro FX", "CME", Family.CURRENCY, "0.00005", "125000", QUARTERLY),
        _spec("ZB", "30-Year U.S. Treasury Bond", "CBOT", Family.TREASURY, "0.03125", "1000",
              QUARTERLY),
        _spec("ZN", "10-Year U.S. Treasury Note", "CBOT", Family.TREASURY, "0.015625", "1000",
              QUARTERLY),
        _spec("CL", "Crude Oil (WTI)", "NYMEX", Family.ENERGY, "0.01", "1000", MONTHLY,
              ltd_business_days_before_25th=3),
        _spec("MCL", "Micro WTI Crude Oil", "NYMEX", Family.ENERGY, "0.01", "100", MONTHLY,
              ltd_business_days_before_25th=4),
        _spec("MBT", "Micro Bitcoin", "CME", Family.CRYPTO, "5", "0.1", MONTHLY),
        _spec("GC", "Gold", "COMEX", Family.METAL, "0.1", "100", "GJMQVZ", MONTHLY),
        _spec("MGC", "Micro Gold", "COMEX", Family.METAL, "0.1", "10", "GJMQVZ", MONTHLY),
        _spec("SI", "Silver", "COMEX", Family.METAL, "0.005", "5000", "HKNUZ", MONTHLY),
    )
}

DEFAULT_ROLL_DAYS: Mapping[Family, int] = {
    Family.EQUITY_INDEX: 8,
    Family.CURRENCY: 8,
    Family.TREASURY: 2,
    Family.ENERGY: 2,
    Family.METAL: 2,
    Family.CRYPTO: 2,
}


class FuturesConfig(BrokerConfig):
    """Settings every futures-trading prop venue shares."""

    # Build validators on first use, not at import: the plugin loads on every start-up.
    model_config = ConfigDict(defer_build=True)

    roll_days_before_expiry: int | None = Field(
        default=None,
        ge=0,
        le=45,
        description=(
            "Calendar days before the last trading day (first notice day for treasuries and "
            "metals) on which a continuous ticker such as NQ1! moves to the next contract. "
            "Unset: 8 for equity index and currency futures, 2 for the others."
        ),
    )
    rules: PropRules | None = Field(
        default=None,
        description=(
            "The prop firm's rules the router enforces before the firm does (daily loss, "
            "trailing drawdown, contract limits, flatten time, blackouts); see the README"
        ),
    )


@dataclass(frozen=True, slots=True)
class Contract:
    """One dated contract: a root, a month and a full year."""

    spec: ContractSpec
    year: int
    month: int

    @property
    def root(self) -> str:
        return self.spec.root

    @property
    def month_code(self) -> str:
        return MONTH_CODES[self.month - 1]

    @property
    def tradingview(self) -> str:
        """The TradingView spelling, ``NQM2025``."""
        return f"{self.root}{self.month_code}{self.year}"

    def code(self, year_digits: int) -> str:
        """Root, month letter and the last ``year_digits`` digits of the year: ``NQM5``."""
        return f"{self.root}{self.month_code}{self.year % 10**year_digits:0{year_digits}d}"

    @property
    def last_trading_day(self) -> date:
        return last_trading_day(self.spec, self.year, self.month)

    def roll_date(self, roll_days: int | None = None) -> date:
        days = DEFAULT_ROLL_DAYS[self.spec.family] if roll_days is None else roll_days
        return roll_anchor(self.spec, self.year, self.month) - timedelta(days=days)

    def next_in_cycle(self) -> Contract:
        year, month = self.year, self.month
        while True:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if MONTH_CODES[month - 1] in self.spec.cycle:
                return Contract(self.spec, year, month)


# ---- calendar arithmetic ----

_MONDAY, _WEDNESDAY, _THURSDAY, _FRIDAY = 0, 2, 3, 4


def _observed(day: date) -> date:
    """A fixed-date holiday on a weekend is observed on the Friday before or Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_fix = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_fix) // 451
    month, day = divmod(h + weekday_fix - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def exchange_holidays(year: int) -> frozenset[date]:
    """The US exchange holidays on which CME Group counts no business day.

    A Saturday New Year is not observed on the Friday before: that Friday belongs to the
    previous year, whose set does not contain it.

    The regular list only: special closures (days of mourning, emergencies) are not known.
    """
    days = {
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 1, _MONDAY, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, _MONDAY, 3),  # Presidents' Day
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, _MONDAY),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    return frozenset(days)


def _is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in exchange_holidays(day.year)


def _business_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if _is_business_day(day):
            count -= 1
    return day


def _business_day_on_or_before(day: date) -> date:
    while not _is_business_day(day):
        day -= timedelta(days=1)
    return day


def _last_business_day(year: int, month: int) -> date:
    return _business_day_on_or_before(date(year, month, monthrange(year, month)[1]))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month, monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def last_trading_day(spec: ContractSpec, year: int, month: int) -> date:
    """The last trading day of ``spec``'s contract for ``month`` of ``year``."""
    family = spec.family
    if family is Family.EQUITY_INDEX:
        return _business_day_on_or_before(_nth_weekday(year, month, _FRIDAY, 3))
    if family is Family.CURRENCY:
        return _business_days_before(_nth_weekday(year, month, _WEDNESDAY, 3), 2)
    if family is Family.TREASURY:
        return _business_days_before(_last_business_day(year, month), 7)
    if family is Family.ENERGY:
        # N business days before the 25th of the prior month; when the 25th is not a business
        # day, counting starts from the business day before it.
        anchor = _business_day_on_or_before(date(*_previous_month(year, month), 25))
        return _business_days_before(anchor, spec.ltd_business_days_before_25th)
    if family is Family.CRYPTO:
        return _business_day_on_or_before(_last_weekday(year, month, _FRIDAY))
    # metals: third-last business day of the contract month
    return _business_days_before(_last_business_day(year, month), 2)


def first_notice_day(spec: ContractSpec, year: int, month: int) -> date | None:
    """The first delivery notice day, for roots where it comes before the last trading day."""
    if spec.family in (Family.TREASURY, Family.METAL):
        return _last_business_day(*_previous_month(year, month))
    return None


def roll_anchor(spec: ContractSpec, year: int, month: int) -> date:
    return first_notice_day(spec, year, month) or last_trading_day(spec, year, month)


# ---- reading what the alert named ----

_DATED = re.compile(r"^([A-Z0-9]{1,4}?)([FGHJKMNQUVXZ])(\d{4}|\d{1,2})$")


def root_of(name: str) -> str:
    """The root of a dated contract's name (``MNQZ6`` -> ``MNQ``); the name when it is not
    one."""
    match = _DATED.match(name)
    return match.group(1) if match else name


def expand_year(digits: str, today: date) -> int:
    """A 1, 2 or 4 digit contract year as a full year: the first one from last year on."""
    if len(digits) == 4:
        return int(digits)
    modulus = 10 ** len(digits)
    year = today.year - 1 - (today.year - 1) % modulus + int(digits)
    return year + modulus if year < today.year - 1 else year


def spec_for(root: str, symbol: CanonicalSymbol, venue: str) -> ContractSpec:
    spec = SPECS.get(root)
    if spec is None:
        known = ", ".join(sorted(SPECS))
        raise UnknownSymbol(
            f"{venue}: {symbol.raw!r} names futures root {root!r}, which is not in the "
            f"contract table (known roots: {known})"
        )
    return spec


def contract_for(
    symbol: CanonicalSymbol, venue: str, *, today: date, roll_days: int | None = None
) -> Contract:
    """The dated contract a TradingView ticker means on ``today``.

    ``NQ1!`` resolves by the roll rule of the module docstring, ``NQ2!`` to the contract after
    it; ``NQM2025``/``NQM25``/``NQM5`` as named, a short year read relative to ``today``. A
    dated contract that is not listed, or whose last trading day has passed, is refused.
    """
    if symbol.kind is InstrumentKind.FUTURE and symbol.continuous is not None:
        spec = spec_for(symbol.root or "", symbol, venue)
        if symbol.continuous < 1:
            raise UnknownSymbol(f"{venue}: {symbol.raw!r}: continuous contracts count from 1")
        contract = front_contract(spec, today, roll_days=roll_days)
        for _ in range(symbol.continuous - 1):
            contract = contract.next_in_cycle()
        return contract

    contract = _dated_contract(symbol, venue, today)
    if contract.month_code not in contract.spec.listed:
        raise UnknownSymbol(
            f"{venue}: {symbol.raw!r}: {contract.root} lists only "
            f"{', '.join(contract.spec.listed)} contracts, not {contract.month_code}"
        )
    if contract.last_trading_day < today:
        raise UnknownSymbol(
            f"{venue}: {symbol.raw!r} expired on {contract.last_trading_day.isoformat()}"
        )
    return contract


def _dated_contract(symbol: CanonicalSymbol, venue: str, today: date) -> Contract:
    # Read the ticker here rather than trusting the core's year: the core expands "NQM5" by
    # the system clock, the broker by its context's clock. This also reads tickers the core
    # leaves as spot because their root starts with a digit ("6EH2026").
    match = _DATED.match(symbol.ticker)
    if match is None:
        if symbol.kind is InstrumentKind.FUTURE and symbol.root:
            spec_for(symbol.root, symbol, venue)  # names the unknown root
        raise UnknownSymbol(f"{venue}: {symbol.raw!r} is not a futures contract it can trade")
    root, month_code, year_digits = match.groups()
    if symbol.kind is not InstrumentKind.FUTURE and root not in SPECS:
        raise UnknownSymbol(f"{venue}: {symbol.raw!r} is not a futures contract it can trade")
    spec = spec_for(root, symbol, venue)
    return Contract(spec, expand_year(year_digits, today), MONTH_CODES.index(month_code) + 1)


def front_contract(spec: ContractSpec, today: date, *, roll_days: int | None = None) -> Contract:
    """The first contract of the root's cycle whose roll date is after ``today``."""
    year, month = _previous_month(today.year, today.month)
    contract = Contract(spec, year, month)
    if contract.month_code not in spec.cycle:
        contract = contract.next_in_cycle()
    while contract.roll_date(roll_days) <= today:
        contract = contract.next_in_cycle()
    return contract


def futures_instrument(
    contract: Contract,
    symbol: str,
    *,
    roll_days: int | None = None,
    extras: Mapping[str, object] | None = None,
) -> Instrument:
    """The core's Instrument for ``contract`` under the venue's name ``symbol``.

    Whole contracts (``lot_size`` 1), the tick size, the point value as ``contract_size`` and
    the last trading day as ``expiry``; ``venue`` carries the root, exchange, month code, year,
    TradingView name and roll date, then the venue's own ``extras``.
    """
    spec = contract.spec
    venue: dict[str, object] = {
        "root": spec.root,
        "exchange": spec.exchange,
        "month_code": contract.month_code,
        "year": contract.year,
        "tradingview": contract.tradingview,
        "roll_date": contract.roll_date(roll_days).isoformat(),
    }
    venue.update(extras or {})
    return Instrument(
        symbol=symbol,
        base=spec.root,
        quote="USD",
        kind=InstrumentKind.FUTURE,
        tick_size=spec.tick_size,
        lot_size=_ONE,
        min_quantity=_ONE,
        contract_size=spec.point_value,
        expiry=contract.last_trading_day,
        venue=venue,
    )


def today_from(clock_time: Callable[[], float]) -> date:
    """The UTC calendar date of a clock's wall time (``context.clock.time``)."""
    return datetime.fromtimestamp(clock_time(), UTC).date()
