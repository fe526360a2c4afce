"""The REST API: HTTP only (parse, authorise, call a service, render)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import __version__, metrics
from ..services.errors import Forbidden, Invalid, NotFound, TooMany, Unavailable
from ..store import StorageFault
from . import admin, clients, conversations, endpoints, messages, openapi, sync, users
from .docs_page import setup_docs
from .routing import (
    BOTS,
    CLIENT_ID,
    ROUTES,
    SERVICES,
    allowed_methods,
    bind,
    json_response,
    text_response,
)

log = logging.getLogger(__name__)

__all__ = ["BOTS", "SERVICES", "setup_api"]
_MODULES = (admin, clients, conversations, endpoints, messages, sync, users)  # register routes

TOO_LARGE = "PayloadTooLargeError: request entity too large"


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Service errors to their statuses; anything unexpected to a logged 500."""
    try:
        return await handler(request)
    except NotFound:
        return text_response("Not Found", 404)
    except Forbidden as exc:
        return text_response(str(exc) or "Forbidden", 403)
    except Invalid as exc:
        return text_response(str(exc), 400)
    except Unavailable as exc:
        log.warning("%s %s: %s", request.method, request.path, exc)
        response = text_response(f"Service Unavailable: {exc}", 503)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except TooMany as exc:
        response = text_response(str(exc), 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPRequestEntityTooLarge:
        return text_response(TOO_LARGE, 413)
    except StorageFault as exc:
        request.app[SERVICES].storage_health.met(request.get(CLIENT_ID), exc)
        return unavailable(exc)
    except web.HTTPMethodNotAllowed as exc:
        allowed = allowed_methods(request.path) or sorted(exc.allowed_methods)
        response = text_response("Method Not Allowed", 405)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return text_response("Internal Server Error", 500)


def unavailable(fault: StorageFault) -> web.Response:
    """`503` naming the fault class, with `Retry-After` (logged once per episode elsewhere)."""
    response = text_response(f"Service Unavailable: {fault.kind}", 503)
    response.headers["Retry-After"] = str(fault.retry_after)
    return response


def setup_api(app: web.Application) -> None:
    """Add every route under /api/v1, plus /status, /version and the OpenAPI document."""
    services = app[SERVICES]
    app.middlewares.append(metrics.middleware(services.metrics))
    app.middlewares.append(errors_middleware)
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
