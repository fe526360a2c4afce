"""Webhook receivers that hang, reset connections or answer slowly.

Per-attempt timeouts hold, one client's stuck receiver does not delay another client's
deliveries (no head-of-line blocking), and the outbox keeps at most `webhooks.max_pending` rows
per webhook, with a `webhook-overflow` health event when it drops some.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from orchestrator.app import create_app
from tests.conftest import make_settings, new_client
from tests.receiver import Receiver


class Stuck:
    """A receiver that hangs (never answers) or resets every connection."""

    def __init__(self, mode: str) -> None:
        self.mode, self.hits = mode, 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Stuck:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        await self._release.wait()
        return web.Response(text="late")

    async def stop(self) -> None:
        self._release.set()
        if self._runner:
            await self._runner.cleanup()


async def _events_for(client: Any, conversations: int) -> None:
    for _ in range(conversations):
        await client.conversation()


async def test_a_hanging_receiver_does_not_delay_other_clients(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, webhooks={"timeout": 6, "max_attempts": 2})
    api = await aiohttp_client(create_app(settings))
    stuck, good = await Stuck("hang").start(), await Receiver().start()
    slow_client, other = await new_client(api), await new_client(api)
    await slow_client.post("/sync", {"webhooks": [{"url": stuck.url}]}, status=200)
    await other.post("/sync", {"webhooks": [{"url": good.url}]}, status=200)
    await _events_for(slow_client, 30)  # 60 events on 30 ordering keys, all hanging
    for _ in range(50):
        if stuck.hits:
            break
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await other.user()
    await good.next(3.0, type_="user.new")  # well within the 6 s the stuck receiver holds
    delay = time.monotonic() - started
    assert stuck.hits <= 10, "one webhook took more than its share of delivery slots"
    print(f"hanging receiver: other client's delivery in {delay:.3f} s")
    await stuck.stop()
    await good.stop()


async def test_a_resetting_receiver_is_retried_then_given_up(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, webhooks={"timeout": 1, "max_attempts": 3})
    api = await aiohttp_client(create_app(settings))
    reset, good = await Stuck("reset").start(), await Receiver().start()
    flaky, other = await new_client(api), await new_client(api)
    await flaky.post("/sync", {"webhooks": [{"url": reset.url}]}, status=200)
    await other.post("/sync", {"webhooks": [{"url": good.url}]}, status=200)
    await flaky.user()
    await other.user()
    await good.next(3.0, type_="user.new")
    for _ in range(100):
        counts = await api.get(f"/api/v1/admin/clients/{flaky.id}/webhooks")
        if counts.status == 200 and (await counts.json()).get("failed") == 1:
            break
        await asyncio.sleep(0.1)
    assert reset.hits == 3
    await reset.stop()
    await good.stop()


async def test_the_outbox_is_capped_with_a_health_event(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        webhooks={"timeout": 5, "max_pending": 5, "trim_interval": 0.2, "retry_base": 30, "retry_max": 60},
    )
    api = await aiohttp_client(create_app(settings))
    down = await Stuck("reset").start()
    client = await new_client(api)
    await client.post("/sync", {"webhooks": [{"url": down.url}]}, status=200)
    for _ in range(20):
        await client.user()
    events: list[Any] = []
    for _ in range(100):
        health = await client.get("/health")
        events = health["channels"].get("webhooks", {}).get("events", [])
        if events:
            break
        await asyncio.sleep(0.1)
    assert events and events[0]["type"] == "webhook-overflow"
    assert events[0]["data"]["cap"] == 5
    pending = 0
    for _ in range(50):
        resp = await api.get(f"/api/v1/admin/clients/{client.id}/webhooks")
        pending = (await resp.json())["pending"]
        if pending <= 5 + 1:  # the cap, plus the overflow's own health.new
            break
        await asyncio.sleep(0.1)
    assert pending <= 6
    await down.stop()
