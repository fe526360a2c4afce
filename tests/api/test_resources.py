"""Users, conversations, messages and endpoints, as the Botpress Messaging contract says."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient

from tests.conftest import ApiClient

UNKNOWN = str(uuid.uuid4())


async def test_users_are_created_and_read_without_a_data_key(client: ApiClient) -> None:
    user = await client.post("/users", status=201)
    assert user == {"id": user["id"], "clientId": client.id}
    assert await client.get(f"/users/{user['id']}") == user
    assert await client.post("/users", {"foo": 1}, status=400) == '"body.foo" is not allowed'
    assert await client.get("/users/not-a-guid", status=400) == '"params.id" must be a valid GUID'
    assert await client.get(f"/users/{UNKNOWN}", status=404) == "Not Found"


async def test_user_tokens(client: ApiClient) -> None:
    user_id = await client.user()
    token = await client.post("/users/tokens", {"userId": user_id}, status=201)
    assert token["token"].startswith(token["id"] + ".") and len(token["token"]) == 125
    await client.post("/users/tokens", {"userId": UNKNOWN}, status=404)
    assert await client.get("/users/tokens", status=400) == '"params.id" must be a valid GUID'


async def test_conversations_are_created_and_listed_newest_activity_first(
    client: ApiClient,
) -> None:
    user_id = await client.user()
    first = await client.post("/conversations", {"userId": user_id}, status=201)
    assert set(first) == {"id", "userId", "clientId", "createdOn"}
    assert first["createdOn"].endswith("Z") and len(first["createdOn"]) == 24
    second = await client.post("/conversations", {"userId": user_id}, status=201)
    await client.post(
        "/messages",
        {"conversationId": first["id"], "authorId": user_id, "payload": {"type": "text", "text": "hi"}},
        status=201,
    )
    third = await client.post("/conversations", {"userId": user_id}, status=201)
    listed = await client.get(f"/conversations/user/{user_id}")
    # Conversations without messages first (newest first), then by latest message.
    assert [c["id"] for c in listed] == [third["id"], second["id"], first["id"]]
    assert len(await client.get(f"/conversations/user/{user_id}?limit=1")) == 1
    assert len(await client.get(f"/conversations/user/{user_id}?limit=0")) == 3
    assert (
        await client.get(f"/conversations/user/{user_id}?limit=x", status=400)
        == '"query.limit" must be a number'
    )
    assert (
        await client.get(f"/conversations/user/{user_id}?order=asc", status=400)
        == '"query.order" is not allowed'
    )
    await client.post("/conversations", {"userId": UNKNOWN}, status=404)
    assert await client.get(f"/conversations/{first['id']}") == first


async def test_messages_shapes_and_validation(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    user_message = await client.post(
        "/messages",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "hello"},
        },
        status=201,
    )
    assert set(user_message) == {"id", "conversationId", "authorId", "sentOn", "payload"}
    bot_message = await client.post(
        "/messages",
        {
            "conversationId": conversation_id,
            "payload": {"type": "text", "text": "hi!"},
            "incomingId": user_message["id"],
        },
        status=201,
    )
    assert "authorId" not in bot_message
    assert await client.get(f"/messages/{bot_message['id']}") == bot_message
    assert (
        await client.post(
            "/messages",
            {"conversationId": conversation_id, "authorId": None, "payload": {"type": "text", "text": "x"}},
            status=400,
        )
        == '"body.authorId" must be a string'
    )
    assert (
        await client.post("/messages", {"conversationId": conversation_id, "payload": "text"}, status=400)
        == '"body.payload" must be of type object'
    )
    assert (
        await client.post("/messages", {"payload": {"type": "text", "text": "x"}}, status=400)
        == '"body.conversationId" is required'
    )
    await client.post(
        "/messages", {"conversationId": UNKNOWN, "payload": {"type": "text", "text": "x"}}, status=404
    )
    await client.post(
        "/messages",
        {"conversationId": conversation_id, "authorId": UNKNOWN, "payload": {"type": "text", "text": "x"}},
        status=404,
    )


async def test_message_list_is_newest_first_with_a_stable_tie_break(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    ids = []
    for n in range(25):
        message = await client.post(
            "/messages",
            {
                "conversationId": conversation_id,
                "authorId": user_id,
                "payload": {"type": "text", "text": str(n)},
            },
            status=201,
        )
        ids.append(message["id"])
    listed = await client.get(f"/messages/conversation/{conversation_id}")
    assert [m["id"] for m in listed] == ids[::-1][:20]  # default limit 20, insertion tie-break
    everything = await client.get(f"/messages/conversation/{conversation_id}?limit=0")
    assert len(everything) == 25
    oldest = everything[-1]
    until = await client.get(f"/messages/conversation/{conversation_id}?limit=0&from={oldest['sentOn']}")
    assert oldest["id"] in [m["id"] for m in until]
    assert all(m["sentOn"] <= oldest["sentOn"] for m in until)


async def test_deleting_messages(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    sent = [
        await client.post(
            "/messages",
            {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "custom", "n": n}},
            status=201,
        )
        for n in range(3)
    ]
    assert await client.delete(f"/messages/{sent[0]['id']}", status=204) == ""
    await client.delete(f"/messages/{sent[0]['id']}", status=404)
    assert await client.delete(f"/messages/conversation/{conversation_id}", status=200) == {"count": 2}
    assert await client.delete(f"/messages/conversation/{conversation_id}", status=200) == {"count": 0}
    await client.delete(f"/messages/conversation/{UNKNOWN}", status=404)


async def test_end_of_turn_route(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    message = await client.post(
        "/messages",
        {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        status=201,
    )
    assert await client.post(f"/messages/turn/{message['id']}", status=200) == "OK"
    await client.post(f"/messages/turn/{UNKNOWN}", status=404)


async def test_endpoint_mapping_is_idempotent_and_creates_user_and_conversation(
    client: ApiClient,
) -> None:
    endpoint = {
        "channel": {"name": "telegram", "version": "1.0.0"},
        "identity": "*",
        "sender": "42",
        "thread": "42",
    }
    first = await client.post("/endpoints/map", endpoint, status=200)
    again = await client.post("/endpoints/map", endpoint, status=200)
    assert first == again
    other_thread = await client.post("/endpoints/map", {**endpoint, "thread": "43"}, status=200)
    assert other_thread != first
    listed = await client.get(f"/endpoints/conversation/{first['conversationId']}")
    assert listed == [endpoint]
    conversation = await client.get(f"/conversations/{first['conversationId']}")
    second_conversation = await client.get(f"/conversations/{other_thread['conversationId']}")
    assert conversation["userId"] == second_conversation["userId"]  # same sender, same user
    custom = await client.post("/endpoints/map", {**endpoint, "channel": "my-app"}, status=200)
    assert (await client.get(f"/endpoints/conversation/{custom['conversationId']}"))[0]["channel"] == "my-app"
    assert (
        await client.post("/endpoints/map", {**endpoint, "identity": ""}, status=400)
        == '"body.identity" is not allowed to be empty'
    )
    await client.post(
        "/endpoints/map", {**endpoint, "channel": {"name": "telegram", "version": "9.9.9"}}, status=400
    )
    _, api_conversation = await client.conversation()
    assert await client.get(f"/endpoints/conversation/{api_conversation}") == []


async def test_concurrent_mapping_of_one_endpoint_gives_one_conversation(
    client: ApiClient,
) -> None:
    endpoint = {"channel": "load", "identity": "*", "sender": "s", "thread": "t"}
    results = await asyncio.gather(*(client.post("/endpoints/map", endpoint, status=200) for _ in range(10)))
    assert len({r["conversationId"] for r in results}) == 1


async def test_every_resource_is_invisible_to_other_clients(
    client: ApiClient, other_client: ApiClient
) -> None:
    user_id, conversation_id = await client.conversation()
    message = await client.post(
        "/messages",
        {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        status=201,
    )
    mapped = await client.post(
        "/endpoints/map", {"channel": "x", "identity": "i", "sender": "s", "thread": "t"}, status=200
    )
    other = other_client
    await other.get(f"/users/{user_id}", status=404)
    await other.post("/users/tokens", {"userId": user_id}, status=404)
    await other.post("/conversations", {"userId": user_id}, status=404)
    await other.get(f"/conversations/{conversation_id}", status=404)
    await other.get(f"/conversations/user/{user_id}", status=404)
    await other.post(
        "/messages", {"conversationId": conversation_id, "payload": {"type": "text", "text": "x"}}, status=404
    )
    await other.post(
        "/messages/collect",
        {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "x"}},
        status=404,
    )
    await other.get(f"/messages/{message['id']}", status=404)
    await other.get(f"/messages/conversation/{conversation_id}", status=404)
    await other.post(f"/messages/turn/{message['id']}", status=404)
    await other.delete(f"/messages/{message['id']}", status=404)
    await other.delete(f"/messages/conversation/{conversation_id}", status=404)
    await other.get(f"/endpoints/conversation/{mapped['conversationId']}", status=404)
    # …and nothing was deleted on the owner's side.
    assert len(await client.get(f"/messages/conversation/{conversation_id}")) == 1


async def test_health_lists_channel_events(client: ApiClient, api: TestClient) -> None:
    assert await client.get("/health") == {"channels": {}}
    await client.post("/sync", {"channels": {"telegram": {"botToken": "t"}}}, status=200)
    health = await client.get("/health")
    assert [e["type"] for e in health["channels"]["telegram"]["events"]] == ["create"]
