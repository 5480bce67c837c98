"""PostgreSQL for the tests: a throw-away cluster per session, a fresh database per test.

The cluster is made with ``initdb`` in a temporary folder (as the ``postgres`` system user when
the tests run as root: initdb refuses root), listens on a free loopback port and on a unix socket
in that folder, trusts local logins, and is stopped and removed after the session. With
``ALERT_ROUTER_TEST_PG_URL`` set (a superuser's URL of any database on a running cluster) that
cluster is used instead, and each test still gets its own database, dropped afterwards.

Without PostgreSQL a test that needs it is skipped with the reason, except under ``CI=true``,
where it fails: CI must run the PostgreSQL tests, not skip them.

Fixtures (loaded by ``tests/conftest.py``): ``pg_cluster`` (session), ``pg_url`` (a new empty
database: its URL), ``journal_location`` (parametrized: a SQLite path, then a PostgreSQL URL).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_URL = "ALERT_ROUTER_TEST_PG_URL"
SYSTEM_USER = "postgres"  # initdb refuses to run as root
START_TIMEOUT_SECONDS = 60


@dataclass
class PgCluster:
    """A running cluster: ``admin_url`` reaches its maintenance database as a superuser.
    ``data_dir`` is None for a cluster this session did not start (it is never stopped)."""

    admin_url: str
    data_dir: Path | None = None
    pg_ctl: Path | None = None
    options: str = ""
    root: Path | None = None

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def terminate_backends(self, url: str) -> int:
        """Cut every connection to the database (what a restart of the server does to them)."""
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
        return len(rows)

    def stop(self) -> None:
        """Stop the server (only one this session started)."""
        assert self.data_dir is not None and self.pg_ctl is not None, "not our cluster"
        _run_as_owner([str(self.pg_ctl), "-D", str(self.data_dir), "-m", "immediate", "-w",
                       "stop"])

    def start(self) -> None:
        assert self.data_dir is not None and self.pg_ctl is not None, "not our cluster"
        assert self.root is not None
        _run_as_owner([str(self.pg_ctl), "-D", str(self.data_dir), "-l",
                       str(self.root / "server.log"), "-o", self.options, "-w", "-t",
                       str(START_TIMEOUT_SECONDS), "start"])

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement.encode())


def postgres_binaries() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder (Debian's layout, then the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name or 0))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def start_cluster(*, fsync: bool = False) -> PgCluster:
    """initdb and start a cluster in a new temporary folder; raises RuntimeError saying why it
    could not. ``fsync`` off makes the tests faster; the benchmark turns it on."""
    binaries = postgres_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb under /usr/lib/postgresql "
                           "or on the PATH); apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="alert-router-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SYSTEM_USER, SYSTEM_USER)
    data = root / "data"
    try:
        _run_as_owner([str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        port = _free_port()
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300"
                   f" -c fsync={'on' if fsync else 'off'}")
        cluster = PgCluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", data,
                            binaries / "pg_ctl", options, root)
        cluster.start()
    except (OSError, subprocess.CalledProcessError) as exc:
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start a PostgreSQL cluster: {exc} {detail}") from None
    return cluster


def remove_cluster(cluster: PgCluster) -> None:
    if cluster.data_dir is None:
        return
    try:
        cluster.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped
    if cluster.root is not None:
        shutil.rmtree(cluster.root, ignore_errors=True)


def _run_as_owner(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", SYSTEM_USER, "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_SECONDS + 30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests cannot run under CI=true: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason} (set {ENV_URL} to use a running cluster)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    url = os.environ.get(ENV_URL)
    if url:
        yield PgCluster(url)
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        _unavailable(str(exc))
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A new empty database on the test cluster, dropped after the test: its URL."""
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's journal lives, once per backend: a SQLite file, then a PostgreSQL
    database. ``Journal(journal_location)`` opens it; opening it again reopens the same one."""
    if request.param == "sqlite":
        return tmp_path / "j.sqlite3"
    return str(request.getfixturevalue("pg_url"))
