"""``alert-router positions`` against the worked example of docs/positions.md: the same four
fills, the same figures (checked by hand there), through the journal and the command."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.fill_pnl import PositionLine, positions_from_fills
from router_core.journal import Journal
from router_core.models import Fill, Side

D = Decimal
DOC = Path(__file__).resolve().parent.parent / "docs" / "positions.md"
# the worked example: (side, size, price, fee)
EXAMPLE = [("buy", "0.5", "20000", "10"), ("buy", "0.5", "22000", "11"),
           ("sell", "0.4", "25000", "10"), ("sell", "1.0", "24000", "24")]


def _fill(number: int, side: str, size: str, price: str, fee: str, cid: str = "") -> Fill:
    return Fill(trade_id=f"T{number}", venue_order_id=f"O{number}", client_order_id=cid,
                symbol="PF_XBTUSD", side=Side(side), quantity=D(size), price=D(price),
                fee=D(fee), time=1000.0 + number)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "router.toml"
    path.write_text('[router]\nstate_dir = "s"\n\n[accounts.futures]\nbroker = "paper"\n')
    return path


async def _journal_example(config: Path) -> None:
    """The example's fills, each of an order the router placed (a leg of one alert)."""
    journal = Journal(config.parent / "s" / "journal.sqlite3")
    journal.claim(alert_id="a1", delivery_key="d", intent_key="i", fingerprint="f",
                  alert={"ticker": "XBTUSD.P"}, peer=None, source="t")
    for number, row in enumerate(EXAMPLE, 1):
        journal.record_intent(client_order_id=f"c{number}", alert_id="a1", account="futures",
                              broker="kraken-futures", symbol="PF_XBTUSD", purpose="open",
                              side=row[0], quantity=row[1], notional=None, order={})
        fill = _fill(number, *row, cid=f"c{number}")
        assert (await journal.record_fill_async("futures", fill, "stream")).new
    journal.close()


def test_the_method_gives_the_worked_example_step_by_step() -> None:
    line = PositionLine("futures", "PF_XBTUSD")
    steps = []
    for side, size, price, fee in EXAMPLE:
        line.apply(side, D(size), D(price), D(fee))
        steps.append((line.quantity, line.average_cost, line.realized))
    assert steps == [(D("0.5"), D(20020), D(0)), (D("1.0"), D(21021), D(0)),
                     (D("0.6"), D(21021), D("1581.6")), (D("-0.4"), D(23976), D("3354.6"))]
    line.mark(D(23000))
    assert line.unrealized == D("390.4") and line.fees == D(55)


async def test_positions_prints_the_worked_example(config: Path, capsys) -> None:
    await _journal_example(config)
    assert main(["positions", "-c", str(config), "--price", "PF_XBTUSD=23000"]) == 0
    printed = capsys.readouterr().out
    shown = re.search(r"```\n\$ alert-router positions.*?\n(.*?)```", DOC.read_text(), re.S)
    assert shown is not None
    assert printed == shown.group(1)  # the docs show exactly what the command prints


async def test_positions_json_keeps_every_digit(config: Path, capsys) -> None:
    await _journal_example(config)
    assert main(["positions", "-c", str(config), "--json"]) == 0
    (line,) = json.loads(capsys.readouterr().out)
    assert line == {"account": "futures", "symbol": "PF_XBTUSD", "quantity": "-0.4",
                    "average_cost": "23976", "realized": "3354.6", "fees": "55",
                    "unrealized": None, "fills": 4, "foreign_fills": 0}


async def test_foreign_fills_count_in_their_accounts_position(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    await journal.record_fill_async("a", _fill(1, "buy", "2", "10", "0"), "stream")
    await journal.record_fill_async("a", _fill(2, "sell", "1", "12", "0.5"), "rest")
    await journal.record_fill_async("b", _fill(1, "sell", "3", "10", "0"), "stream")
    lines = positions_from_fills(journal.fills(), {"PF_XBTUSD": D(11)})
    journal.close()
    assert [(x.account, x.quantity, x.realized, x.unrealized, x.foreign_fills)
            for x in lines] == [("a", D(1), D("1.5"), D(1), 2), ("b", D(-3), D(0), D(-3), 1)]


def test_a_bad_price_is_a_clear_error(config: Path, capsys) -> None:
    assert main(["positions", "-c", str(config), "--price", "PF_XBTUSD=abc"]) == 2
    assert "--price must be SYMBOL=PRICE" in capsys.readouterr().out
