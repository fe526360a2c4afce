"""Webhooks: every event, exact body and headers, retried, ordered, surviving restarts."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client
from tests.receiver import Receiver


@pytest.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def test_events_have_the_exact_body_and_headers(client: ApiClient, receiver: Receiver) -> None:
    synced = await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    token = synced["webhooks"][0]["token"]
    user_id, conversation_id = await client.conversation()
    message = await client.post(
        "/messages",
        {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "hi"}},
        status=201,
    )
    user_new = await receiver.next(type_="user.new")
    assert user_new.body == {"type": "user.new", "data": {"userId": user_id}}
    assert user_new.headers["x-bp-messaging-client-id"] == client.id
    assert user_new.headers["x-bp-messaging-webhook-token"] == token
    conversation_new = await receiver.next(type_="conversation.new")
    assert conversation_new.body["data"] == {"userId": user_id, "conversationId": conversation_id}
    message_new = await receiver.next(type_="message.new")
    assert message_new.body == {
        "type": "message.new",
        "data": {
            "userId": user_id,
            "conversationId": conversation_id,
            "channel": "messaging",
            "message": message,
        },
    }


async def test_a_collected_message_carries_collect_true(client: ApiClient, receiver: Receiver) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id, conversation_id = await client.conversation()
    await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "x"},
            "timeout": 10,
        },
        status=201,
    )
    event = await receiver.next(type_="message.new")
    assert event.body["data"]["collect"] is True


async def test_a_receiver_failing_twice_gets_the_event_three_times(
    client: ApiClient, receiver: Receiver
) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["user.new"]}]}, status=200)
    receiver.fail_with = [500, 503]
    user_id = await client.user()
    attempts = [await receiver.next(type_="user.new") for _ in range(3)]
    assert receiver.attempts == 3
    assert attempts[2].body["data"]["userId"] == user_id
    event_ids = {a.headers["x-bp-messaging-event-id"] for a in attempts}
    assert len(event_ids) == 1  # one event id on every attempt: duplicates can be dropped
    await client.user()
    other = await receiver.next(type_="user.new")
    assert other.headers["x-bp-messaging-event-id"] not in event_ids


async def test_events_filter(client: ApiClient, receiver: Receiver) -> None:
    await client.post(
        "/sync", {"webhooks": [{"url": receiver.url, "events": ["conversation.new"]}]}, status=200
    )
    _, conversation_id = await client.conversation()
    event = await receiver.next()
    assert event.body["type"] == "conversation.new"
    assert event.body["data"]["conversationId"] == conversation_id
    assert receiver.of_type("user.new") == []


async def test_events_of_a_conversation_arrive_in_order_despite_failures(
    client: ApiClient, receiver: Receiver
) -> None:
    await client.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["message.new"]}]}, status=200)
    user_id, conversation_id = await client.conversation()
    receiver.fail_with = [500]  # the first message fails once; later ones must wait for it
    for n in range(5):
        await client.post(
            "/messages",
            {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "custom", "n": n}},
            status=201,
        )
    delivered = await receiver.wait_for(5, "message.new")
    assert [d.body["data"]["message"]["payload"]["n"] for d in delivered] == [0, 1, 2, 3, 4]


async def test_final_failures_are_counted_on_the_admin_route(
    aiohttp_client, tmp_path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, webhooks={"max_attempts": 2})
    http = await aiohttp_client(create_app(settings))
    client = await new_client(http)
    await client.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["user.new"]}]}, status=200)
    given_up = asyncio.get_running_loop().create_future()
    http.app[SERVICES].bus.subscribe("webhook.failed", given_up.set_result)
    receiver.fail_with = [500, 500, 500]
    await client.user()
    failure = await asyncio.wait_for(given_up, 5)
    assert failure.error == "HTTP 500" and receiver.attempts == 2
    counts = await http.get(f"/api/v1/admin/clients/{client.id}/webhooks")
    assert counts.status == 200 and await counts.json() == {"pending": 0, "failed": 1}
    assert await client.get("/health") == {"channels": {}}  # exactly Botpress's shape


async def test_pending_events_are_delivered_after_a_restart(
    aiohttp_client, tmp_path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path, webhooks={"max_attempts": 1000})
    await receiver.stop()  # the receiver is down while the first server runs
    first = await aiohttp_client(create_app(settings))
    client = await new_client(first)
    await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    user_id = await client.user()
    await first.close()
    assert receiver.received == []

    await receiver.start(port=receiver.port)
    await aiohttp_client(create_app(settings))
    event = await receiver.next(type_="user.new", timeout=10)
    assert event.body["data"]["userId"] == user_id


async def test_an_acknowledged_event_is_not_delivered_again(
    aiohttp_client, tmp_path, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path)
    first = await aiohttp_client(create_app(settings))
    client = await new_client(first)
    await client.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["user.new"]}]}, status=200)
    first_user = await client.user()
    await receiver.next(type_="user.new")
    await first.close()

    second = await aiohttp_client(create_app(settings))
    second_user = await ApiClient(second, client.id, client.token).user()
    while (await receiver.next(type_="user.new")).body["data"]["userId"] != second_user:
        pass
    assert [r.body["data"]["userId"] for r in receiver.received] == [first_user, second_user]
