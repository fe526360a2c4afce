"""The service's two faces, served by itself: the web chat (`/webchat/`) and the studio (`/studio/`).

No build step: plain ES modules and CSS under `static/`. Every page and file of both carries a
Content-Security-Policy that allows no inline script (see `SECURITY_HEADERS`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from .studio import Studio
from .webchat import SocketHandler, WebchatHub

__all__ = ["WEBCHAT_HUB", "WebchatHub", "add_security_headers", "add_web_routes"]

STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WEBCHAT_HUB = web.AppKey("webchat.hub", WebchatHub)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: http: data:",
        "media-src 'self' https: http:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PREFIXES = ("/webchat", "/studio")


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """CSP and friends on every web chat and studio response (see `edge`); static files may
    be loaded by the pages that embed the widget (module scripts are fetched with CORS)."""
    path = request.path
    if path.startswith(PREFIXES) and not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if path.startswith("/webchat/static/") or path == "/webchat/widget.js":
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"


def _page(name: str) -> Handler:
    async def handle(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return handle


def _redirect(to: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(to + (f"?{request.query_string}" if request.query_string else ""))

    return handle


def add_web_routes(
    app: web.Application, hub: WebchatHub, studio: Studio, own_origins: tuple[str, ...]
) -> None:
    """Add the web chat and studio routes (`own_origins`: the service's own, always allowed);
    at shutdown the hub closes every socket before the server waits for its connections."""
    app.router.add_get("/webchat", _redirect("/webchat/"))
    app.router.add_get("/webchat/", _page("webchat.html"))
    app.router.add_get("/webchat/widget.js", _page("widget.js"))
    app.router.add_get("/webchat/ws", SocketHandler(hub, own_origins).__call__)
    app.router.add_static("/webchat/static/", STATIC)
    app.router.add_get("/studio", _redirect("/studio/"))
    app.router.add_get("/studio/", _page("studio.html"))
    app.router.add_routes(studio.routes())

    async def shutdown(_: web.Application) -> None:
        await hub.close()  # before the store closes: browsers reconnect and resume

    app.on_shutdown.append(shutdown)
