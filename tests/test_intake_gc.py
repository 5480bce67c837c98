"""While the app serves, young garbage collections run less often (a burst's live request
objects are not walked again and again); the process's thresholds come back on shutdown."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from pydantic import SecretStr

from router_core import make_plugin_manager
from router_core.gc_tuning import YOUNG_GENERATION_THRESHOLD as YOUNG_GC_THRESHOLD
from router_core.router import Router
from router_core.security import WebhookSettings
from router_core.server import create_app

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")


async def test_young_collections_are_rarer_while_serving_and_restored_after(
        tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text('[router]\nstate_dir = "state"\n[accounts.paper]\nbroker = "paper"\n')
    router = Router.from_config_file(path, plugins=make_plugin_manager(["paper"]))
    app = create_app(router, WebhookSettings(passphrase=SecretStr("p" * 12)))
    before = gc.get_threshold()
    assert before[0] != YOUNG_GC_THRESHOLD
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *before[1:])
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # start-up's objects are set aside
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
