"""Times as the API writes them: `iso` is JavaScript's `toISOString` (UTC, milliseconds, `Z`)
for any aware time, and `utcnow` is truncated to the millisecond, as stored and shown."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from orchestrator.store.records import iso, parse_iso, utcnow


def reference(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def test_iso_reads_as_to_iso_string_for_any_offset_and_fraction() -> None:
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
    fractions = [0, 999, 1000, 123_456, 999_999]
    for _ in range(2000):
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**9))
        moment = moment.replace(microsecond=rng.choice([*fractions, rng.randrange(10**6)]))
        moment = moment.astimezone(rng.choice(zones))
        assert iso(moment) == reference(moment), moment
        assert iso(moment) == iso(moment)  # the second time from the cache, the same text


def test_the_same_instant_in_two_offsets_reads_the_same() -> None:
    utc = datetime(2026, 12, 2, 17, 0, 0, 250_000, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert iso(paris) == iso(utc) == "2026-12-02T17:00:00.250Z"


def test_utcnow_is_aware_and_whole_milliseconds() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    for _ in range(5000):
        now = utcnow()
        assert now.tzinfo is UTC and now.microsecond % 1000 == 0
    assert before <= now <= datetime.now(UTC)
    assert parse_iso(iso(now)) == now
