"""Conversations, their trace and the system events injected into them."""

from __future__ import annotations

from aiohttp import web

from .routing import BOTS, Call, json_response, route, text_response
from .schemas import (
    ConversationBody,
    ConversationEventBody,
    ConversationOut,
    EventReply,
    IdParams,
    LimitQuery,
    TraceOut,
    UserIdParams,
)


@route(
    "POST",
    "/conversations",
    status=201,
    body=ConversationBody,
    response=ConversationOut,
    summary="Create a conversation for a user",
)
async def create_conversation(call: Call) -> web.Response:
    conversation = await call.services.conversations.create(call.client_id, call.body.userId)
    return json_response(conversation.to_api(), 201)


@route("GET", "/conversations/{id}", params=IdParams, response=ConversationOut, summary="Get a conversation")
async def get_conversation(call: Call) -> web.Response:
    conversation = await call.services.conversations.get(call.client_id, call.params.id)
    return json_response(conversation.to_api())


@route(
    "GET",
    "/conversations/user/{userId}",
    params=UserIdParams,
    query=LimitQuery,
    response=ConversationOut,
    response_list=True,
    summary="List a user's conversations, most recently active first",
)
async def list_conversations(call: Call) -> web.Response:
    found = await call.services.conversations.list_for_user(
        call.client_id, call.params.userId, call.query.limit
    )
    return json_response([c.to_api() for c in found])


@route(
    "POST",
    "/conversations/{id}/events",
    params=IdParams,
    body=ConversationEventBody,
    response=EventReply,
    errors=(400, 401, 404, 409),
    summary="Send a system event to the conversation's bot "
    "(account_linked, agent_joined, agent_released, closed…) and get its replies",
)
async def post_event(call: Call) -> web.Response:
    conversation = await call.services.conversations.get(call.client_id, call.params.id)
    bots = call.request.app[BOTS]
    outcome = await bots.inject_event(call.client_id, conversation, call.body.event, call.body.data)
    if outcome is None:
        return text_response("this conversation's client has no built-in bot (sync sets one)", 409)
    return json_response(
        {
            "responses": [m.to_api() for m in outcome.replies],
            "handoff": outcome.handoff_state,
        }
    )


@route(
    "GET",
    "/conversations/{id}/trace",
    params=IdParams,
    response=TraceOut,
    summary="The bot's turn traces for this conversation (why did the bot say that?)",
)
async def get_trace(call: Call) -> web.Response:
    turns = await call.services.conversations.traces(call.client_id, call.params.id)
    return json_response({"turns": turns})
