"""`messages/collect`: the long-poll that turns an asynchronous bot into request/response."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.api import SERVICES
from tests.conftest import ApiClient
from tests.receiver import Receiver


@pytest.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def external_bot(client: ApiClient, receiver: Receiver, replies: list[str]) -> None:
    """A bot written against the webhooks: answer the collected message, then end the turn."""
    event = await receiver.next(type_="message.new")
    data = event.body["data"]
    assert data["collect"] is True
    for text in replies:
        await client.post(
            "/messages",
            {
                "conversationId": data["conversationId"],
                "payload": {"type": "text", "text": text},
                "incomingId": data["message"]["id"],
            },
            status=201,
        )
    await client.post(f"/messages/turn/{data['message']['id']}", status=200)


async def test_collect_returns_at_end_of_turn_well_before_timeout(
    client: ApiClient, receiver: Receiver
) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id, conversation_id = await client.conversation()
    bot = asyncio.create_task(external_bot(client, receiver, ["Hi!", "How can I help?"]))
    started = time.monotonic()
    reply = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "hello"},
            "timeout": 20_000,
        },
        status=201,
    )
    elapsed = time.monotonic() - started
    await bot
    assert elapsed < 5
    assert reply["message"]["authorId"] == user_id
    assert [r["payload"]["text"] for r in reply["responses"]] == ["Hi!", "How can I help?"]
    assert all("authorId" not in r for r in reply["responses"])


async def test_a_collect_without_timeout_waits_for_the_turn(client: ApiClient, receiver: Receiver) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id, conversation_id = await client.conversation()
    bot = asyncio.create_task(external_bot(client, receiver, ["Hi!"]))
    body = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "hi"}}
    reply = await client.post("/messages/collect", body, status=201)  # default: 10 s
    await bot
    assert [r["payload"]["text"] for r in reply["responses"]] == ["Hi!"]


async def test_collect_times_out_with_what_was_gathered(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    started = time.monotonic()
    reply = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "anyone?"},
            "timeout": 300,
        },
        status=201,
    )
    assert 0.25 < time.monotonic() - started < 3
    assert reply["responses"] == []


async def test_collect_returns_partial_replies_at_timeout(client: ApiClient, receiver: Receiver) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id, conversation_id = await client.conversation()

    async def slow_bot() -> None:
        data = (await receiver.next(type_="message.new")).body["data"]
        await client.post(
            "/messages",
            {
                "conversationId": conversation_id,
                "payload": {"type": "text", "text": "one moment"},
                "incomingId": data["message"]["id"],
            },
            status=201,
        )

    bot = asyncio.create_task(slow_bot())
    reply = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "hi"},
            "timeout": 1500,
        },
        status=201,
    )
    await bot
    assert [r["payload"]["text"] for r in reply["responses"]] == ["one moment"]


async def test_collect_validation(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    base = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}}
    assert (
        await client.post("/messages/collect", {**base, "timeout": 50_001}, status=400)
        == '"body.timeout" must be less than or equal to 50000'
    )
    assert (
        await client.post("/messages/collect", {**base, "timeout": -1}, status=400)
        == '"body.timeout" must be greater than or equal to 0'
    )
    no_author = {k: v for k, v in base.items() if k != "authorId"}
    assert await client.post("/messages/collect", no_author, status=400) == '"body.authorId" is required'
    assert (
        await client.post("/messages/collect", {**base, "authorId": None}, status=400)
        == '"body.authorId" must be a string'
    )


async def test_collects_are_kept_apart(client: ApiClient, receiver: Receiver) -> None:
    """Two conversations collect at once; each gets only the replies to its own message."""
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    pairs = [await client.conversation() for _ in range(2)]

    async def echo_bot() -> None:
        for _ in range(2):
            data = (await receiver.next(type_="message.new")).body["data"]
            text = data["message"]["payload"]["text"]
            await client.post(
                "/messages",
                {
                    "conversationId": data["conversationId"],
                    "payload": {"type": "text", "text": f"echo {text}"},
                    "incomingId": data["message"]["id"],
                },
                status=201,
            )
            await client.post(f"/messages/turn/{data['message']['id']}", status=200)

    bot = asyncio.create_task(echo_bot())
    replies = await asyncio.gather(
        *(
            client.post(
                "/messages/collect",
                {
                    "conversationId": c,
                    "authorId": u,
                    "payload": {"type": "text", "text": f"from {c}"},
                    "timeout": 10_000,
                },
                status=201,
            )
            for u, c in pairs
        )
    )
    await bot
    for (_, conversation_id), reply in zip(pairs, replies, strict=True):
        assert [r["payload"]["text"] for r in reply["responses"]] == [f"echo from {conversation_id}"]


async def test_earlier_bot_replies_do_not_leak_into_a_collect(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    earlier = await client.post(
        "/messages",
        {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        status=201,
    )
    await client.post(
        "/messages",
        {
            "conversationId": conversation_id,
            "payload": {"type": "custom", "late": 1},
            "incomingId": earlier["id"],
        },
        status=201,
    )
    reply = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "x"},
            "timeout": 200,
        },
        status=201,
    )
    assert reply["responses"] == []


async def test_a_disconnected_collect_frees_its_collector(client: ApiClient, api: TestClient) -> None:
    services = api.app[SERVICES]
    user_id, conversation_id = await client.conversation()
    subscribers_before = services.bus.subscriber_count()
    loop = asyncio.get_running_loop()
    opened, closed = loop.create_future(), loop.create_future()

    def watch(count: int) -> None:
        waiter = opened if count == 1 else closed
        if not waiter.done():
            waiter.set_result(count)

    services.collect.watchers.append(watch)
    request = asyncio.create_task(
        api.post(
            "/api/v1/messages/collect",
            headers=client.headers,
            json={
                "conversationId": conversation_id,
                "authorId": user_id,
                "payload": {"type": "text", "text": "x"},
                "timeout": 0,
            },
        )
    )
    await asyncio.wait_for(opened, 5)
    request.cancel()  # the client goes away
    assert await asyncio.wait_for(closed, 5) == 0
    assert services.bus.subscriber_count() == subscribers_before
