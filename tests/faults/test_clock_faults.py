"""The clock jumps (through the injectable clock): a timer fires once, whichever way time
moves, and business hours are judged on the new time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrator.app import create_app
from tests.api.test_support_desk_bot import BOTS, CLOSED, OPEN, texts
from tests.conftest import ApiClient, make_settings, new_client
from tests.engine.support import write_files

PAUSE = """\
version: 1
flows:
  pause:
    triggers: [{keywords: [pause]}]
    steps:
      - say: "Wait for it..."
      - id: breathe
        wait: {duration: 5m}
      - say: "Done waiting."
"""
HEADER = "version: 1\nbot:\n  id: test\n  timezone: Europe/Paris\nflows: [flows/test/*.yaml]\n"
START = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
POLLS = 2.5  # seconds: more than two polls of the timer loop (1 s each)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _bot_texts(client: ApiClient, conversation: str) -> list[str]:
    messages = await client.get(f"/messages/conversation/{conversation}?limit=0")
    return [m["payload"].get("text", "") for m in reversed(messages) if "authorId" not in m]


async def test_a_timer_fires_once_across_jumps_back_and_forward(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    write_files(tmp_path, {"bots/test.yaml": HEADER, "flows/test/main.yaml": PAUSE})
    clock = Clock(START)
    settings = make_settings(tmp_path, bots={"dir": str(tmp_path / "bots")})
    api = await aiohttp_client(create_app(settings, clock=clock))
    client = await new_client(api)
    await client.post("/sync", {"bot": "test"}, status=200)
    user, conversation = await client.conversation()
    body = {"conversationId": conversation, "authorId": user, "payload": {"type": "text", "text": "pause"}}
    reply = await client.post("/messages/collect", body, status=201)
    assert [r["payload"]["text"] for r in reply["responses"]] == ["Wait for it..."]

    clock.now = START - timedelta(hours=1)  # back: the timer is further away, not lost
    await asyncio.sleep(POLLS)
    assert await _bot_texts(client, conversation) == ["Wait for it..."]

    clock.now = START + timedelta(minutes=6)  # forward past the due time: it fires
    async with asyncio.timeout(10):
        while "Done waiting." not in await _bot_texts(client, conversation):
            await asyncio.sleep(0.1)
    clock.now = START + timedelta(hours=3)  # further forward, then back again: nothing more
    await asyncio.sleep(POLLS)
    clock.now = START
    await asyncio.sleep(POLLS)
    assert await _bot_texts(client, conversation) == ["Wait for it...", "Done waiting."]


async def test_business_hours_follow_the_new_time(aiohttp_client: Callable[..., Any], tmp_path: Path) -> None:
    clock = Clock(OPEN)
    settings = make_settings(tmp_path, bots={"dir": BOTS})
    api = await aiohttp_client(create_app(settings, clock=clock))
    client = await new_client(api)
    await client.post("/sync", {"bot": "support-desk"}, status=200)

    async def handoff() -> str:
        user, conversation = await client.conversation()
        body = {
            "conversationId": conversation,
            "authorId": user,
            "payload": {"type": "postback", "payload": "HANDOFF"},
        }
        reply = await client.post("/messages/collect", {**body, "timeout": 10_000}, status=201)
        return texts([r["payload"] for r in reply["responses"]])

    assert "away right now" not in await handoff()
    clock.now = CLOSED  # jump forward to a Saturday night
    assert "away right now" in await handoff()
    clock.now = OPEN  # and back to a Wednesday morning
    assert "away right now" not in await handoff()
