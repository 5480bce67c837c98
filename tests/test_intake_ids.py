"""Alert ids are the text of random version 4 UUIDs (``router.new_alert_id``), built without the
UUID object, exactly as ``str(uuid.uuid4())`` writes them."""

from __future__ import annotations

import uuid

from router_core.router import new_alert_id


def test_an_alert_id_is_a_version_4_uuid_in_its_usual_text() -> None:
    seen = set()
    for _ in range(2000):
        alert_id = new_alert_id()
        parsed = uuid.UUID(alert_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == alert_id  # lower-case hex, dashes at 8-4-4-4-12
        seen.add(alert_id)
    assert len(seen) == 2000


def test_every_bit_outside_version_and_variant_is_random() -> None:
    ones = 0
    zeros = 0
    for _ in range(400):
        value = uuid.UUID(new_alert_id()).int
        ones |= value
        zeros |= ~value
    fixed = (0xF << 76) | (0x3 << 62)  # the version nibble and the variant's two bits
    assert ones | fixed == (1 << 128) - 1
    assert (zeros & ((1 << 128) - 1)) | fixed == (1 << 128) - 1
