"""Item 12: a per-client cap on open collects (429 + Retry-After) and a per-conversation cap."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client


async def _open(client: ApiClient, conversation_id: str, user_id: str) -> asyncio.Task:
    body = {
        "conversationId": conversation_id,
        "authorId": user_id,
        "payload": {"type": "text", "text": "x"},
        "timeout": 50000,
    }
    return asyncio.ensure_future(
        client.http.post("/api/v1/messages/collect", json=body, headers=client.headers)
    )


async def _wait_open(client: ApiClient, count: int) -> None:
    service = client.http.app[SERVICES].collect
    opened = asyncio.Event()
    service.watchers.append(lambda n: opened.set() if n >= count else None)
    if service.open_count < count:
        await asyncio.wait_for(opened.wait(), 10)


async def _end_turns(client: ApiClient, conversation_ids: list[str]) -> None:
    for conversation_id in conversation_ids:
        for message in await client.get(f"/messages/conversation/{conversation_id}"):
            await client.post(f"/messages/turn/{message['id']}", {}, status=200)


async def test_caps(aiohttp_client, tmp_path) -> None:
    settings = make_settings(
        tmp_path, collect={"max_per_client": 3, "max_per_conversation": 2, "retry_after": 7}
    )
    http = await aiohttp_client(create_app(settings))
    client, other = await new_client(http), await new_client(http)
    user_id, first = await client.conversation()
    _, second = await client.conversation(user_id)
    held = [await _open(client, first, user_id) for _ in range(2)]
    await _wait_open(client, 2)

    per_conversation = await client.post(
        "/messages/collect",
        {"conversationId": first, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        status=429,
    )
    assert "collect.max_per_conversation" in per_conversation
    held.append(await _open(client, second, user_id))
    await _wait_open(client, 3)
    resp = await http.post(
        "/api/v1/messages/collect",
        json={"conversationId": second, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        headers=client.headers,
    )
    assert resp.status == 429 and resp.headers["Retry-After"] == "7"
    assert "collect.max_per_client" in await resp.text()

    # another client is not affected
    other_user, other_conversation = await other.conversation()
    body = {
        "conversationId": other_conversation,
        "authorId": other_user,
        "payload": {"type": "text", "text": "x"},
        "timeout": 1,
    }
    await other.post("/messages/collect", body, status=201)

    # once the held collects end, the client may collect again
    await _end_turns(client, [first, second])
    assert [r.status for r in await asyncio.wait_for(asyncio.gather(*held), 10)] == [201] * 3
    body = {
        "conversationId": first,
        "authorId": user_id,
        "payload": {"type": "text", "text": "x"},
        "timeout": 1,
    }
    await client.post("/messages/collect", body, status=201)


async def test_each_collect_gives_its_share_back(aiohttp_client, tmp_path) -> None:
    """With caps of one, collects one after another all pass (the count goes back to none,
    and no counter is kept per conversation once its collects are answered)."""
    settings = make_settings(tmp_path, collect={"max_per_client": 1, "max_per_conversation": 1})
    http = await aiohttp_client(create_app(settings))
    client = await new_client(http)
    user_id, conversation_id = await client.conversation()
    body = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}}
    for _ in range(3):
        await client.post("/messages/collect", {**body, "timeout": 1}, status=201)
    service = http.app[SERVICES].collect
    assert (service._per_client, service._per_conversation, service.open_count) == ({}, {}, 0)


async def test_release_all_answers_open_collects_at_once(client: ApiClient) -> None:
    """What shutdown calls: every open collect (even `timeout: 0`, which is not "answer now"
    but "until the turn ends, 50 s at most") is answered with what it gathered, and counted."""
    service = client.http.app[SERVICES].collect
    user_id, conversation_id = await client.conversation()
    done = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "a"},
            "timeout": 1,
        },
        status=201,
    )
    assert done["responses"] == []
    body = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "b"}}
    held = asyncio.ensure_future(
        client.http.post("/api/v1/messages/collect", json={**body, "timeout": 0}, headers=client.headers)
    )
    await _wait_open(client, 1)
    with pytest.raises(TimeoutError):  # timeout 0 does not answer at once
        await asyncio.wait_for(asyncio.shield(held), 0.3)
    assert service.release_all() == 1  # the finished collect is not counted again
    resp = await asyncio.wait_for(held, 5)
    assert resp.status == 201 and (await resp.json())["responses"] == []
    assert service.release_all() == 0
