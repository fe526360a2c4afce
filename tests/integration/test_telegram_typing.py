"""Telegram's typing lasts 5 s: it is sent again while a long turn runs, and stops with it."""

from __future__ import annotations

import asyncio
from typing import Any

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from orchestrator.bus import MemoryBus
from orchestrator.channels.gateway import HUB, KEEPALIVE, RETRY
from orchestrator.channels.keepalive import Keepalive
from orchestrator.services.messages import MessageCreated
from tests.conftest import make_settings, new_client
from tests.fakes.base import serving
from tests.fakes.telegram import TelegramFake
from tests.integration.harness import FAST_RETRIES, TIMEOUT


async def test_typing_is_repeated_while_the_turn_runs_and_stops_with_it(aiohttp_client, tmp_path) -> None:
    async for tg in serving(TelegramFake()):
        app = create_app(make_settings(tmp_path))
        app[RETRY] = FAST_RETRIES
        http = await aiohttp_client(app)
        client = await new_client(http)
        config = {"apiUrl": tg.url, "botToken": tg.token}
        await client.post("/sync", {"channels": {"telegram": config}}, status=200)
        app[HUB].channels["telegram"].keepalive_every = 0.02  # Telegram's is 4.5 s
        created: list[MessageCreated] = []
        app[SERVICES].bus.subscribe("message.created", created.append)
        hook = str(http.make_url(f"/webhooks/v1/{client.id}/telegram/{tg.token}"))
        assert (await tg.send(hook, {"text": "a question that takes the bot a while"}))[0] == 200
        # No bot answers: the turn runs until it is ended. Typing comes again and again.
        async with asyncio.timeout(TIMEOUT):
            while len(tg.actions) < 4:
                await tg.wait_for_requests(len(tg.requests) + 1, timeout=TIMEOUT)
        assert all(a == {"chat_id": "777001", "action": "typing"} for a in tg.actions)
        [message] = [e.message for e in created if e.message.author_id is not None]
        await client.post(f"/messages/turn/{message.id}", None, status=200)
        # The watch is gone with its timer: nothing is left to send typing again.
        assert not app[KEEPALIVE].active(message.id) and app[KEEPALIVE].watching == 0


async def test_the_watch_stops_on_a_reply_and_after_the_longest_turn() -> None:
    bus = MemoryBus()
    keepalive = Keepalive(bus, longest=0.1)
    sent: list[str] = []
    ticked = asyncio.Event()

    def send(name: str) -> Any:
        def call() -> None:
            sent.append(name)
            ticked.set()

        return call

    keepalive.watch("m1", 0.01, send("m1"))
    keepalive.watch("m2", 0.01, send("m2"))
    async with asyncio.timeout(TIMEOUT):
        while "m1" not in sent:
            ticked.clear()
            await ticked.wait()
    await bus.publish("collect.m1", {})  # the bot answered m1
    assert not keepalive.active("m1") and keepalive.active("m2")
    async with asyncio.timeout(TIMEOUT):  # m2's turn never ends: it is given up after 0.1 s
        while keepalive.active("m2"):
            await asyncio.sleep(0.01)  # polling a condition, bounded by the timeout
    assert keepalive.watching == 0 and bus.subscriber_count() == 0
