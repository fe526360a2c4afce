"""`/docs`: the interactive API page (Swagger UI) rendered from `/api/v1/openapi.json`.

The assets come from the `swagger-ui-bundle-v2` package and are served by this service: the
page loads nothing from another host.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

DOCUMENT_URL = "/api/v1/openapi.json"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Orchestrator messaging API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = f"""window.ui = SwaggerUIBundle({{
  url: "{DOCUMENT_URL}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true
}});
"""


def setup_docs(app: web.Application) -> None:
    """Add `/docs`, its initializer and its static assets."""

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=_PAGE, content_type="text/html")

    async def init(_: web.Request) -> web.Response:
        return web.Response(text=_INIT, content_type="application/javascript")

    app.router.add_get("/docs", page)
    app.router.add_get("/docs/init.js", init)
    app.router.add_static("/docs/assets", Path(swagger_ui_path))
