"""Health events of a client's channels (`GET /health`) and its webhook delivery counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..bus import Bus
from ..bus.topics import OUTBOX, OutboxWritten
from ..store import Store
from ..store.records import HealthEvent, utcnow
from . import events

EVENTS_PER_CHANNEL = 20


class HealthService:
    """Records channel health events (firing `health.new`) and reports them."""

    def __init__(self, store: Store, bus: Bus) -> None:
        self._store, self._bus = store, bus
        self.on_send_failure: Callable[[str], None] | None = None  # told the channel (metrics)

    async def record(
        self, client_id: str, channel: str, type_: str, data: dict[str, Any] | None = None
    ) -> None:
        """A channel event: create, configure, delete, send-failure, verify-failure…"""
        if type_ == "send-failure" and self.on_send_failure is not None:
            self.on_send_failure(channel)
        event = HealthEvent(channel, type_, utcnow(), data)
        outbox = [events.health_new(client_id, channel, event.to_api())]
        await self._store.add_health_event(client_id, event, outbox)
        await self._bus.publish(OUTBOX, OutboxWritten())

    async def report(self, client_id: str) -> dict[str, Any]:
        """`{channels: {name: {events: [...]}}}`, newest first: exactly Botpress's shape."""
        configured = {c.channel for c in await self._store.list_channel_configs(client_id)}
        by_channel = await self._store.list_health(client_id, EVENTS_PER_CHANNEL)
        names = sorted(configured | set(by_channel))
        channels = {name: {"events": [e.to_api() for e in by_channel.get(name, [])]} for name in names}
        return {"channels": channels}

    async def webhook_counts(self, client_id: str) -> dict[str, int]:
        """`{pending, failed}`: events waiting for delivery, and those given up."""
        return await self._store.delivery_counts(client_id)
