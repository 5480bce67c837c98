"""``tune_for_serving``: what ``alert-router serve`` does to the garbage collector once it is
ready. It changes the whole process, so each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json, weakref
from router_core.gc_tuning import YOUNG_GENERATION_THRESHOLD, tune_for_serving

class Node:
    pass

{before}
garbage = Node(); garbage.self = garbage  # a cycle only the collector can free
gone = weakref.ref(garbage)
del garbage
tune_for_serving()
print(json.dumps({{"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold(),
                  "young": YOUNG_GENERATION_THRESHOLD, "garbage_collected": gone() is None}}))
"""


def probe(before: str = "") -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(before=before)],
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_start_up_objects_are_frozen_after_its_garbage_is_collected() -> None:
    result = probe()
    assert isinstance(result["frozen"], int) and result["frozen"] > 1000
    assert result["garbage_collected"] is True  # collected first, not frozen forever


def test_the_young_generation_is_collected_less_often() -> None:
    result = probe("gc.set_threshold(700, 10, 10)")
    assert result["threshold"] == [result["young"], 10, 10]


@pytest.mark.parametrize("threshold, expected", [
    ((0, 10, 10), [0, 10, 10]),  # the collector switched off: left off
    ((50_000, 10, 10), [50_000, 10, 10]),  # set higher by the operator: kept
])
def test_a_threshold_the_operator_chose_is_kept(threshold: tuple[int, int, int],
                                                expected: list[int]) -> None:
    result = probe(f"gc.set_threshold{threshold}")
    assert result["threshold"] == expected
