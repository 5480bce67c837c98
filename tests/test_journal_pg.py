"""The PostgreSQL journal's own behaviour: its config (no password in the URL), migrations under
a lock, claims that stay unique between instances, what happens when the database goes away and
comes back, and the copy of a SQLite journal into it. The journal's shared behaviour is tested on
both backends in test_journal.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from router_core.cli import main
from router_core.config import JournalConfig, RouterSettings, journal_target
from router_core.errors import ConfigError, RouterError
from router_core.journal import AlertState, ClaimOutcome, Journal
from router_core.journal_location import JournalUnavailable, PgTarget

PASSWORD = "s3cret-Pa55word"  # a test value that must never be printed


def _claim(journal: Journal, n: int, delivery: str = "d", intent: str = "i") -> Any:
    return journal.claim(alert_id=f"a{n}", delivery_key=delivery, intent_key=intent,
                         fingerprint="f", alert={"ticker": "X"}, peer=None, source="t")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- config --------------------------------------------------------------------------------------


def test_a_password_in_the_url_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        PgTarget.from_url(f"postgresql://router:{PASSWORD}@db:5432/journal")
    assert caught.value.key == "journal.url" and "password_env" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    with pytest.raises(ValueError, match="must not contain a password") as invalid:
        JournalConfig(url=f"postgresql://db/journal?password={PASSWORD}")
    assert PASSWORD not in str(invalid.value)


def test_the_journal_section_in_a_config_file(tmp_path: Path) -> None:
    from router_core.config import load_journal_target

    path = tmp_path / "router.toml"
    path.write_text('[journal]\nurl = "postgresql://router@db.example:6543/j"\n'
                    'password_env = "JOURNAL_PW"\n')
    target = load_journal_target(path, {"JOURNAL_PW": PASSWORD})
    assert isinstance(target, PgTarget) and target.display == "db.example:6543/j"
    assert target.password is not None and PASSWORD not in repr(target)
    with pytest.raises(ConfigError, match="JOURNAL_PW is not set") as missing:
        load_journal_target(path, {})
    assert missing.value.key == "journal.password_env"
    path.write_text('[journal]\npassword_env = "JOURNAL_PW"\n')
    with pytest.raises(ConfigError, match="url is not"):
        load_journal_target(path, {})
    path.write_text('[router]\njournal = "j.sqlite3"\n')
    assert load_journal_target(path, {}) == tmp_path / "j.sqlite3"  # SQLite, as before
    assert journal_target(RouterSettings(), JournalConfig(), {}) == RouterSettings().journal_path


def test_an_unreachable_database_is_one_line_naming_host_and_port() -> None:
    port = _free_port()  # nothing listens there
    target = PgTarget(f"postgresql://router@127.0.0.1:{port}/journal", None, 2)
    with pytest.raises(JournalUnavailable) as caught:
        Journal(target)
    message = str(caught.value)
    assert f"127.0.0.1:{port}/journal" in message and "\n" not in message


def test_the_cli_says_so_in_one_line_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    config = tmp_path / "router.toml"
    config.write_text(f'[journal]\nurl = "postgresql://router@127.0.0.1:{port}/j"\n'
                      'password_env = "JOURNAL_PW"\n'
                      '[accounts.paper]\nbroker = "paper"\n')
    monkeypatch.setenv("JOURNAL_PW", PASSWORD)
    for command in (["journal", "--config", str(config)],
                    ["serve", "--config", str(config), "--port", str(_free_port())]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"cannot reach the PostgreSQL journal at 127.0.0.1:{port}/j" in err
        assert len(err.strip().splitlines()) == 1, err
        assert PASSWORD not in err and "Traceback" not in err


# -- schema --------------------------------------------------------------------------------------


def test_instances_starting_together_migrate_once(pg_url: str) -> None:
    journals: list[Journal] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            journals.append(Journal(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(journals) == 4
    from router_core.journal_schema import MIGRATIONS

    assert {journal.schema_version for journal in journals} == {len(MIGRATIONS)}
    for journal in journals:
        journal.close()


def test_an_old_schema_is_upgraded_without_losing_rows(pg_url: str) -> None:
    from router_core.journal_pg import JOURNAL_COMPONENT, migrate, pg_migrations

    target = PgTarget.from_url(pg_url)
    with target.connect() as conn:
        migrate(conn, JOURNAL_COMPONENT, pg_migrations()[:1])
        conn.execute("INSERT INTO alerts (alert_id, delivery_key, intent_key, fingerprint,"
                     " alert, received_at, source, state) VALUES"
                     " ('a', 'd', 'i', 'f', '{}', 0, 't', 'done')")
    journal = Journal(pg_url)
    assert journal.schema_version == len(pg_migrations())
    assert journal.get_alert("a") is not None
    journal.add_realised_pnl("acct", "2026-11-26", "-12.5")
    assert journal.realised_pnl("acct", "2026-11-26") == "-12.5"
    journal.close()


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    Journal(pg_url).close()
    with PgTarget.from_url(pg_url).connect() as conn:
        conn.execute("UPDATE schema_versions SET version = 999 WHERE component = 'journal'")
    with pytest.raises(RouterError, match="version 999, newer than this alert-router"):
        Journal(pg_url)


def test_placeholders_are_translated_outside_quotes_only() -> None:
    from router_core.journal_pg import to_pg

    assert to_pg("SELECT a FROM t WHERE b = ? AND c LIKE 'x?%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x?%%'")


# -- between instances ---------------------------------------------------------------------------


def test_claims_are_unique_across_instances(pg_url: str) -> None:
    """Two journals on one database (two instances): each delivery is NEW exactly once."""
    first, second = Journal(pg_url), Journal(pg_url)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def go(journal: Journal, n: int) -> None:
        for delivery in range(10):
            claim = _claim(journal, n * 100 + delivery, delivery=f"d{delivery}",
                           intent=f"i{delivery}")
            with lock:
                outcomes.append((delivery, claim))

    threads = [threading.Thread(target=go, args=(journal, n))
               for n, journal in enumerate([first, second, first, second])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for delivery in range(10):
        claims = [claim for d, claim in outcomes if d == delivery]
        assert [c.outcome for c in claims].count(ClaimOutcome.NEW) == 1
        assert len({c.alert_id for c in claims}) == 1
    first.close()
    second.close()


async def test_an_intent_is_recorded_once_across_instances(pg_url: str) -> None:
    first, second = Journal(pg_url), Journal(pg_url)
    _claim(first, 1)
    leg = {"client_order_id": "c1", "alert_id": "a1", "account": "x", "broker": "paper",
           "symbol": "S", "purpose": "open", "side": "buy", "quantity": "1",
           "notional": None, "order": {}}
    results = await asyncio.gather(first.record_intent_async(**leg),
                                   second.record_intent_async(**leg))
    assert sorted(results) == [False, True]
    first.close()
    second.close()


# -- the database goes away ----------------------------------------------------------------------


async def _until_it_works(make: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await make()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_the_journal_reconnects_after_its_connections_are_cut(
    pg_url: str, pg_cluster: Any
) -> None:
    journal = Journal(pg_url)
    await journal.claim_async(alert_id="a0", delivery_key="d0", intent_key="i0",
                              fingerprint="f", alert={}, peer=None, source="t")
    assert pg_cluster.terminate_backends(pg_url) >= 2  # the writer's and the reader's

    async def claim() -> Any:
        return await journal.claim_async(alert_id="a1", delivery_key="d1", intent_key="i1",
                                          fingerprint="f", alert={}, peer=None, source="t")

    assert (await _until_it_works(claim)).outcome is ClaimOutcome.NEW
    assert journal.get_alert("a1") is not None  # the reader reconnected too
    assert journal.writable()
    journal.close()


@pytest.fixture
def own_cluster(pg_cluster: Any) -> Any:
    if pg_cluster.data_dir is None:
        pytest.skip("stopping the server needs the tests' own cluster (not "
                    "ALERT_ROUTER_TEST_PG_URL)")
    yield pg_cluster
    try:
        pg_cluster.start()  # whatever the test did, the next one finds it running
    except Exception:  # already running
        pass


async def test_while_the_database_is_down_claims_fail_and_then_resume(
    pg_url: str, own_cluster: Any
) -> None:
    journal = Journal(pg_url)
    own_cluster.stop()
    with pytest.raises(JournalUnavailable):
        await journal.claim_async(alert_id="a1", delivery_key="d1", intent_key="i1",
                                  fingerprint="f", alert={}, peer=None, source="t")
    assert not journal.writable()
    own_cluster.start()

    async def claim() -> Any:
        return await journal.claim_async(alert_id="a2", delivery_key="d2", intent_key="i2",
                                          fingerprint="f", alert={}, peer=None, source="t")

    assert (await _until_it_works(claim)).outcome is ClaimOutcome.NEW
    assert journal.get_alert("a1") is None and journal.get_alert("a2") is not None
    journal.close()


def _pg_router(tmp_path: Path, pg_url: str) -> Any:
    from router_core import make_plugin_manager
    from router_core.router import Router
    from router_core.testing import SubmitSpy

    pytest.importorskip("router_paper", reason="alert-router-paper is not installed")
    path = tmp_path / "router.toml"
    # One instance on PostgreSQL (the journal's own behaviour); the cluster's behaviour in an
    # outage is tested with the cluster (tests/test_cluster*.py).
    path.write_text(f'[router]\nstate_dir = "state"\nreconcile_window_seconds = 0.1\n'
                    f'[journal]\nurl = "{pg_url}"\n[cluster]\nenabled = false\n'
                    '[accounts.paper]\nbroker = "paper"\nfill_price = 100\n')
    spy = SubmitSpy()
    plugins = make_plugin_manager(["paper"], extra=[("spy", spy)])
    return Router.from_config_file(path, plugins=plugins), spy


async def test_the_webhook_answers_503_while_the_database_is_down_and_recovers(
    tmp_path: Path, pg_url: str, own_cluster: Any
) -> None:
    import httpx
    from pydantic import SecretStr

    from router_core.security import WebhookSettings
    from router_core.server import create_app

    router, spy = _pg_router(tmp_path, pg_url)
    app = create_app(router, WebhookSettings(passphrase=SecretStr("pass")))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

    def body(n: int) -> bytes:
        return json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                           "price": "100", "passphrase": "pass", "id": f"alert-{n}"}).encode()

    headers = {"Content-Type": "application/json"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://router") as client:
        own_cluster.stop()
        down = await client.post("/webhook", content=body(1), headers=headers)
        assert down.status_code == 503
        assert spy.orders == []
        own_cluster.start()

        async def send() -> httpx.Response:
            response = await client.post("/webhook?wait=true", content=body(1),
                                         headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"still {response.status_code}")
            return response

        up = await _until_it_works(send)
        assert up.status_code == 200
    assert len(spy.orders) == 1  # the resend of the delivery that got 503: placed once


async def test_no_order_is_sent_when_its_intent_cannot_be_written(
    tmp_path: Path, pg_url: str, own_cluster: Any
) -> None:
    router, spy = _pg_router(tmp_path, pg_url)
    await router.start()
    raw = json.dumps({"ticker": "BTCUSD", "action": "buy", "quantity": "1",
                      "price": "100", "id": "x"}).encode()
    accepted = router.accept(raw, "application/json")
    own_cluster.stop()
    try:
        await router.execute(accepted.alert_id)
    except Exception:  # the journal is down: failing here is allowed
        pass
    assert spy.orders == []  # never sent without its intent journaled
    own_cluster.start()
    reopened = await _until_it_works(lambda: asyncio.to_thread(Journal, pg_url))
    record = reopened.get_alert(accepted.alert_id)
    assert record is not None and record.state in (AlertState.RECEIVED, AlertState.EXECUTING)
    reopened.close()
    await router.close()


# -- the copy from SQLite ------------------------------------------------------------------------


def _sqlite_journal(path: Path) -> None:
    journal = Journal(path)
    for n in range(3):
        _claim(journal, n, delivery=f"d{n}", intent=f"i{n}")
    journal.set_state("a0", AlertState.DONE, report={"legs": []})
    journal.record_intent(client_order_id="c0", alert_id="a0", account="acct", broker="paper",
                          symbol="XBTUSD", purpose="open", side="buy", quantity="0.5",
                          notional=None, order={"side": "buy"})
    journal.record_outcome("c0", {"status": "filled", "filled_quantity": "0.5"})
    journal.set_flag("halt", "maintenance")
    journal.add_realised_pnl("acct", "2026-12-01", "-3.5")
    journal.record_refused(status=401, reason="bad passphrase", peer="10.0.0.1")
    journal.record_refused(status=422, reason="no ticker", peer=None)
    journal.close()


def test_journal_copy_moves_everything_once(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "journal.sqlite3"
    _sqlite_journal(source)
    assert main(["journal-copy", "--from", str(source), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "alerts          3 copied,       0 already there" in out
    assert "refused         2 copied" in out

    copied = Journal(pg_url)
    assert len(copied.recent_alerts()) == 3
    assert copied.get_alert("a0").state is AlertState.DONE  # type: ignore[union-attr]
    assert copied.get_leg("c0").status == "filled"  # type: ignore[union-attr]
    assert copied.holdings("acct", "XBTUSD") == 0 + __import__("decimal").Decimal("0.5")
    assert copied.get_flag("halt") == "maintenance"
    assert copied.realised_pnl("acct", "2026-12-01") == "-3.5"
    assert [r.status for r in copied.refused_deliveries()] == [422, 401]
    copied.close()

    assert main(["journal-copy", "--from", str(source), "--to", pg_url]) == 2
    assert "already holds 3 alerts; pass --merge" in capsys.readouterr().err
    assert main(["journal-copy", "--from", str(source), "--to", pg_url, "--merge"]) == 0
    out = capsys.readouterr().out
    assert "alerts          0 copied,       3 already there" in out
    assert "refused         0 copied,       2 already there" in out


def test_the_journal_command_reads_a_postgresql_journal(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = Journal(pg_url)
    _claim(journal, 1)
    journal.close()
    config = tmp_path / "router.toml"
    config.write_text(f'[journal]\nurl = "{pg_url}"\n')
    assert main(["journal", "--config", str(config), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["alert_id"] for row in rows] == ["a1"]


def test_check_config_online_asks_the_journal_database(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("router_paper", reason="alert-router-paper is not installed")
    config = tmp_path / "router.toml"
    monkeypatch.setenv("JOURNAL_PW", PASSWORD)  # trust login: any password is accepted
    config.write_text(f'[journal]\nurl = "{pg_url}"\npassword_env = "JOURNAL_PW"\n'
                      '[accounts.paper]\nbroker = "paper"\n')
    assert main(["check-config", "--config", str(config), "--online"]) == 0
    out = capsys.readouterr().out
    assert "online: journal (PostgreSQL 127.0.0.1:" in out

    port = _free_port()
    config.write_text(f'[journal]\nurl = "postgresql://router@127.0.0.1:{port}/j"\n'
                      'password_env = "JOURNAL_PW"\n[accounts.paper]\nbroker = "paper"\n')
    assert main(["check-config", "--config", str(config), "--online"]) == 1
    out = capsys.readouterr().out
    assert f"error: journal: cannot reach the PostgreSQL journal at 127.0.0.1:{port}/j" in out
    assert PASSWORD not in out

    monkeypatch.delenv("JOURNAL_PW")
    assert main(["check-config", "--config", str(config)]) == 1
    assert "journal.password_env: environment variable JOURNAL_PW is not set" in (
        capsys.readouterr().out)


def test_a_sqlite_journal_never_imports_psycopg(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from router_core.journal import Journal; "
            "from router_core.config import load_journal_target; "
            f"Journal({str(tmp_path / 'j.sqlite3')!r}).close(); "
            "print('psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_without_a_cluster_pg_tests_fail_under_ci_and_skip_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pg = __import__("alert_router_tests_pg")  # tests/pg.py, loaded by conftest
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI=true: no initdb"):
        pg._unavailable("no initdb")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL: no initdb"):
        pg._unavailable("no initdb")


def test_a_libpq_service_file_names_the_database(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[alert_router]\nhost={parts.hostname}\nport={parts.port}\n"
                        f"dbname={parts.path.lstrip('/')}\nuser={parts.username}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    journal = Journal("postgresql://?service=alert_router")
    assert journal.location == "service alert_router"
    journal.set_flag("halt", "x")
    journal.close()
    assert Journal(pg_url).get_flag("halt") == "x"
