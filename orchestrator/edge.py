"""The one middleware every request passes through (one coroutine frame per request, which a
parked collect holds for up to 50 s): it maps the API's errors to their answers, puts the
security headers on the web chat's and studio's responses, and counts every answered request
by method, route and status."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .api import error_response, http_error_response
from .metrics import Metrics, route_of
from .web import add_security_headers


def edge_middleware(metrics: Metrics) -> Middleware:
    """The middleware of the service's app."""

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            mapped = http_error_response(request, exc)
            if mapped is None:
                metrics.request(request.method, route_of(request), exc.status)
                raise
            response = mapped
        except Exception as exc:
            response = error_response(request, exc)
        except BaseException:
            metrics.request(request.method, route_of(request), 500)
            raise
        else:  # the handler's own answer (error answers go out without them)
            add_security_headers(request, response)
        metrics.request(request.method, route_of(request), response.status)
        return response

    return edge
