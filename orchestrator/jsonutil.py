"""Fast JSON (orjson) for request bodies, responses and stored columns."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Serialise to a JSON string."""
    return orjson.dumps(value).decode()


def dumpb(value: Any) -> bytes:
    """Serialise to JSON bytes (for HTTP bodies)."""
    return orjson.dumps(value)


def loads(raw: str | bytes) -> Any:
    """Parse JSON text or bytes."""
    return orjson.loads(raw)


JSONDecodeError = orjson.JSONDecodeError
