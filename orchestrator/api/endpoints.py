"""StoredEndpoint mapping: which conversation a channel endpoint belongs to."""

from __future__ import annotations

from aiohttp import web

from ..store.records import StoredEndpoint
from .routing import Call, json_response, route, text_response
from .schemas import ConversationIdParams, EndpointBody, EndpointOut, MappingOut


@route(
    "POST",
    "/endpoints/map",
    body=EndpointBody,
    response=MappingOut,
    errors=(400, 401),
    summary="Map (channel, identity, sender, thread) to a conversation, creating it once",
)
async def map_endpoint(call: Call) -> web.Response:
    body = call.body
    if isinstance(body.channel, str):
        name, version = body.channel, None
    else:
        name, version = body.channel.name, body.channel.version
        if version not in call.services.channel_catalogue.versions(name):
            return text_response(f'"body.channel" channel {name} {version} does not exist', 400)
    endpoint = StoredEndpoint(name, body.identity, body.sender, body.thread, version)
    mapping = await call.services.endpoints.map(call.client_id, endpoint)
    return json_response({"conversationId": mapping.conversation_id})


@route(
    "GET",
    "/endpoints/conversation/{conversationId}",
    params=ConversationIdParams,
    response=EndpointOut,
    response_list=True,
    summary="List a conversation's endpoints",
)
async def list_endpoints(call: Call) -> web.Response:
    conversation_id = call.params.conversationId
    await call.services.conversations.get(call.client_id, conversation_id)
    endpoints = await call.services.endpoints.of_conversation(conversation_id)
    return json_response([e.to_api() for e in endpoints])
