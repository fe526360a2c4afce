"""The REST API: HTTP only (parse, authorise, call a service, render)."""

from __future__ import annotations

import logging

from aiohttp import web

from .. import __version__, metrics
from ..services.errors import Forbidden, Invalid, NotFound, TooMany, Unavailable
from ..store import StorageFault
from . import admin, clients, conversations, endpoints, messages, openapi, sync, users
from .docs_page import setup_docs
from .routing import (
    BOTS,
    ROUTES,
    SERVICES,
    allowed_methods,
    bind,
    json_response,
    text_response,
    unavailable,
)

log = logging.getLogger(__name__)

__all__ = ["BOTS", "SERVICES", "error_response", "http_error_response", "setup_api", "unavailable"]
_MODULES = (admin, clients, conversations, endpoints, messages, sync, users)  # register routes

TOO_LARGE = "PayloadTooLargeError: request entity too large"


def error_response(request: web.Request, exc: Exception) -> web.Response:
    """The answer to an exception a handler raised: service errors to their statuses, a
    storage fault to 503, anything unexpected to a logged 500."""
    if isinstance(exc, NotFound):
        return text_response("Not Found", 404)
    if isinstance(exc, Forbidden):
        return text_response(str(exc) or "Forbidden", 403)
    if isinstance(exc, Invalid):
        return text_response(str(exc), 400)
    if isinstance(exc, Unavailable):
        log.warning("%s %s: %s", request.method, request.path, exc)
        response = text_response(f"Service Unavailable: {exc}", 503)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, TooMany):
        response = text_response(str(exc), 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, StorageFault):  # outside an API route, or before its client was known
        request.app[SERVICES].storage_health.met(None, exc)
        return unavailable(exc)
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return text_response("Internal Server Error", 500)


def http_error_response(request: web.Request, exc: web.HTTPException) -> web.Response | None:
    """Our wording of aiohttp's 413 and 405 (with the route's own methods in `Allow`); None
    for the others, which aiohttp answers itself."""
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return text_response(TOO_LARGE, 413)
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = allowed_methods(request.path) or sorted(exc.allowed_methods)
        response = text_response("Method Not Allowed", 405)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return None


def setup_api(app: web.Application) -> None:
    """Add every route under /api/v1, plus /status, /version and the OpenAPI document."""
    services = app[SERVICES]
    for spec in ROUTES:
        app.router.add_route(spec.method, "/api/v1" + spec.path, bind(spec))
    document = openapi.document()

    async def status(_: web.Request) -> web.Response:
        return text_response("OK")

    async def version(_: web.Request) -> web.Response:
        return text_response(__version__)

    async def openapi_json(_: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics.handler(services.metrics, services.store.outbox_counts))
    app.router.add_get("/version", version)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    setup_docs(app)
