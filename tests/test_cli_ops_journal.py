"""``alert-router journal``, ``halt`` and ``resume`` against a real journal on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.journal import Journal
from router_core.router import HALT_FLAG, Router

CONFIG = """
[router]
state_dir = "state"

[accounts.alpha]
broker = "paper"
fill_price = "100"

[accounts.beta]
broker = "paper"
fill_price = "100"

[accounts.beta.risk]
max_order_notional = "50"
"""


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    return path


async def _route(config: Path, body: dict) -> str:
    router = Router.from_config_file(config)
    try:
        await router.start()
        acceptance = router.accept(json.dumps(body).encode(), "application/json", peer="test")
        await router.execute(acceptance.alert_id)
        return acceptance.alert_id
    finally:
        await router.close()


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_journal_lists_alerts_with_condensed_legs(config, capsys):
    first = await _route(config, {"ticker": "BTCUSD", "action": "buy", "quantity": "2",
                                  "accounts": ["alpha"], "strategy": "trend"})
    # beta may place at most 50 USD per order: a 2 @ 100 buy is denied, with a reason.
    second = await _route(config, {"ticker": "ETHUSD", "action": "buy", "quantity": "2",
                                   "accounts": ["alpha", "beta"]})

    code, out, _ = _out(capsys, ["journal", "--config", str(config)])

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "ALERT"]
    assert len(lines) == 3
    newest, oldest = lines[1], lines[2]
    assert newest.split()[2] == second[:8]
    assert oldest.split()[2] == first[:8]
    assert "buy BTCUSD 2 [trend] -> alpha" in oldest
    assert "alpha/open filled 2@100" in oldest
    assert "alpha/open filled 2@100" in newest
    assert "beta/open" in newest
    beta = newest[newest.index("beta/open"):]
    assert "filled" not in beta and ": " in beta  # a refusal always carries its reason


async def test_journal_limit_and_json(config, capsys):
    ids = [await _route(config, {"ticker": "BTCUSD", "action": action, "quantity": "1",
                                 "accounts": ["alpha"], "id": f"a{n}"})
           for n, action in enumerate(["buy", "sell", "buy"])]

    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--limit", "2", "--json"])

    assert code == 0
    rows = json.loads(out)
    assert [row["alert_id"] for row in rows] == [ids[2], ids[1]]
    assert rows[0]["state"] == "done"
    assert rows[0]["source"] == "webhook"
    assert rows[0]["time"].endswith("Z")
    assert rows[0]["legs"] and all(isinstance(leg, str) for leg in rows[0]["legs"])


async def test_journal_alert_id_prints_the_full_report(config, capsys):
    alert_id = await _route(config, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                                     "accounts": ["alpha"]})

    for given in (alert_id, alert_id[:8]):
        code, out, _ = _out(capsys, ["journal", "-c", str(config), given])
        assert code == 0
        details = json.loads(out)
        assert details["alert_id"] == alert_id
        assert details["state"] == "done"
        report = details["report"]
        assert report["alert_id"] == alert_id
        assert report["ok"] is True
        [leg] = report["legs"]
        assert leg["account"] == "alpha"
        assert leg["status"] == "filled"
        assert leg["quantity"] == "1"
        assert leg["client_order_id"]
        assert details["alert"]["ticker"] == "BTCUSD"
        assert "passphrase" not in details["alert"]


async def test_journal_unknown_alert_id_is_a_clear_error(config, capsys):
    await _route(config, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                          "accounts": ["alpha"]})
    code, out, err = _out(capsys, ["journal", "-c", str(config), "nope"])
    assert code == 2
    assert out == ""
    assert "no alert with id 'nope'" in err
    assert "Traceback" not in err


def test_journal_without_a_journal_says_so_and_creates_nothing(config, capsys):
    code, _, err = _out(capsys, ["journal", "-c", str(config)])
    assert code == 2
    assert "no journal at" in err
    assert str(config.parent / "state" / "journal.sqlite3") in err
    assert not (config.parent / "state").exists()


def test_journal_needs_no_plugins_and_no_credentials(tmp_path, capsys):
    # A broker that is not installed and credentials that are not set: the journal still opens.
    config = tmp_path / "live.toml"
    config.write_text('[router]\nstate_dir = "s"\n\n[accounts.x]\nbroker = "not-installed"\n'
                      'api_key_env = "UNSET_VARIABLE_FOR_THIS_TEST"\n')
    Journal(tmp_path / "s" / "journal.sqlite3").close()
    code, out, _ = _out(capsys, ["journal", "-c", str(config)])
    assert code == 0
    assert "no alerts in the journal yet" in out


def test_journal_follows_an_explicit_journal_path(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(f'[router]\njournal = "{tmp_path / "elsewhere.db"}"\n\n'
                      '[accounts.p]\nbroker = "paper"\n')
    Journal(tmp_path / "elsewhere.db").close()
    assert _out(capsys, ["journal", "-c", str(config)])[0] == 0


def test_halt_and_resume_persist_the_flag(config, capsys):
    path = config.parent / "state" / "journal.sqlite3"

    code, out, _ = _out(capsys, ["halt", "-c", str(config), "--reason", "exchange incident"])
    assert code == 0
    assert "trading halted: exchange incident" in out
    journal = Journal(path)
    assert journal.get_flag(HALT_FLAG).startswith("exchange incident")
    journal.close()

    code, out, _ = _out(capsys, ["halt", "-c", str(config)])
    assert code == 0
    assert "already halted" in out
    journal = Journal(path)
    assert journal.get_flag(HALT_FLAG).startswith("exchange incident")  # reason kept
    journal.close()

    code, out, _ = _out(capsys, ["resume", "-c", str(config)])
    assert code == 0
    assert "trading resumed" in out and "exchange incident" in out
    journal = Journal(path)
    assert journal.get_flag(HALT_FLAG) is None
    journal.close()

    code, out, _ = _out(capsys, ["resume", "-c", str(config)])
    assert code == 0
    assert "was not halted" in out


async def test_a_halted_router_refuses_alerts_but_passes_cancels(config, capsys):
    assert main(["halt", "-c", str(config), "-r", "maintenance"]) == 0
    capsys.readouterr()

    buy = await _route(config, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                                "accounts": ["alpha"]})
    cancel = await _route(config, {"ticker": "BTCUSD", "action": "cancel",
                                   "accounts": ["alpha"]})

    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--json"])
    assert code == 0
    rows = {row["alert_id"]: row for row in json.loads(out)}
    assert rows[buy]["state"] == "refused"
    assert "maintenance" in rows[buy]["reason"]
    assert rows[buy]["legs"] == []
    assert rows[cancel]["state"] == "done"
    assert "halted" not in (rows[cancel]["reason"] or "")

    assert main(["resume", "-c", str(config)]) == 0
    capsys.readouterr()
    again = await _route(config, {"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                                  "accounts": ["alpha"], "id": "after-resume"})
    details = json.loads(_out(capsys, ["journal", "-c", str(config), again])[1])
    assert details["state"] == "done"
    assert details["report"]["legs"][0]["status"] == "filled"


async def test_journal_shows_unresolved_legs_of_an_unfinished_alert(config, capsys):
    journal = Journal(config.parent / "state" / "journal.sqlite3")
    journal.claim(alert_id="0123abcd-0000-0000-0000-000000000000", delivery_key="d",
                  intent_key="i", fingerprint="f",
                  alert={"ticker": "BTCUSD", "action": "buy", "quantity": "3"},
                  peer=None, source="webhook")
    journal.record_intent(client_order_id="c1", alert_id="0123abcd-0000-0000-0000-000000000000",
                          account="alpha", broker="paper", symbol="BTCUSD", purpose="open",
                          side="buy", quantity="3", notional=None, order={"quantity": "3"})
    journal.record_outcome("c1", {"status": "unknown", "client_order_id": "c1",
                                  "reason": "read timeout after the request was sent"})
    journal.close()

    code, out, _ = _out(capsys, ["journal", "-c", str(config)])
    assert code == 0
    assert "alpha/open unknown 3: read timeout" in out

    details = json.loads(_out(capsys, ["journal", "-c", str(config), "0123abcd"])[1])
    assert details["report"] is None
    assert details["unresolved_legs"][0]["status"] == "unknown"
    assert details["unresolved_legs"][0]["client_order_id"] == "c1"


def test_limit_must_be_positive(config, capsys):
    with pytest.raises(SystemExit):
        main(["journal", "-c", str(config), "--limit", "0"])
    assert "must be at least 1" in capsys.readouterr().err
