"""Declaring routes: authentication first, then validation, then the handler.

Each route is declared once with its models; the same declaration drives the aiohttp router
and the OpenAPI document, so the documentation cannot drift from what is validated.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from .. import jsonutil, tokens
from ..services.container import BotTurns, Services
from ..store import StorageFault
from ..store.records import Client
from .schemas import Empty, NoQuery
from .validation import RequestInvalid, parse

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
BOTS = web.AppKey("bots", BotTurns)  # the bot runner: `POST /conversations/{id}/events`
CLIENT_ID_HEADER = "x-bp-messaging-client-id"
CLIENT_TOKEN_HEADER = "x-bp-messaging-client-token"
ADMIN_KEY_HEADER = "x-bp-messaging-admin-key"

Auth = Literal["client", "admin", "none", "sync"]


@dataclass(slots=True)
class Call:
    """What a handler receives: the validated parts and who is calling."""

    request: web.Request
    services: Services
    body: Any
    query: Any
    params: Any
    client: Client | None = None

    @property
    def client_id(self) -> str:
        assert self.client is not None
        return self.client.id


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: Auth
    summary: str
    status: int
    body: type[BaseModel] | None = None
    query: type[BaseModel] = NoQuery
    params: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_list: bool = False
    errors: tuple[int, ...] = field(default=(400, 401, 404))


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    *,
    auth: Auth = "client",
    summary: str,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] = NoQuery,
    params: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    response_list: bool = False,
    errors: tuple[int, ...] = (400, 401, 404),
) -> Callable[[Handler], Handler]:
    """Register a handler under `/api/v1` + path."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(
            Route(
                method,
                path,
                handler,
                auth,
                summary,
                status,
                body,
                query,
                params,
                response,
                response_list,
                errors,
            )
        )
        return handler

    return register


def allowed_methods(path: str) -> list[str]:
    """The methods of the route `path` matches: the most specific template (fewest parameters),
    so `/messages/collect` is not confused with `/messages/{id}`."""
    matches = [r for r in ROUTES if _template(r.path).fullmatch(path.removeprefix("/api/v1"))]
    if not matches:
        return []
    fewest = min(r.path.count("{") for r in matches)
    return sorted({r.method for r in matches if r.path.count("{") == fewest})


def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)))


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON reply (orjson)."""
    return web.Response(body=jsonutil.dumpb(data), status=status, content_type="application/json")


def text_response(text: str, status: int = 200) -> web.Response:
    """A plain-text reply, as Express's `res.sendStatus`."""
    return web.Response(text=text, status=status)


def unauthorized() -> web.Response:
    return text_response("Unauthorized", 401)


def unavailable(fault: StorageFault) -> web.Response:
    """`503` naming the fault class, with `Retry-After` (logged once per episode elsewhere)."""
    response = text_response(f"Service Unavailable: {fault.kind}", 503)
    response.headers["Retry-After"] = str(fault.retry_after)
    return response


def bind(spec: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for a declared route."""

    no_query = parse(spec.query, {}, "query")  # shared by every request without a query string

    async def handle(request: web.Request) -> web.StreamResponse:
        call = await _call(request, spec, no_query)
        if not isinstance(call, Call):
            return call
        try:
            return await spec.handler(call)
        except StorageFault as exc:
            call.services.storage_health.met(call.client.id if call.client else None, exc)
            return unavailable(exc)

    handle.__name__ = spec.handler.__name__
    return handle


async def _call(request: web.Request, spec: Route, no_query: Any) -> Call | web.Response:
    """The validated parts of a request and who is calling, or the refusal (401, 400).

    Apart from `handle`'s frame, so that a parked handler keeps only the `Call`."""
    services = request.app[SERVICES]
    client: Client | None = None
    if spec.auth == "client" or (spec.auth == "sync" and _has_client_headers(request)):
        client = await _authenticate_client(request, services)
        if client is None:
            return unauthorized()
    elif spec.auth == "admin" and not _admin_ok(request, services):
        return unauthorized()
    try:
        body = await _body(request, spec)
        params = parse(spec.params, dict(request.match_info), "params") if spec.params else None
        query = parse(spec.query, dict(request.query), "query") if request.query else no_query
    except RequestInvalid as exc:
        return text_response(str(exc), 400)
    return Call(request, services, body, query, params, client)


async def _body(request: web.Request, spec: Route) -> Any:
    if spec.body is None:
        return None
    raw = await request.read()
    if not raw:  # absent; whitespace alone is invalid JSON, as Express's body parser says
        data: Any = {}
    else:
        try:
            data = jsonutil.loads_limited(raw)
        except jsonutil.JSONDecodeError as exc:
            raise RequestInvalid('"body" must be valid JSON') from exc
        except jsonutil.TooDeep as exc:
            raise RequestInvalid(f'"body" must not be {exc}') from exc
    return parse(spec.body or Empty, data, "body")


def _has_client_headers(request: web.Request) -> bool:
    return CLIENT_ID_HEADER in request.headers or CLIENT_TOKEN_HEADER in request.headers


async def _authenticate_client(request: web.Request, services: Services) -> Client | None:
    client_id = request.headers.get(CLIENT_ID_HEADER, "")
    token = request.headers.get(CLIENT_TOKEN_HEADER, "")
    if not client_id or not token or len(client_id) > 64 or len(token) > 256:
        return None
    return await services.clients.authenticate(client_id, token)


def _admin_ok(request: web.Request, services: Services) -> bool:
    expected = services.settings.server.admin_key
    if not expected:
        return True
    given = request.headers.get(ADMIN_KEY_HEADER, "")
    return hmac.compare_digest(tokens.as_bytes(given), tokens.as_bytes(expected))


def admin_ok(request: web.Request) -> bool:
    """Whether the request carries the admin key (or none is configured)."""
    return _admin_ok(request, request.app[SERVICES])
