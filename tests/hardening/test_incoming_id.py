"""Item 3: a bot message's `incomingId` names a user message of the same conversation."""

from __future__ import annotations

from tests.conftest import ApiClient

REFUSED = '"body.incomingId" must be the id of a user message of this conversation'


async def _user_message(client: ApiClient, conversation_id: str, user_id: str) -> str:
    body = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "hi"}}
    return (await client.post("/messages", body, status=201))["id"]


async def _bot_reply(client: ApiClient, conversation_id: str, incoming_id: str, status: int) -> dict:
    body = {
        "conversationId": conversation_id,
        "payload": {"type": "text", "text": "x"},
        "incomingId": incoming_id,
    }
    return await client.post("/messages", body, status=status)


async def test_another_clients_message_is_refused_like_an_unknown_one(
    client: ApiClient, other_client: ApiClient
) -> None:
    a_user, a_conversation = await client.conversation()
    a_message = await _user_message(client, a_conversation, a_user)
    _, b_conversation = await other_client.conversation()
    foreign = await _bot_reply(other_client, b_conversation, a_message, 400)
    unknown = await _bot_reply(other_client, b_conversation, "6f1c6a8e-8d6e-4a57-9c1e-2f1d1b1a0a01", 400)
    assert foreign == unknown
    assert REFUSED in str(foreign)


async def test_a_message_of_another_conversation_of_the_same_client_is_refused(client: ApiClient) -> None:
    user_id, first = await client.conversation()
    _, second = await client.conversation(user_id)
    message = await _user_message(client, first, user_id)
    assert REFUSED in str(await _bot_reply(client, second, message, 400))


async def test_a_bot_message_is_not_an_incoming_message(client: ApiClient) -> None:
    user_id, conversation = await client.conversation()
    message = await _user_message(client, conversation, user_id)
    reply = await _bot_reply(client, conversation, message, 201)
    assert REFUSED in str(await _bot_reply(client, conversation, reply["id"], 400))


async def test_a_foreign_conversation_is_still_404(client: ApiClient, other_client: ApiClient) -> None:
    a_user, a_conversation = await client.conversation()
    a_message = await _user_message(client, a_conversation, a_user)
    await _bot_reply(other_client, a_conversation, a_message, 404)
