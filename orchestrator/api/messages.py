"""Messages: create, collect (long-poll for the bot's replies), end a turn, list, delete."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from ..services.collect import Collector
from ..store.records import Message
from .routing import Call, json_response, route, text_response
from .schemas import (
    CollectBody,
    CollectOut,
    ConversationIdParams,
    CountOut,
    Empty,
    IdParams,
    MessageBody,
    MessageListQuery,
    MessageOut,
)


@route(
    "POST",
    "/messages",
    status=201,
    body=MessageBody,
    response=MessageOut,
    summary="Create a message (omit authorId for a bot message)",
)
async def create_message(call: Call) -> web.Response:
    body = call.body
    message = await call.services.messages.create(
        call.client_id,
        body.conversationId,
        body.payload,
        author_id=body.authorId,
        incoming_id=body.incomingId,
    )
    return json_response(message.to_api(), 201)


@route(
    "POST",
    "/messages/collect",
    status=201,
    body=CollectBody,
    response=CollectOut,
    errors=(400, 401, 404, 429),
    summary="Create a user message and wait for the bot's replies to it (at most 50 s)",
)
async def collect(call: Call) -> web.Response:
    message, collector = await _open_collect(call)
    responses = await collector
    reply = {"message": message.to_api(), "responses": [m.to_api() for m in responses]}
    return json_response(reply, 201)


def _open_collect(call: Call) -> Awaitable[tuple[Message, Collector]]:
    """Start the collect; the body is taken out of the call, so a parked collect keeps none of it."""
    body, call.body = call.body, None
    return call.services.collect.open(
        call.client_id, body.conversationId, body.authorId, body.payload, body.timeout
    )


@route(
    "POST",
    "/messages/turn/{id}",
    params=IdParams,
    body=Empty,
    summary="End the bot's turn for an incoming message (releases its collect)",
)
async def end_turn(call: Call) -> web.Response:
    await call.services.messages.end_turn(call.client_id, call.params.id)
    return text_response("OK")


@route("GET", "/messages/{id}", params=IdParams, response=MessageOut, summary="Get a message")
async def get_message(call: Call) -> web.Response:
    message = await call.services.messages.get(call.client_id, call.params.id)
    return json_response(message.to_api())


@route(
    "GET",
    "/messages/conversation/{conversationId}",
    params=ConversationIdParams,
    query=MessageListQuery,
    response=MessageOut,
    response_list=True,
    summary="List a conversation's messages, newest first",
)
async def list_messages(call: Call) -> web.Response:
    found = await call.services.messages.list(
        call.client_id, call.params.conversationId, call.query.limit, call.query.from_
    )
    return json_response([m.to_api() for m in found])


@route("DELETE", "/messages/{id}", status=204, params=IdParams, summary="Delete a message")
async def delete_message(call: Call) -> web.Response:
    await call.services.messages.delete(call.client_id, call.params.id)
    return web.Response(status=204)


@route(
    "DELETE",
    "/messages/conversation/{conversationId}",
    params=ConversationIdParams,
    response=CountOut,
    summary="Delete every message of a conversation",
)
async def delete_messages(call: Call) -> web.Response:
    count = await call.services.messages.delete_all(call.client_id, call.params.conversationId)
    return json_response({"count": count})
