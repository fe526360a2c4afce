"""Users and user tokens."""

from __future__ import annotations

from aiohttp import web

from .routing import Call, json_response, route
from .schemas import Empty, IdParams, UserOut, UserTokenBody, UserTokenOut


@route("POST", "/users", status=201, body=Empty, response=UserOut, summary="Create a user")
async def create_user(call: Call) -> web.Response:
    user = await call.services.users.create(call.client_id)
    return json_response(user.to_api(), 201)


@route("GET", "/users/{id}", params=IdParams, response=UserOut, summary="Get a user")
async def get_user(call: Call) -> web.Response:
    user = await call.services.users.get(call.client_id, call.params.id)
    return json_response(user.to_api())


@route(
    "POST",
    "/users/tokens",
    status=201,
    body=UserTokenBody,
    response=UserTokenOut,
    summary="Create a token for a user (web chat credentials)",
)
async def create_user_token(call: Call) -> web.Response:
    token_id, token = await call.services.users.create_token(call.client_id, call.body.userId)
    return json_response({"id": token_id, "token": token}, 201)
