"""A webhook receiver for tests: a real aiohttp server on 127.0.0.1 that records what it gets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """Answers 200, or each status in `fail_with` first; every request lands in `received`."""

    url: str = ""
    port: int = 0
    received: list[Received] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)
    attempts: int = 0
    _arrived: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    _runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        item = Received(dict(request.headers), await request.json())
        if self.fail_with:
            status = self.fail_with.pop(0)
            self._arrived.put_nowait(Received(item.headers, {"failed": status, **item.body}))
            return web.Response(status=status)
        self.received.append(item)
        self._arrived.put_nowait(item)
        return web.Response(text="OK")

    async def next(self, timeout: float = 5, *, type_: str | None = None) -> Received:
        """The next request that arrives (of a type, when given), failing after `timeout` s."""
        while True:
            item = await asyncio.wait_for(self._arrived.get(), timeout)
            if type_ is None or item.body.get("type") == type_:
                return item

    async def wait_for(self, count: int, type_: str, timeout: float = 5) -> list[Received]:
        """Wait until `count` successful deliveries of a type have arrived."""

        async def enough() -> None:
            while len(self.of_type(type_)) < count:
                await self.next(timeout)

        await asyncio.wait_for(enough(), timeout)
        return self.of_type(type_)

    def of_type(self, type_: str) -> list[Received]:
        return [r for r in self.received if r.body.get("type") == type_]
