"""Item 8: one JSON nesting limit at the door (400 naming body); every later writer agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.app import create_app
from orchestrator.channels.base import parse_json
from orchestrator.jsonutil import MAX_DEPTH
from tests.conftest import make_settings, new_client

BOTS = str(Path(__file__).resolve().parents[2] / "bots")


def nested(levels: int) -> dict[str, Any]:
    """A text payload whose whole body (`{"payload": ...}` included) has `levels` levels."""
    inner: Any = 1
    for _ in range(levels - 2):
        inner = [inner]
    return {"type": "text", "text": "hi", "deep": inner}


async def test_too_deep_is_400_naming_body_and_the_limit_is_usable(aiohttp_client, tmp_path) -> None:
    env = {"ORDERS_API_URL": "http://127.0.0.1:1", "ORDERS_API_TOKEN": "t"}
    http = await aiohttp_client(create_app(make_settings(tmp_path, bots={"dir": BOTS, "env": env})))
    client = await new_client(http)
    await client.post("/sync", {"bot": "support-desk"}, status=200)
    user_id, conversation_id = await client.conversation()

    def body(levels: int) -> dict[str, Any]:
        return {"conversationId": conversation_id, "authorId": user_id, "payload": nested(levels)}

    for levels in (MAX_DEPTH + 1, 250, 255, 600):
        refused = await client.post("/messages", body(levels), status=400)
        assert f'"body" must not be nested deeper than {MAX_DEPTH} levels' in refused
    await client.post("/messages/collect", {**body(MAX_DEPTH), "timeout": 10000}, status=201)
    traces = await client.get(f"/conversations/{conversation_id}/trace")
    assert traces  # the trace of the deepest accepted message is still readable
    assert len(await client.get(f"/messages/conversation/{conversation_id}")) >= 1


def test_platform_webhooks_get_the_same_limit() -> None:
    import orjson

    assert parse_json(orjson.dumps({"payload": nested(MAX_DEPTH)})) is not None
    assert parse_json(orjson.dumps({"payload": nested(MAX_DEPTH + 1)})) is None
