"""The shared contract rules: expiries, first notice days, roll dates, front month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from router_propfirms.futures import (
    SPECS,
    Contract,
    contract_for,
    exchange_holidays,
    expand_year,
    first_notice_day,
    front_contract,
    last_trading_day,
)
from router_propfirms.rithmic import EXCHANGES

from router_core import UnknownSymbol
from router_core import normalize_ticker as normalize


@pytest.mark.parametrize(
    ("root", "year", "month", "expected"),
    [
        ("ES", 2025, 12, date(2025, 12, 19)),  # third Friday
        ("NQ", 2026, 3, date(2026, 3, 20)),
        ("MNQ", 2026, 6, date(2026, 6, 18)),  # third Friday is Juneteenth: the day before
        ("6E", 2026, 3, date(2026, 3, 16)),  # two business days before Wed 18 March
        ("ZN", 2026, 3, date(2026, 3, 20)),  # 7 business days before Tue 31 March
        ("CL", 2025, 12, date(2025, 11, 20)),  # 3 business days before Tue 25 November
        ("CL", 2026, 1, date(2025, 12, 19)),  # 25 December is a holiday: count from the 24th
        ("MCL", 2026, 1, date(2025, 12, 18)),  # one business day before CL
        ("CL", 2026, 2, date(2026, 1, 20)),  # 25 January is a Sunday: count from Fri 23
        ("CL", 2025, 6, date(2025, 5, 20)),  # 25 May is a Sunday
        ("ES", 2026, 12, date(2026, 12, 18)),
        ("GC", 2025, 12, date(2025, 12, 29)),  # third-last business day
        ("SI", 2026, 3, date(2026, 3, 27)),
    ],
)
def test_last_trading_day(root: str, year: int, month: int, expected: date) -> None:
    assert last_trading_day(SPECS[root], year, month) == expected


def test_exchange_holidays_2026() -> None:
    assert exchange_holidays(2026) == {
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 4, 3),
        date(2026, 5, 25), date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7),
        date(2026, 11, 26), date(2026, 12, 25),
    }
    assert date(2027, 3, 26) in exchange_holidays(2027)  # Good Friday (Easter 28 March)


def test_first_notice_day_only_for_roots_that_deliver_before_expiry() -> None:
    assert first_notice_day(SPECS["GC"], 2025, 12) == date(2025, 11, 28)
    assert first_notice_day(SPECS["ZB"], 2026, 3) == date(2026, 2, 27)
    assert first_notice_day(SPECS["NQ"], 2026, 3) is None
    assert first_notice_day(SPECS["CL"], 2026, 3) is None


def test_equity_index_rolls_on_the_second_thursday() -> None:
    contract = Contract(SPECS["NQ"], 2025, 12)
    assert contract.roll_date() == date(2025, 12, 11)
    assert front_contract(SPECS["NQ"], date(2025, 12, 10)) == contract
    assert front_contract(SPECS["NQ"], date(2025, 12, 11)) == Contract(SPECS["NQ"], 2026, 3)


def test_roll_days_override_moves_the_roll() -> None:
    spec = SPECS["NQ"]
    assert front_contract(spec, date(2025, 12, 15), roll_days=2) == Contract(spec, 2025, 12)
    assert front_contract(spec, date(2025, 12, 17), roll_days=2) == Contract(spec, 2026, 3)


@pytest.mark.parametrize(
    ("root", "today", "expected"),
    [
        ("NQ", date(2025, 12, 20), (2026, 3)),  # across the year boundary
        ("ES", date(2026, 1, 2), (2026, 3)),
        ("NQ", date(2026, 9, 1), (2026, 9)),
        ("CL", date(2025, 12, 20), (2026, 2)),  # CLF6 stopped trading on 19 December
        ("CL", date(2025, 12, 16), (2026, 1)),
        ("CL", date(2025, 12, 17), (2026, 2)),  # 2 days before CLF6's last trading day
        ("GC", date(2025, 11, 20), (2025, 12)),
        ("GC", date(2025, 11, 26), (2026, 2)),  # two days before first notice (28 November)
        ("SI", date(2025, 12, 20), (2026, 3)),
        ("ZN", date(2026, 2, 26), (2026, 6)),  # first notice 27 Feb - 2 days = 25 Feb
        ("6E", date(2026, 3, 7), (2026, 3)),  # last trading day 16 March - 8 days
        ("6E", date(2026, 3, 8), (2026, 6)),
    ],
)
def test_front_contract(root: str, today: date, expected: tuple[int, int]) -> None:
    contract = front_contract(SPECS[root], today)
    assert (contract.year, contract.month) == expected


def test_second_continuous_is_the_next_in_cycle() -> None:
    contract = contract_for(normalize("NQ2!"), "tradovate", today=date(2025, 12, 20))
    assert (contract.year, contract.month) == (2026, 6)
    gold = contract_for(normalize("GC2!"), "tradovate", today=date(2025, 12, 20))
    assert (gold.year, gold.month) == (2026, 4)


def test_dated_contract_in_an_unlisted_month_is_refused() -> None:
    with pytest.raises(UnknownSymbol, match=r"tradovate: 'NQF2026': NQ lists only H, M, U, Z"):
        contract_for(normalize("NQF2026"), "tradovate", today=date(2025, 12, 20))


def test_gold_dated_contracts_may_name_any_month() -> None:
    contract = contract_for(normalize("GCF2026"), "tradovate", today=date(2025, 12, 20))
    assert contract.code(1) == "GCF6"


def test_expired_dated_contract_is_refused() -> None:
    with pytest.raises(UnknownSymbol, match=r"'NQZ2025' expired on 2025-12-19"):
        contract_for(normalize("NQZ2025"), "tradovate", today=date(2025, 12, 20))


def test_ticker_the_core_reads_as_spot_is_read_against_the_root_table() -> None:
    # The core's reader wants a letter first, so 6EH2026 arrives as a spot symbol.
    contract = contract_for(normalize("CME:6EH2026"), "rithmic", today=date(2025, 12, 20))
    assert contract.code(1) == "6EH6"
    short = contract_for(normalize("6EM6"), "rithmic", today=date(2025, 12, 20))
    assert (short.year, short.month) == (2026, 6)


@pytest.mark.parametrize(
    ("digits", "expected"), [("5", 2025), ("6", 2026), ("4", 2034), ("26", 2026), ("2027", 2027)]
)
def test_expand_year(digits: str, expected: int) -> None:
    assert expand_year(digits, date(2026, 1, 5)) == expected


def test_spec_table_has_the_common_roots_and_sane_values() -> None:
    for root in ("ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM", "CL", "MCL", "GC", "MGC",
                 "SI", "6E", "ZB", "ZN"):
        spec = SPECS[root]
        assert spec.tick_size > 0 and spec.point_value > 0
        assert set(spec.cycle) <= set(spec.listed)
    assert SPECS["NQ"].point_value == Decimal(20)
    assert SPECS["MNQ"].tick_size * SPECS["MNQ"].point_value == Decimal("0.5")  # $0.50 a tick


def test_every_root_has_a_rithmic_exchange() -> None:
    assert set(EXCHANGES) == set(SPECS)
    assert set(EXCHANGES.values()) == {"CME", "CBOT", "NYMEX", "COMEX"}
    assert [EXCHANGES[r] for r in ("NQ", "6E", "YM", "ZB", "MCL", "SI")] == [
        "CME", "CME", "CBOT", "CBOT", "NYMEX", "COMEX",
    ]
