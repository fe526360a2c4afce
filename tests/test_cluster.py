"""Two instances on one PostgreSQL and one Redis, in one test process: a collect held on one
is answered from the other, and the bus survives a Redis restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.app import create_app
from orchestrator.bus import REMOTE
from orchestrator.bus.redis import RedisBus
from orchestrator.bus.topics import (
    CLIENT_SYNCED,
    CONVERSATION_HANDOFF,
    MESSAGE_CREATED,
    OUTBOX,
    WEBHOOK_FAILED,
    ClientSynced,
    HandoffChanged,
    MessageCreated,
    OutboxWritten,
    TurnEnded,
    WebhookFailed,
    collect_topic,
    turn_topic,
)
from orchestrator.store.records import Conversation, Message, StoredEndpoint, utcnow

from .backends import PrivateRedis, redis_or_skip, redis_prefix
from .conftest import ApiClient, make_settings, new_client
from .receiver import Receiver


@pytest.fixture
async def two_instances(
    aiohttp_client: Callable[..., Any], tmp_path: Path, pg_url: str
) -> tuple[TestClient, TestClient]:
    bus_url = f"{redis_or_skip()}?prefix={redis_prefix()}"
    instances = []
    for name in ("a", "b"):
        settings = make_settings(tmp_path / name, storage={"url": pg_url}, bus={"url": bus_url})
        instances.append(await aiohttp_client(create_app(settings)))
    return instances[0], instances[1]


async def test_a_collect_on_one_instance_is_answered_from_another(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    a, b = two_instances
    receiver = await Receiver().start()
    try:
        on_a = await new_client(a)
        on_b = ApiClient(b, on_a.id, on_a.token)
        await on_a.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
        user_id, conversation_id = await on_a.conversation()
        collect = asyncio.create_task(
            on_a.post(
                "/messages/collect",
                {
                    "conversationId": conversation_id,
                    "authorId": user_id,
                    "payload": {"type": "text", "text": "ping"},
                    "timeout": 10_000,
                },
                status=201,
            )
        )
        event = await receiver.next(type_="message.new")  # a webhook consumer hears it…
        incoming = event.body["data"]["message"]["id"]
        started = time.perf_counter()
        await on_b.post(  # …and answers through the other instance
            "/messages",
            {
                "conversationId": conversation_id,
                "payload": {"type": "text", "text": "pong"},
                "incomingId": incoming,
            },
            status=201,
        )
        await on_b.post(f"/messages/turn/{incoming}", status=200)
        reply = await asyncio.wait_for(collect, 5)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert [r["payload"]["text"] for r in reply["responses"]] == ["pong"]
        print(f"collect answered across instances {elapsed_ms:.1f} ms after the reply was posted")
    finally:
        await receiver.stop()


async def test_instances_share_webhook_deliveries_once_each_in_order(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    a, b = two_instances
    receiver = await Receiver().start()
    try:
        on_a = await new_client(a)
        on_b = ApiClient(b, on_a.id, on_a.token)
        await on_a.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["message.new"]}]}, status=200)
        conversations = [await on_a.conversation() for _ in range(3)]
        sent: dict[str, list[str]] = {}
        for n in range(30):  # alternately on each instance; both workers deliver
            user_id, conversation_id = conversations[n % 3]
            api = (on_a, on_b)[n % 2]
            body = {
                "conversationId": conversation_id,
                "authorId": user_id,
                "payload": {"type": "text", "text": str(n)},
            }
            message = await api.post("/messages", body, status=201)
            sent.setdefault(conversation_id, []).append(message["id"])
        delivered = await receiver.wait_for(30, "message.new", timeout=10)
        ids = [d.body["data"]["message"]["id"] for d in delivered]
        assert sorted(ids) == sorted(i for of_one in sent.values() for i in of_one)  # each once
        for in_order in sent.values():
            assert [i for i in ids if i in in_order] == in_order
    finally:
        await receiver.stop()


async def test_a_web_chat_on_one_instance_shows_a_reply_posted_to_another(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    a, b = two_instances
    on_a = await new_client(a)
    on_b = ApiClient(b, on_a.id, on_a.token)
    origin = "https://shop.example.com"
    await on_a.post("/sync", {"channels": {"webchat": {"allowedOrigins": [origin]}}}, status=200)
    ws = await a.ws_connect(f"/webchat/ws?clientId={on_a.id}", headers={"Origin": origin})
    await ws.send_json({"type": "hello"})
    async with asyncio.timeout(5):
        ready = await ws.receive_json()
        while (await ws.receive_json())["type"] != "synced":
            pass
        body = {"conversationId": ready["conversationId"], "payload": {"type": "text", "text": "from b"}}
        await on_b.post("/messages", body, status=201)  # an external bot answers through B
        while (frame := await ws.receive_json())["type"] != "message":
            pass
    assert frame["message"]["payload"]["text"] == "from b"
    await ws.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis.or_skip(tmp_path)
    yield server
    server.stop()


async def test_the_bus_reconnects_after_a_redis_restart(private_redis: PrivateRedis) -> None:
    url = f"redis://127.0.0.1:{private_redis.port}/0?prefix={redis_prefix()}"
    a, b = RedisBus(url, reconnect_max=0.2), RedisBus(url, reconnect_max=0.2)
    await a.open()
    await b.open()
    heard: asyncio.Queue[Any] = asyncio.Queue()
    b.subscribe(turn_topic("m1"), heard.put_nowait)
    try:
        await a.publish(turn_topic("m1"), TurnEnded("m1"))
        assert await asyncio.wait_for(heard.get(), 2) == TurnEnded("m1")
        private_redis.stop()
        await a.publish(turn_topic("m1"), TurnEnded("lost"))  # Redis is down: dropped, not raised
        private_redis.start()
        async with asyncio.timeout(5):  # both resubscribe; then events cross again
            while True:
                await a.publish(turn_topic("m1"), TurnEnded("after"))
                try:
                    if await asyncio.wait_for(heard.get(), 0.2) == TurnEnded("after"):
                        break
                except TimeoutError:
                    continue
    finally:
        await a.close()
        await b.close()


async def test_every_crossing_topic_arrives_as_its_payload_type() -> None:
    url = f"{redis_or_skip()}?prefix={redis_prefix()}"
    a, b = RedisBus(url), RedisBus(url)
    await a.open()
    await b.open()
    now = utcnow()
    conversation = Conversation("conv", "c1", "u1", now)
    message = Message("m1", "conv", None, now, {"type": "text", "text": "hi"}, "m0")
    source = StoredEndpoint("telegram", "bot", "sender", "thread", "1.0.0")
    sent = {  # topic published -> (topic it arrives on, event)
        collect_topic("m0"): (collect_topic("m0"), message),
        turn_topic("m0"): (turn_topic("m0"), TurnEnded("m0")),
        CLIENT_SYNCED: (CLIENT_SYNCED, ClientSynced("c1")),
        OUTBOX: (OUTBOX, OutboxWritten()),
        MESSAGE_CREATED: (
            REMOTE + MESSAGE_CREATED,
            MessageCreated("c1", conversation, message, source, True),
        ),
        CONVERSATION_HANDOFF: (REMOTE + CONVERSATION_HANDOFF, HandoffChanged("c1", "conv", "agent")),
    }
    heard: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    for arrives_on, _ in sent.values():
        b.subscribe(arrives_on, lambda event, topic=arrives_on: heard.put_nowait((topic, event)))
    try:
        for topic, (_, event) in sent.items():
            await a.publish(topic, event)
        got = dict([await asyncio.wait_for(heard.get(), 2) for _ in sent])
        assert got == dict(sent.values())
        # and nothing else crosses: webhook.failed stays where it happened
        b.subscribe(WEBHOOK_FAILED, lambda event: heard.put_nowait((WEBHOOK_FAILED, event)))
        await a.publish(WEBHOOK_FAILED, WebhookFailed("http://x/", "HTTP 500"))
        await a.publish(turn_topic("m0"), TurnEnded("m0"))
        assert await asyncio.wait_for(heard.get(), 2) == (turn_topic("m0"), TurnEnded("m0"))
    finally:
        await a.close()
        await b.close()
