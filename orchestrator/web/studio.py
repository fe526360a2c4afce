"""The studio's JSON and SVG routes under `/studio/api/`, all behind the admin key.

The studio page itself (`/studio/`) is static and public: it holds no data, asks for the admin
key and sends it as `x-bp-messaging-admin-key` on every call here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ..api.routing import admin_ok, json_response, text_response
from ..bots import BotCatalog
from ..engine.trace_format import trace_sections
from ..reload import BotReloader, ReloadResult
from ..services.container import Services
from ..services.errors import NotFound
from ..store.records import iso
from .flowpicture import default_flow, flow_svg, flows_with_steps
from .tryit import Sandbox, TryError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COVERAGE_FILE = Path("data") / "coverage.json"  # written by `orchestrator test`
LISTED = 50  # conversations listed per client


class Studio:
    """Read models for the studio page, from the services, the bot catalog and the reloader."""

    def __init__(
        self,
        services: Services,
        catalog: BotCatalog,
        reloader: BotReloader | None,
        sandbox: Sandbox,
        refused: Callable[[], int],
    ) -> None:
        self.services, self.catalog, self.reloader = services, catalog, reloader
        self.sandbox = sandbox
        self._refused = refused

    def routes(self) -> list[web.RouteDef]:
        """Every studio API route, each checking the admin key first."""
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/studio/api/overview", self.overview),
            ("GET", "/studio/api/clients/{id}/conversations", self.conversations),
            ("GET", "/studio/api/conversations/{id}", self.conversation),
            ("GET", "/studio/api/bots/{id}/graph.svg", self.graph),
            ("POST", "/studio/api/try", self.try_turn),
        ]
        return [web.route(method, path, _admin(handler)) for method, path, handler in table]

    # ------------------------------------------------------------ overview

    async def overview(self, request: web.Request) -> web.Response:
        clients = await self.services.store.list_clients(500)
        bots = [self._bot(bot_id) for bot_id in self.catalog.ids()]
        return json_response(
            {
                "clients": [{"id": c.id, "name": c.name, "bot": c.bot_id} for c in clients],
                "bots": bots,
                "reload": self.reloader is not None,
                "webchatRefused": self._refused(),
            }
        )

    def _bot(self, bot_id: str) -> dict[str, Any]:
        bot = self.catalog.get(bot_id)
        assert bot is not None
        last = self._last_reload(bot.file)
        coverage = self._coverage().get(bot_id)
        return {
            "id": bot.id,
            "name": bot.spec.bot.name if bot.spec.bot else bot.id,
            "version": bot.version,
            "file": bot.file,
            "flows": len(bot.flows),
            "flowIds": flows_with_steps(bot),
            "firstFlow": default_flow(bot),
            "steps": len(bot.steps),
            "coverage": None
            if coverage is None
            else {k: coverage.get(k) for k in ("stepRatio", "branchRatio")},
            "lastReload": None if last is None else _reload_json(last),
        }

    def _last_reload(self, file: str) -> ReloadResult | None:
        if self.reloader is None:
            return None
        for result in reversed(self.reloader.results):
            if result.file == file or Path(result.file).name == Path(file).name:
                return result
        return None

    def _coverage(self) -> dict[str, dict[str, Any]]:
        path = self.catalog.root / COVERAGE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        bots = data.get("bots") if isinstance(data, dict) else None
        if not isinstance(bots, dict):
            return {}
        return {k: {**v, "ranAt": data.get("ranAt")} for k, v in bots.items() if isinstance(v, dict)}

    # ------------------------------------------------------------ conversations

    async def conversations(self, request: web.Request) -> web.Response:
        client_id = request.match_info["id"]
        if await self.services.clients.get(client_id) is None:
            return text_response("Not Found", 404)
        found = await self.services.store.recent_conversations(client_id, LISTED)
        rows = []
        for conversation, last in found:
            rows.append(
                {
                    **conversation.to_api(),
                    "lastMessageOn": iso(last) if last else None,
                    "channel": await self.services.endpoints.channel_name(conversation.id),
                }
            )
        return json_response(rows)

    async def conversation(self, request: web.Request) -> web.Response:
        conversation = await self.services.conversations.find(request.match_info["id"])
        if conversation is None:
            return text_response("Not Found", 404)
        client_id = conversation.client_id
        messages = await self.services.messages.list(client_id, conversation.id, 200, None)
        messages.reverse()
        traces = await self.services.conversations.traces(client_id, conversation.id)
        return json_response(
            {
                "conversation": conversation.to_api(),
                "messages": [m.to_api() for m in messages],
                "turns": [trace_sections(t) for t in traces],
            }
        )

    # ------------------------------------------------------------ flows

    async def graph(self, request: web.Request) -> web.Response:
        bot = self.catalog.get(request.match_info["id"])
        if bot is None:
            return text_response("Not Found", 404)
        coverage = self._coverage().get(bot.id)
        covered = None
        if coverage is not None:
            covered = {(f, s) for f, s in coverage.get("steps") or [] if isinstance(f, str)}
        flow = request.query.get("flow") or default_flow(bot)
        if flow is None:
            return text_response(f"bot {bot.id} has no steps to draw", 404)
        try:
            svg, how = await asyncio.to_thread(flow_svg, bot, flow, covered)  # Graphviz runs as a process
        except KeyError:
            flows = ", ".join(flows_with_steps(bot))
            return text_response(f'"flow": no flow {flow!r} in bot {bot.id} (flows: {flows})', 400)
        headers = {"Cache-Control": "no-store", "X-Flow": flow, "X-Drawn-By": how}
        if coverage is not None:
            headers["X-Coverage-Ran-At"] = str(coverage.get("ranAt"))
            if coverage.get("version") != bot.version:
                headers["X-Coverage-Stale"] = "the bot changed since the last orchestrator test run"
        return web.Response(text=svg, content_type="image/svg+xml", headers=headers)

    # ------------------------------------------------------------ try it

    async def try_turn(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return text_response('"body" must be valid JSON', 400)
        if not isinstance(body, dict):
            return text_response('"body" must be of type object', 400)
        bot_id, session, event = body.get("bot"), body.get("session"), body.get("event")
        if not isinstance(bot_id, str):
            return text_response('"body.bot" is required', 400)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return text_response('"body.event" must be a payload object with a "type"', 400)
        try:
            now = _when(body.get("now"), bot_id, self.catalog)
            result = await self.sandbox.turn(
                bot_id, session if isinstance(session, str) else None, event, now
            )
        except TryError as exc:
            return text_response(str(exc), 400)
        return json_response(result)


def _when(value: Any, bot_id: str, catalog: BotCatalog) -> datetime | None:
    """The clock override: an ISO date-time, read in the bot's time zone when it has none."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TryError('"body.now" must be an ISO date-time string')
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TryError('"body.now" must be an ISO date-time, e.g. 2025-03-03T20:30') from exc
    bot = catalog.get(bot_id)
    if when.tzinfo is None and bot is not None:
        when = when.replace(tzinfo=bot.timezone)
    return when


def _reload_json(result: ReloadResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "version": result.version,
        "previousVersion": result.previous_version,
        "message": result.message,
        "errors": [str(d) for d in result.errors],
    }


def _admin(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not admin_ok(request):
            return text_response("Unauthorized", 401)
        try:
            return await handler(request)
        except NotFound:
            return text_response("Not Found", 404)

    return guarded
