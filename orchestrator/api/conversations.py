"""Conversations, their trace and the system events injected into them."""

from __future__ import annotations

from aiohttp import web

from .routing import Call, json_response, route
from .schemas import (
    ConversationBody,
    ConversationOut,
    IdParams,
    LimitQuery,
    UserIdParams,
)


@route("POST", "/conversations", status=201, body=ConversationBody, response=ConversationOut,
       summary="Create a conversation for a user")
async def create_conversation(call: Call) -> web.Response:
    conversation = await call.services.conversations.create(call.client_id, call.body.userId)
    return json_response(conversation.to_api(), 201)


@route("GET", "/conversations/{id}", params=IdParams, response=ConversationOut,
       summary="Get a conversation")
async def get_conversation(call: Call) -> web.Response:
    conversation = await call.services.conversations.get(call.client_id, call.params.id)
    return json_response(conversation.to_api())


@route("GET", "/conversations/user/{userId}", params=UserIdParams, query=LimitQuery,
       response=ConversationOut, response_list=True,
       summary="List a user's conversations, most recently active first")
async def list_conversations(call: Call) -> web.Response:
    found = await call.services.conversations.list_for_user(
        call.client_id, call.params.userId, call.query.limit
    )
    return json_response([c.to_api() for c in found])
