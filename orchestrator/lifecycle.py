"""Running parts as async context managers, and those as aiohttp cleanup contexts.

`app.create_app` registers one cleanup context per running part, in start order; aiohttp enters
them in that order at start-up and leaves them in reverse at shutdown, so nothing stops before
what depends on it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiohttp import web

Action = Callable[[], Any] | None  # a plain or async callable; None: nothing to do
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


async def _run(action: Action) -> None:
    if action is not None:
        result = action()
        if inspect.isawaitable(result):
            await result


@contextlib.asynccontextmanager
async def started(start: Action, stop: Action) -> AsyncIterator[None]:
    """Run `start`, then the body, then `stop` (also when the body fails)."""
    await _run(start)
    try:
        yield
    finally:
        await _run(stop)


def cleanup_context(part: Callable[[web.Application], AbstractAsyncContextManager[Any]]) -> CleanupContext:
    """An aiohttp cleanup context that runs the app inside `part(app)`."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with part(app):
            yield

    return context
