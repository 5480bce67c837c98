"""``tune_for_serving``: what the web app's lifespan does to the garbage collector once the
router has started, and gives back on shutdown (``test_intake_gc`` checks the lifespan)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from router_core.gc_tuning import YOUNG_GENERATION_THRESHOLD, tune_for_serving


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)
    gc.unfreeze()


@pytest.mark.usefixtures("thresholds")
def test_start_up_objects_are_frozen_and_young_collections_rarer_until_restored() -> None:
    gc.set_threshold(700, 10, 10)
    restore = tune_for_serving()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 10, 10)
    restore()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("thresholds")
@pytest.mark.parametrize("threshold", [
    (0, 10, 10),  # the collector switched off: left off
    (50_000, 10, 10),  # set higher by the operator: kept
])
def test_a_threshold_the_operator_chose_is_kept(threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(*threshold)
    restore = tune_for_serving()
    assert gc.get_threshold() == threshold
    restore()
    assert gc.get_threshold() == threshold
