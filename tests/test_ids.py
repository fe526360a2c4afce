"""Message ids: valid, distinct version-4 UUIDs."""

import uuid

from orchestrator.ids import new_id


def test_new_ids_are_distinct_version_4_uuids():
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:500]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
