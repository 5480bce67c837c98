"""Client order ids are built without ``uuid.UUID`` on the hot path; they must stay the very
ids ``uuid.uuid5`` gives, or a restarted router would look up (and re-send under) other ids
than the ones its venues know."""

from __future__ import annotations

import uuid

import pytest

from router_core.models import LegPurpose
from router_core.orders import CLIENT_ID_NAMESPACE, client_order_id, uuid5_text
from router_core.positions import venue_child_order_id

NAMES = [
    "",
    "a",
    "0" * 64 + "\x1falice\x1fopen",
    "intent\x1fcompte-été\x1fclose",  # non-ASCII account names hash as UTF-8
    "🚀\x1fb\x1fflip",
    "x" * 1000,
]


@pytest.mark.parametrize("name", NAMES)
def test_the_text_is_uuid5s(name: str) -> None:
    assert uuid5_text(name) == str(uuid.uuid5(CLIENT_ID_NAMESPACE, name))


@pytest.mark.parametrize("purpose", list(LegPurpose))
def test_every_leg_purpose_gives_uuid5s_id(purpose: LegPurpose) -> None:
    key = "4f0c2b7e9d1a4c3b8e6f5a2d1c0b9a87"
    expected = uuid.uuid5(CLIENT_ID_NAMESPACE, f"{key}\x1falice\x1f{purpose.value}")
    made = client_order_id(key, "alice", purpose)
    assert made == str(expected)
    parsed = uuid.UUID(made)
    assert (parsed.version, parsed.variant) == (5, uuid.RFC_4122)


def test_a_pinned_id_does_not_move() -> None:
    # written down once from uuid.uuid5: a change of name layout or namespace shows here
    assert client_order_id("intent-1", "alice", LegPurpose.OPEN) == str(
        uuid.uuid5(uuid.UUID("6f6d1f57-3b51-4c47-9a7e-2f1c0b1e8a11"), "intent-1\x1falice\x1fopen")
    )


def test_the_shared_hash_state_is_not_worn_by_use() -> None:
    first = client_order_id("k", "alice", LegPurpose.OPEN)
    for n in range(50):
        client_order_id(f"other-{n}", "bob", LegPurpose.CLOSE)
    assert client_order_id("k", "alice", LegPurpose.OPEN) == first


def test_venue_child_ids_are_uuid5s() -> None:
    assert venue_child_order_id("alice", "OQCLML-BW3P3-BUCMWZ") == str(
        uuid.uuid5(CLIENT_ID_NAMESPACE, "venue-child\x1falice\x1fOQCLML-BW3P3-BUCMWZ")
    )
