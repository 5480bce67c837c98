"""``[cluster]``: its settings are checked, and it is refused where it cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_core.errors import ConfigError
from router_core.router import Router


def _write(tmp_path: Path, cluster: str) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(f"""
[router]
state_dir = "state"
plugins = ["paper"]
[cluster]
{cluster}
[accounts.paper]
broker = "paper"
""")
    return path


def test_a_cluster_on_a_sqlite_journal_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Router.from_config_file(_write(tmp_path, "enabled = true"))
    assert caught.value.key == "cluster.enabled"
    assert "PostgreSQL" in str(caught.value)


def test_a_sqlite_journal_runs_a_single_instance_by_default(tmp_path: Path) -> None:
    router = Router.from_config_file(_write(tmp_path, 'instance_id = "a"'))
    try:
        assert router.cluster is None
    finally:
        router.journal.close()


def test_a_heartbeat_longer_than_half_the_lease_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Router.from_config_file(_write(tmp_path, "lease_seconds = 2\nheartbeat_seconds = 1.5"))
    assert "heartbeat_seconds" in str(caught.value)
