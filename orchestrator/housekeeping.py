"""Periodic clean-up of what would otherwise grow forever (dedupe ids, old channel values)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .services.container import Services
from .store import StorageFault

log = logging.getLogger(__name__)

INTERVAL = 3600.0  # seconds between sweeps


class Housekeeping:
    """A background task that sweeps once at start and then every `interval` seconds."""

    def __init__(self, services: Services, interval: float = INTERVAL) -> None:
        self._services, self._interval = services, interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                removed = await self._services.channel_state.prune()
                if removed:
                    log.info("housekeeping: removed %d old dedupe ids and channel values", removed)
            except StorageFault:
                pass  # logged once per episode by StorageHealth; the next sweep catches up
            except Exception:
                log.exception("housekeeping failed; trying again later")
            await asyncio.sleep(self._interval)
