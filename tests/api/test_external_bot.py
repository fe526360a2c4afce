"""The README's external bot answers through collect, as a Botpress-style webhook consumer."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import ApiClient


async def test_the_readme_external_bot_answers_a_collect(
    client: ApiClient, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import examples.external_bot as external_bot

    monkeypatch.setattr(external_bot, "API", str(api.make_url("/api/v1")))
    runner = None
    try:
        # Sync first to learn the webhook token, then start the bot on the synced port.
        from tests.receiver import Receiver

        port_holder = await Receiver().start()
        url = port_holder.url
        await port_holder.stop()
        synced = await client.post("/sync", {"webhooks": [{"url": url}]}, status=200)
        app = external_bot.make_app(client.id, client.token, synced["webhooks"][0]["token"])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port_holder.port).start()

        user_id, conversation_id = await client.conversation()
        reply = await client.post(
            "/messages/collect",
            {
                "conversationId": conversation_id,
                "authorId": user_id,
                "payload": {"type": "text", "text": "ping"},
                "timeout": 10_000,
            },
            status=201,
        )
        assert [r["payload"]["text"] for r in reply["responses"]] == ["You said: ping"]
    finally:
        if runner:
            await runner.cleanup()
