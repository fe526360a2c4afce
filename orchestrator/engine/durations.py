"""Durations as written in flow files: `800ms`, `5s`, `2m`, `1h30m`, `1d`, or a number of seconds."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$")


def parse_duration(value: str | float | int) -> float:
    """Seconds in `value`; raises ValueError on anything that is not a duration."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str) or not _WHOLE.match(value):
        raise ValueError(f"'{value}' is not a duration (examples: 800ms, 5s, 2m, 1h30m, 1d)")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
