"""`GET /clients` (are these credentials good?) and `GET /health`."""

from __future__ import annotations

from aiohttp import web

from .routing import Call, json_response, route, text_response
from .schemas import HealthOut


@route("GET", "/clients", errors=(401,), summary="Check the client's credentials")
async def check_client(call: Call) -> web.Response:
    return text_response("OK")


@route(
    "GET",
    "/health",
    response=HealthOut,
    errors=(401,),
    summary="Channel health events, newest first",
)
async def health(call: Call) -> web.Response:
    report = await call.services.health.report(call.client_id)
    status = call.services.storage_health.status()
    if status["status"] != "ok":  # a storage fault under way shows as the `storage` entry
        entry = report["channels"].setdefault("storage", {"events": []})
        entry.update(status)
    return json_response(report)
