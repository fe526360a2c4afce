"""`messages/collect`: create a user message and wait for the bot's replies to it.

The collector watches the message's replies and end of turn *before* the message is stored,
so no reply can slip past it; it is keyed by the new message's id, so it can only ever gather
replies to that message.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from ..bus import Bus
from ..config import CollectSettings
from ..ids import new_id
from ..store.records import Message
from .errors import TooMany
from .messages import MessageService

DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 50_000


class Collector(asyncio.Future[list[Message]]):
    """A parked collect: the future its request awaits, resolved with the replies gathered.

    It is the bus watcher of its message and sits in the service's `Deadlines`, so a parked
    collect holds no coroutine of its own, no closure and no timer or timeout object. Every way
    it ends frees its place: `end` (end of turn, deadline, shutdown) and `cancel` (the client
    went away: its request's task cancels the future it awaits)."""

    __slots__ = ("_service", "client_id", "conversation_id", "due", "message_id", "responses")

    def __init__(
        self,
        service: CollectService,
        client_id: str,
        conversation_id: str,
        message_id: str,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(loop=loop)
        self._service = service
        self.client_id, self.conversation_id, self.message_id = client_id, conversation_id, message_id
        self.responses: list[Message] | None = None  # a list only once a reply came
        self.due: int | None = None  # its millisecond in Deadlines, once armed

    def reply(self, message: Message) -> None:
        """A bot reply to the message (bus watcher)."""
        if self.done():
            return
        if self.responses is None:
            self.responses = [message]
        else:
            self.responses.append(message)

    def turn_ended(self, _: Any = None) -> None:
        """The bot's turn for the message ended (bus watcher)."""
        self.end()

    def end(self) -> None:
        """Answer with the replies gathered so far (idempotent)."""
        if not self.done():
            self.set_result(self.responses or [])
            self._service.free(self)

    def cancel(self, msg: Any = None) -> bool:
        cancelled = super().cancel(msg)
        if cancelled:
            self._service.free(self)
        return cancelled


class Deadlines:
    """Collectors by the loop millisecond they are due at, with one `loop.call_at` per such
    millisecond: collects due together (a burst, or a client's fixed timeout) share a timer.
    A millisecond is rounded up, so none ends early (uvloop's timers count whole ms anyway)."""

    def __init__(self) -> None:
        self._due: dict[int, Collector | set[Collector]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}

    def add(self, collector: Collector, loop: asyncio.AbstractEventLoop, wait_ms: float) -> None:
        """End `collector` once `wait_ms` have passed."""
        due = collector.due = math.ceil(loop.time() * 1000 + wait_ms)
        found = self._due.get(due)
        if found is None:
            self._due[due] = collector
            self._timers[due] = loop.call_at(due / 1000, self._fire, due)
        elif isinstance(found, set):
            found.add(collector)
        else:
            self._due[due] = {found, collector}

    def remove(self, collector: Collector) -> None:
        """Forget an ended collector (idempotent); its millisecond's timer goes with the last."""
        due = collector.due
        if due is None:
            return
        found = self._due.get(due)
        if isinstance(found, set):
            found.discard(collector)
            if found:
                return
        elif found is not collector:
            return
        del self._due[due]
        self._timers.pop(due).cancel()

    def _fire(self, due: int) -> None:
        del self._timers[due]
        found = self._due.pop(due)
        for collector in found if isinstance(found, set) else (found,):
            collector.end()


class CollectService:
    """Holds open collects; each costs one small object, one bus watch and a place in the
    deadlines."""

    def __init__(self, bus: Bus, messages: MessageService, limits: CollectSettings | None = None) -> None:
        self._bus, self._messages = bus, messages
        self._limits = limits or CollectSettings()
        self._per_client: dict[str, int] = {}
        self._per_conversation: dict[str, int] = {}
        self._open: set[Collector] = set()
        self._deadlines = Deadlines()
        self.open_count = 0
        self.watchers: list[Callable[[int], None]] = []  # told the open count on each change

    def _count(self, delta: int) -> None:
        self.open_count += delta
        for watcher in self.watchers:
            watcher(self.open_count)

    async def open(
        self,
        client_id: str,
        conversation_id: str,
        author_id: str,
        payload: dict[str, Any],
        timeout_ms: int | None,
    ) -> tuple[Message, Collector]:
        """Store the user message and collect the bot's replies to it: (the message, the
        collector, which gives the replies when the turn ends or time runs out)."""
        self._admit(client_id, conversation_id)
        message_id = new_id()
        loop = asyncio.get_running_loop()
        collector = Collector(self, client_id, conversation_id, message_id, loop)
        self._bus.watch(message_id, collector)
        self._open.add(collector)
        self._count(+1)
        try:
            message = await self._messages.create(
                client_id,
                conversation_id,
                payload,
                author_id=author_id,
                message_id=message_id,
                collect=True,
            )
        except BaseException:
            collector.cancel()
            raise
        if not collector.done():  # the turn may be over already
            wait_ms = DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms
            wait_ms = min(wait_ms or MAX_TIMEOUT_MS, MAX_TIMEOUT_MS)
            self._deadlines.add(collector, loop, wait_ms)
        return message, collector

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

    def free(self, collector: Collector) -> None:
        """Free an ended collect's place (called once, by the collector)."""
        self._bus.unwatch(collector.message_id)
        self._open.discard(collector)
        self._deadlines.remove(collector)
        _uncount(self._per_client, collector.client_id)
        _uncount(self._per_conversation, collector.conversation_id)
        self._count(-1)

    def release_all(self) -> int:
        """Answer every open collect now with what it gathered (at shutdown); how many."""
        collectors, self._open = self._open, set()
        for collector in collectors:
            collector.end()
        return len(collectors)


def _uncount(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
