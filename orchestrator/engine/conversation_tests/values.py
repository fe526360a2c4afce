"""JSON values in test assertions: partial matching, equality as stored, and how they are shown."""

from __future__ import annotations

import json
from typing import Any


def subset(expected: Any, actual: Any) -> bool:
    """Expected objects match when the keys they give match (recursively); the rest is equal.
    Booleans match only booleans (in Python `1 == True`; in a test it should not)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def show_json(value: Any) -> str:
    """A value as JSON, for messages (non-JSON values through `str`)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def same_json(want: Any, got: Any) -> bool:
    """Whether two values are equal once stored as JSON (tuples are lists, keys are strings…)."""
    return json.loads(show_json(want)) == json.loads(show_json(got))
