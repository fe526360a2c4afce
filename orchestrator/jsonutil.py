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


# The one nesting limit of every JSON document the service accepts (API bodies and platform
# webhooks). orjson parses 1,024 levels but writes only 254; what is stored is later wrapped by
# a few levels (webhook events, turn traces), so the door is set well below the writer's limit.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """A JSON document nested deeper than MAX_DEPTH."""


def loads(raw: str | bytes) -> Any:
    """Parse JSON text or bytes."""
    return orjson.loads(raw)


def loads_limited(raw: str | bytes) -> Any:
    """Parse untrusted JSON: JSONDecodeError when malformed, TooDeep when nested too deeply."""
    value = orjson.loads(raw)
    # each level opens a bracket: a document with few brackets cannot be deep (no walk needed)
    brackets = raw.count("[") + raw.count("{") if isinstance(raw, str) else raw.count(b"[") + raw.count(b"{")
    if brackets > MAX_DEPTH and depth_exceeds(value, MAX_DEPTH):
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    return value


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` has more than `limit` levels of nested arrays/objects."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return False


JSONDecodeError = orjson.JSONDecodeError
