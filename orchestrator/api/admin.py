"""Admin routes: create clients, name them (the scope of their channel webhooks), and read
their webhook delivery counters."""

from __future__ import annotations

from aiohttp import web

from .routing import Call, json_response, route, text_response
from .schemas import ClientCreated, CreateClient, IdParams, RenameClient, WebhookCountsOut


@route(
    "POST",
    "/admin/clients",
    auth="admin",
    status=201,
    body=CreateClient,
    response=ClientCreated,
    errors=(400, 401, 403),
    summary="Create a client and its token",
)
async def create_client(call: Call) -> web.Response:
    client_id, token = await call.services.clients.create(call.body.id)
    return json_response({"id": client_id, "token": token}, 201)


@route(
    "PUT",
    "/admin/clients/name",
    auth="admin",
    body=RenameClient,
    errors=(204, 400, 401, 404),
    summary="Name a client (its scope in /webhooks/v1/<scope>/<channel>); 204 if unchanged",
)
async def rename_client(call: Call) -> web.Response:
    if await call.services.clients.get(call.body.id) is None:
        return text_response("Not Found", 404)
    changed = await call.services.clients.rename(call.body.id, call.body.name)
    return text_response("OK") if changed else web.Response(status=204)


@route(
    "GET",
    "/admin/clients/{id}/webhooks",
    auth="admin",
    params=IdParams,
    response=WebhookCountsOut,
    errors=(400, 401, 404),
    summary="The client's webhook delivery counters: pending and given-up events",
)
async def webhook_counts(call: Call) -> web.Response:
    if await call.services.clients.get(call.params.id) is None:
        return text_response("Not Found", 404)
    return json_response(await call.services.health.webhook_counts(call.params.id))
