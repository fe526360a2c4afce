"""Business hours: parse `{mon-fri: "09:00-18:00", sat: "10:00-12:00", holidays: [...]}`
and tell whether an instant is inside them, in the bot's timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Open intervals per weekday (0 = Monday) as minutes since midnight, plus closed dates."""

    days: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date]

    def is_open(self, now: datetime, tz: ZoneInfo) -> bool:
        """True when `now` (timezone-aware) falls inside an open interval, holidays excepted."""
        local = now.astimezone(tz)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days[local.weekday()])


def parse_days(key: str) -> list[int]:
    """`mon-fri` → [0..4]; `sat,sun` → [5, 6]; `mon` → [0]."""
    result: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if "-" in part:
            a, _, b = part.partition("-")
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"'{key}' is not a day range (use mon-fri, sat, sun…)")
            i, j = DAYS.index(a), DAYS.index(b)
            if j < i:
                raise ValueError(f"'{key}': the range must go forward (mon-fri, not fri-mon)")
            result.extend(range(i, j + 1))
        elif part in DAYS:
            result.append(DAYS.index(part))
        else:
            raise ValueError(f"'{part}' is not a day (use mon, tue, wed, thu, fri, sat, sun)")
    return result


def parse_ranges(value: str | list[str]) -> list[tuple[int, int]]:
    """`"09:00-12:00, 14:00-18:00"` (or a list of them, or `closed`) → minute intervals."""
    items = value if isinstance(value, list) else str(value).split(",")
    result: list[tuple[int, int]] = []
    for item in items:
        text = str(item).strip()
        if text.lower() == "closed":
            continue
        m = _RANGE.match(text)
        if not m:
            raise ValueError(f"'{text}' is not a time range (use 09:00-18:00)")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
            raise ValueError(f"'{text}' is not a valid time range within one day")
        result.append((start, end))
    return result


def build_schedule(days: dict[str, str | list[str]], holidays: list[str]) -> Schedule:
    """Compile validated day specs and ISO holiday dates into a `Schedule`."""
    per_day: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for key, ranges in days.items():
        for d in parse_days(key):
            per_day[d].extend(parse_ranges(ranges))
    closed = frozenset(date.fromisoformat(h) for h in holidays)
    return Schedule(tuple(tuple(sorted(x)) for x in per_day), closed)


__all__ = ["Schedule", "build_schedule", "parse_days", "parse_ranges"]
