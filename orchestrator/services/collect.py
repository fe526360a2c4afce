"""`messages/collect`: create a user message and wait for the bot's replies to it.

The collector subscribes to the replies and to the end of turn *before* the message is
stored, so no reply can slip past it; it is keyed by the new message's id, so it can only
ever gather replies to that message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..bus import Bus
from ..bus.topics import collect_topic, turn_topic
from ..config import CollectSettings
from ..ids import new_id
from ..store.records import Message
from .errors import TooMany
from .messages import MessageService

DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 50_000


class _Collector:
    """What a parked collect holds: its replies so far and the future its request awaits.
    The bus calls its bound methods directly (no closure per subscription); its deadline is a
    plain `loop.call_at` handle calling `end` (no timeout object, no cancellation to unwind)."""

    __slots__ = ("done", "responses")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.responses: list[Message] = []
        self.done: asyncio.Future[None] = loop.create_future()

    def add(self, message: Message) -> None:
        if not self.done.done():
            self.responses.append(message)

    def end(self, _: Any = None) -> None:
        if not self.done.done():
            self.done.set_result(None)


class CollectService:
    """Holds open collects; each costs one small object and two bus subscriptions."""

    def __init__(self, bus: Bus, messages: MessageService, limits: CollectSettings | None = None) -> None:
        self._bus, self._messages = bus, messages
        self._limits = limits or CollectSettings()
        self._per_client: dict[str, int] = {}
        self._per_conversation: dict[str, int] = {}
        self._open: set[_Collector] = set()
        self.open_count = 0
        self.watchers: list[Callable[[int], None]] = []  # told the open count on each change

    def _count(self, delta: int) -> None:
        self.open_count += delta
        for watcher in self.watchers:
            watcher(self.open_count)

    async def collect(
        self,
        client_id: str,
        conversation_id: str,
        author_id: str,
        payload: dict[str, Any],
        timeout_ms: int | None,
    ) -> tuple[Message, list[Message]]:
        """(the user message, the bot's replies to it) when the turn ends or time runs out."""
        self._admit(client_id, conversation_id)
        try:
            return await self._collect(client_id, conversation_id, author_id, payload, timeout_ms)
        finally:
            _release(self._per_client, client_id)
            _release(self._per_conversation, conversation_id)

    def _admit(self, client_id: str, conversation_id: str) -> None:
        """Count one more open collect, or TooMany when a fair-share cap is reached."""
        limits = self._limits
        if self._per_client.get(client_id, 0) >= limits.max_per_client:
            raise TooMany(
                f"Too Many Requests: at most {limits.max_per_client} open collects per client"
                " (collect.max_per_client)",
                limits.retry_after,
            )
        if self._per_conversation.get(conversation_id, 0) >= limits.max_per_conversation:
            raise TooMany(
                f"Too Many Requests: at most {limits.max_per_conversation} open collects per"
                " conversation (collect.max_per_conversation)",
                limits.retry_after,
            )
        self._per_client[client_id] = self._per_client.get(client_id, 0) + 1
        self._per_conversation[conversation_id] = self._per_conversation.get(conversation_id, 0) + 1

    async def _collect(
        self,
        client_id: str,
        conversation_id: str,
        author_id: str,
        payload: dict[str, Any],
        timeout_ms: int | None,
    ) -> tuple[Message, list[Message]]:
        message_id = new_id()
        loop = asyncio.get_running_loop()
        collector = _Collector(loop)
        replies = self._bus.subscribe(collect_topic(message_id), collector.add)
        turn = self._bus.subscribe(turn_topic(message_id), collector.end)
        self._open.add(collector)
        self._count(+1)
        deadline: asyncio.TimerHandle | None = None
        try:
            message = await self._messages.create(
                client_id,
                conversation_id,
                payload,
                author_id=author_id,
                message_id=message_id,
                collect=True,
            )
            wait_ms = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
            wait_ms = min(wait_ms or MAX_TIMEOUT_MS, MAX_TIMEOUT_MS)
            deadline = loop.call_at(loop.time() + wait_ms / 1000, collector.end)
            await collector.done
            return message, collector.responses
        finally:
            collector.end()
            self._open.discard(collector)
            if deadline is not None:
                deadline.cancel()
            self._count(-1)
            replies.cancel()
            turn.cancel()

    def release_all(self) -> int:
        """Answer every open collect now with what it gathered (at shutdown); how many."""
        collectors, self._open = self._open, set()
        for collector in collectors:
            collector.end()
        return len(collectors)


def _release(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
