"""`POST /sync`: the current contract (client headers) and the seed's (credentials in body).

With client headers the body may carry only `channels`, `webhooks` and `bot`, and the reply
is `{webhooks}`. Without them (the seed's contract) it may also carry `id` and `token`: an
unknown or absent id creates a client (admin key required when one is configured), a known
id needs its token (else 403), and the reply is `{id, token, webhooks}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .routing import Call, admin_ok, json_response, route, text_response, unauthorized
from .schemas import SeedSyncBody, SyncReply


@route(
    "POST",
    "/sync",
    auth="sync",
    body=SeedSyncBody,
    response=SyncReply,
    errors=(400, 401, 403),
    summary="Replace the client's channels, webhooks and bot",
)
async def sync(call: Call) -> web.Response:
    body = call.body
    webhooks = (
        None
        if body.webhooks is None
        else [w.model_dump(mode="json", exclude_none=True) for w in body.webhooks]
    )
    if call.client is None:
        return await _seed_sync(call, webhooks)
    for key in ("id", "token", "name"):
        if key in body.model_fields_set:
            return text_response(f'"body.{key}" is not allowed', 400)
    replied = await call.services.sync.sync(call.client_id, body.channels, webhooks, body.bot)
    return json_response({"webhooks": replied})


async def _seed_sync(call: Call, webhooks: list[dict[str, Any]] | None) -> web.Response:
    body = call.body
    creating = not body.id or await call.services.clients.get(body.id) is None
    if creating and not admin_ok(call.request):
        return unauthorized()
    request = {
        "id": body.id,
        "token": body.token,
        "channels": body.channels,
        "webhooks": webhooks,
        "bot": body.bot,
    }
    return json_response(await call.services.sync.sync_seed(request))
