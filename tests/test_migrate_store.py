"""`orchestrator migrate-store`: a SQLite database in use moves into PostgreSQL whole."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.cli import main
from orchestrator.store import open_store
from orchestrator.store.records import utcnow

from .conftest import make_settings, new_client
from .receiver import Receiver


async def test_everything_moves_and_the_counts_are_checked(
    aiohttp_client: Callable[..., Any], tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestrator.app import create_app

    settings = make_settings(tmp_path)
    http: TestClient = await aiohttp_client(create_app(settings))
    receiver = await Receiver().start(port=0)
    await receiver.stop()  # a dead URL: its events stay pending in the outbox
    client = await new_client(http)
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id, conversation_id = await client.conversation()
    for n in range(3):
        await client.post(
            "/messages",
            {
                "conversationId": conversation_id,
                "authorId": user_id,
                "payload": {"type": "text", "text": f"m{n}"},
            },
            status=201,
        )
    await http.close()

    source = settings.storage.url
    assert await asyncio.to_thread(main, ["migrate-store", "--from", source, "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "messages: 3 rows" in out and "every count matches" in out

    moved = open_store(pg_url)
    await moved.open()
    texts = [m.payload["text"] for m in await moved.list_messages(conversation_id, 0, None)]
    assert texts == ["m2", "m1", "m0"]
    assert (await moved.delivery_counts(client.id))["pending"] >= 3  # pending webhook events came too
    assert await moved.claim_deliveries(utcnow().timestamp() + 3600, 30, 10)  # and can be delivered
    await moved.close()

    assert (
        await asyncio.to_thread(main, ["migrate-store", "--from", source, "--to", pg_url]) == 2
    )  # never into a full database
    assert "already holds clients" in capsys.readouterr().err
