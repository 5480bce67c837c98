"""Every delivery the webhook refuses is journaled (rate-limited), and ``journal --refused``
lists them: time, peer, route, body size and sha256, content type, status and reason; never a
body or a secret."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.cli import main
from router_core.journal import (
    REFUSED_PER_MINUTE,
    REFUSED_PER_PEER_PER_MINUTE,
    Journal,
)
from router_core.journal_schema import MIGRATIONS
from router_core.router import Router
from router_core.security import WebhookSettings, parse_allowlist, signature_header
from router_core.server import create_app
from router_core.testing import FakeClock, SubmitSpy

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

PASSPHRASE = "refusal-test-passphrase-0123"
ADMIN = "refusal-admin-token-0123456789"
ROUTE = "refusal-route-token-abcdefghij"
HMAC = "refusal-hmac-secret-0001"
JSON = {"Content-Type": "application/json"}
CONFIG = """
[router]
state_dir = "state"
reconcile_window_seconds = 0.1
[accounts.paper]
broker = "paper"
fill_price = 100
"""


def body(**fields: Any) -> bytes:
    alert = {"ticker": "BTCUSD", "action": "buy", "quantity": "1", "price": "100",
             "passphrase": PASSPHRASE, "id": "alert-1"}
    alert.update(fields)
    return json.dumps({k: v for k, v in alert.items() if v is not None}).encode()


def settings(**overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "passphrase": SecretStr(PASSPHRASE),
        "admin_token": SecretStr(ADMIN),
        "route_tokens": {"momentum": SecretStr(ROUTE)},
        "hmac_secrets": (SecretStr(HMAC),),
        "max_body_bytes": 4096,
    }
    values.update(overrides)
    return WebhookSettings(**values)


class Site:
    def __init__(self, router: Router, spy: SubmitSpy, clock: FakeClock, app: Any) -> None:
        self.router, self.spy, self.clock, self.app = router, spy, clock, app

    def client(self, peer: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://router")

    async def refused(self, limit: int = 100) -> list[Any]:
        await self.router.journal.flush()
        return self.router.journal.refused_deliveries(limit)


async def make_site(tmp_path: Path, webhook: WebhookSettings) -> AsyncIterator[Site]:
    (tmp_path / "router.toml").write_text(CONFIG)
    spy = SubmitSpy()
    clock = FakeClock(time.time())
    router = Router.from_config_file(
        tmp_path / "router.toml", clock=clock,
        plugins=make_plugin_manager(["paper"], extra=[("spy", spy)]))
    app = create_app(router, webhook)
    async with app.router.lifespan_context(app):
        yield Site(router, spy, clock, app)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for made in make_site(tmp_path, settings()):
        yield made


def journal_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (tmp_path / "state").glob("journal*"))


# -- what is recorded -------------------------------------------------------------------------


async def test_each_refusal_is_journaled_with_its_status_and_reason(site: Site, tmp_path):
    wrong = body(passphrase="not-the-" + PASSPHRASE)
    invalid = body(quantity="-1")
    signed = body(passphrase=None, id="signed")
    bad_signature = signature_header("not-" + HMAC, signed)
    async with site.client() as client:
        answers = {
            "wrong passphrase": await client.post("/webhook", content=wrong, headers=JSON),
            "no passphrase": await client.post("/webhook", content=body(passphrase=None),
                                               headers=JSON),
            "unknown token": await client.post("/webhook/not-the-token", content=body(),
                                               headers=JSON),
            "bad signature": await client.post(
                f"/webhook/{ROUTE}", content=signed,
                headers={**JSON, "X-Router-Signature": bad_signature}),
            "media type": await client.post("/webhook", content=body(),
                                            headers={"Content-Type": "application/xml"}),
            "too large": await client.post("/webhook", content=b"x" * 5000, headers=JSON),
            "invalid": await client.post("/webhook", content=invalid, headers=JSON),
            "unreadable": await client.post("/webhook", content=b"\xff\xfe", headers=JSON),
            "dry run": await client.post("/webhook?dry_run=true", content=body(), headers=JSON),
            "accepted": await client.post("/webhook", content=body(), headers=JSON),
            "duplicate": await client.post("/webhook", content=body(), headers=JSON),
            "conflict": await client.post("/webhook", content=body(quantity="2"),
                                          headers=JSON),
        }
    assert {name: a.status_code for name, a in answers.items()} == {
        "wrong passphrase": 401, "no passphrase": 401, "unknown token": 401,
        "bad signature": 401, "media type": 415, "too large": 413, "invalid": 422,
        "unreadable": 422, "dry run": 401, "accepted": 200, "duplicate": 200, "conflict": 409,
    }

    rows = list(reversed(await site.refused()))  # oldest first, as sent
    assert [(r.status, r.reason) for r in rows] == [
        (401, "wrong passphrase"),
        (401, "no passphrase in the body"),
        (401, "unknown route token"),
        (401, "signature does not match"),
        (415, rows[4].reason),
        (413, "body larger than max_body_bytes (4096)"),
        (422, "quantity: must be greater than 0, got -1"),
        (422, rows[7].reason),
        (401, "dry run without the admin token"),
        (409, f"same intent key as alert {answers['accepted'].json()['alert_id']}, different "
              "content; nothing placed"),
    ]
    assert rows[4].reason.startswith("unsupported media type")
    assert "UTF-8" in rows[7].reason
    assert all(r.peer == "127.0.0.1" and r.dropped == 0 for r in rows)
    assert all(r.received_at == pytest.approx(site.clock.time()) for r in rows)
    assert [r.route for r in rows] == [None, None, None, "momentum"] + [None] * 6

    by_reason = {r.reason: r for r in rows}
    wrong_row = by_reason["wrong passphrase"]
    assert wrong_row.body_bytes == len(wrong)
    assert wrong_row.body_sha256 == hashlib.sha256(wrong).hexdigest()
    assert wrong_row.content_type == "application/json"
    assert by_reason["signature does not match"].body_sha256 == hashlib.sha256(signed).hexdigest()
    # Refused before the body is read: the declared size, no hash.
    assert rows[2].body_sha256 is None and rows[2].body_bytes == len(body())
    assert rows[4].content_type == "application/xml" and rows[4].body_sha256 is None
    assert rows[5].body_bytes == 5000 and rows[5].body_sha256 is None
    assert rows[6].body_sha256 == hashlib.sha256(invalid).hexdigest()

    # Accepted and duplicate deliveries are not refusals; nothing of a body or a secret is kept.
    assert len(site.router.journal.recent_alerts(10)) == 1
    stored = journal_bytes(tmp_path)
    for secret in (PASSPHRASE, ROUTE, HMAC, ADMIN, "not-the-token", bad_signature):
        assert secret.encode() not in stored, secret
    assert wrong not in stored and invalid not in stored


async def test_an_address_outside_the_allowlist_is_journaled_without_reading_the_body(
    tmp_path: Path,
) -> None:
    async for site in make_site(tmp_path, settings(allowlist=parse_allowlist(["10.0.0.0/8"]))):
        async with site.client("203.0.113.7") as client:
            answer = await client.post("/webhook", content=body(), headers=JSON)
        assert answer.status_code == 403
        [row] = await site.refused()
        assert (row.status, row.peer, row.reason) == (403, "203.0.113.7",
                                                       "not in the IP allowlist")
        assert row.body_bytes == len(body()) and row.body_sha256 is None


async def test_concurrent_refusals_are_all_recorded(site: Site) -> None:
    # Each row joins the journal's next group commit; the answers do not wait for it.
    async with site.client() as client:
        answers = await asyncio.gather(*(
            client.post("/webhook", content=body(passphrase=f"wrong-{n}"), headers=JSON)
            for n in range(10)))
    assert {a.status_code for a in answers} == {401}
    assert len(await site.refused()) == 10


# -- rate limits ------------------------------------------------------------------------------


async def test_a_flood_from_one_address_is_counted_in_one_summary_row(site: Site) -> None:
    flood = REFUSED_PER_PEER_PER_MINUTE + 30
    async with site.client("198.51.100.9") as client:
        for n in range(flood):
            answer = await client.post("/webhook", content=body(passphrase=f"guess-{n}"),
                                       headers=JSON)
            assert answer.status_code == 401  # the answer never changes, only the recording
    async with site.client("192.0.2.1") as client:  # another sender still gets its rows
        await client.post("/webhook", content=body(passphrase="x"), headers=JSON)

    rows = await site.refused()
    individual = [r for r in rows if r.dropped == 0]
    [summary] = [r for r in rows if r.dropped]
    assert len(individual) == REFUSED_PER_PEER_PER_MINUTE + 1
    assert sum(r.peer == "192.0.2.1" for r in individual) == 1
    assert summary.dropped == flood - REFUSED_PER_PEER_PER_MINUTE
    assert summary.status is None and summary.peer is None
    assert f"{summary.dropped} more refused deliveries" in summary.reason
    assert f"198.51.100.9 ({summary.dropped})" in summary.reason


def test_per_address_and_global_caps_per_minute(journal_location: Path | str) -> None:
    clock = FakeClock(1_700_000_020.0)  # 20 s before a minute starts
    journal = Journal(journal_location, clock=clock)  # SQLite, then PostgreSQL
    recorded = [
        journal.record_refused(status=401, reason="wrong passphrase", peer=f"10.0.0.{n % 7}")
        for n in range(100)
    ]
    assert sum(recorded) == REFUSED_PER_MINUTE
    rows = journal.refused_deliveries(500)
    assert len([r for r in rows if not r.dropped]) == REFUSED_PER_MINUTE
    assert max(sum(r.peer == f"10.0.0.{p}" for r in rows) for p in range(7)) <= (
        REFUSED_PER_PEER_PER_MINUTE)
    [summary] = [r for r in rows if r.dropped]
    assert summary.dropped == 100 - REFUSED_PER_MINUTE

    clock.advance(20)  # the next minute: recording starts again, with a summary of its own
    assert journal.record_refused(status=403, reason="not in the IP allowlist", peer="10.0.0.1")
    for _ in range(REFUSED_PER_PEER_PER_MINUTE):
        journal.record_refused(status=403, reason="not in the IP allowlist", peer="10.0.0.1")
    summaries = [r for r in journal.refused_deliveries(500) if r.dropped]
    assert sorted(r.dropped for r in summaries) == [1, 100 - REFUSED_PER_MINUTE]
    journal.close()


async def test_the_summary_is_brought_up_to_date_by_one_queued_write(
    journal_location: Path | str,
) -> None:
    journal = Journal(journal_location, clock=FakeClock())  # SQLite, then PostgreSQL
    writes = 0
    submit = journal._writer.submit_async

    def counting(work: Any, *, durable: bool) -> Any:
        nonlocal writes
        writes += 1
        assert durable is False
        return submit(work, durable=durable)

    journal._writer.submit_async = counting  # type: ignore[method-assign]
    for _ in range(1000):
        journal.record_refused(status=401, reason="unknown route token", peer="10.1.1.1")
    await journal.flush()
    # 20 rows and a summary, written by far fewer writes than refusals
    assert writes == REFUSED_PER_PEER_PER_MINUTE + 1 + 1  # + the flush
    [summary] = [r for r in journal.refused_deliveries(100) if r.dropped]
    assert summary.dropped == 1000 - REFUSED_PER_PEER_PER_MINUTE
    journal.record_refused(status=401, reason="unknown route token", peer="10.1.1.1")
    await journal.flush()
    [summary] = [r for r in journal.refused_deliveries(100) if r.dropped]
    assert summary.dropped == 1000 - REFUSED_PER_PEER_PER_MINUTE + 1
    journal.close()


def test_reasons_are_cut_short_and_printable(journal_location: Path | str) -> None:
    journal = Journal(journal_location)  # SQLite, then PostgreSQL
    journal.record_refused(status=422, reason="field\x1b[31m\n" + "x" * 1000,
                           content_type="text/plain\r\nX-Evil: 1", peer="10.0.0.1")
    [row] = journal.refused_deliveries()
    assert "\x1b" not in row.reason and "\n" not in row.reason
    assert len(row.reason) == 400 and row.reason.endswith("...")
    assert row.content_type == "text/plain??X-Evil: 1"
    journal.close()


def test_a_closed_journal_does_not_make_recording_raise(journal_location: Path | str) -> None:
    journal = Journal(journal_location)  # SQLite, then PostgreSQL
    journal.close()
    journal.record_refused(status=401, reason="wrong passphrase")  # logged, not raised


# -- retention and schema ---------------------------------------------------------------------


def test_purge_forgets_refused_rows_past_the_retention(journal_location: Path | str) -> None:
    clock = FakeClock(1_700_000_000.0)
    journal = Journal(journal_location, clock=clock)  # SQLite, then PostgreSQL
    journal.record_refused(status=401, reason="old", peer="10.0.0.1")
    clock.advance(8 * 86400)
    journal.record_refused(status=401, reason="new", peer="10.0.0.1")
    journal.purge(7 * 86400)
    assert [r.reason for r in journal.refused_deliveries()] == ["new"]
    journal.close()


def test_the_migration_adds_the_table_to_an_existing_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[:3]) + "; PRAGMA user_version = 3;")
    db.execute("INSERT INTO alerts VALUES ('a','d','i','f','{}',0,NULL,'t','done',NULL,NULL,NULL)")
    db.commit()
    db.close()
    journal = Journal(path)
    assert journal.schema_version == len(MIGRATIONS)
    assert journal.get_alert("a") is not None
    assert journal.refused_deliveries() == []
    journal.record_refused(status=415, reason="unsupported media type")
    assert journal.refused_deliveries()[0].status == 415
    journal.close()


# -- alert-router journal --refused -----------------------------------------------------------


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(CONFIG)
    return path


def _out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _fill(config: Path) -> None:
    clock = FakeClock(1_764_151_200.0)  # 2025-11-26 10:00:00 UTC
    journal = Journal(config.parent / "state" / "journal.sqlite3", clock=clock)
    journal.record_refused(status=401, reason="wrong passphrase", peer="52.89.214.238",
                           body_bytes=120, content_type="application/json",
                           body_sha256="ab" * 32)
    clock.advance(5)
    journal.record_refused(status=422, reason='timenow: required while [server] '
                           'max_lag_seconds (60 s) is set: add "timenow": "{{timenow}}"',
                           peer="52.89.214.238", route="trend", body_bytes=99,
                           content_type="text/plain", body_sha256="cd" * 32)
    journal.close()


def test_journal_refused_lists_newest_first(config: Path, capsys) -> None:
    _fill(config)
    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--refused"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["TIME", "(UTC)", "PEER", "ROUTE", "STATUS"]
    assert len(lines) == 3
    newest, oldest = lines[1], lines[2]
    assert newest.startswith("2025-11-26 10:00:05")
    assert "422" in newest and "trend" in newest and "cdcdcdcdcdcd" in newest
    assert newest.endswith('add "timenow": "{{timenow}}"')
    assert "401" in oldest and oldest.endswith("wrong passphrase")
    assert oldest.index("401") == newest.index("422")  # aligned columns

    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--refused", "--limit", "1"])
    assert len(out.splitlines()) == 2


def test_journal_refused_json(config: Path, capsys) -> None:
    _fill(config)
    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--refused", "--json"])
    assert code == 0
    rows = json.loads(out)
    assert [row["status"] for row in rows] == [422, 401]
    assert rows[1] == {
        "time": "2025-11-26T10:00:00Z", "peer": "52.89.214.238", "route": None,
        "status": 401, "reason": "wrong passphrase", "content_type": "application/json",
        "body_bytes": 120, "body_sha256": "ab" * 32, "dropped": 0,
    }


def test_journal_refused_when_there_are_none(config: Path, capsys) -> None:
    Journal(config.parent / "state" / "journal.sqlite3").close()
    code, out, _ = _out(capsys, ["journal", "-c", str(config), "--refused"])
    assert code == 0
    assert "no refused deliveries in the journal" in out


def test_journal_refused_and_an_alert_id_are_exclusive(config: Path, capsys) -> None:
    Journal(config.parent / "state" / "journal.sqlite3").close()
    code, out, err = _out(capsys, ["journal", "-c", str(config), "--refused", "abc"])
    assert code == 2 and out == ""
    assert "either ALERT_ID or --refused" in err
