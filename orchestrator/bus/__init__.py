"""Events between the parts of the service: an in-process bus, and the interface a Redis bus fills.

The topics and the payload type of each are in `bus/topics.py` (named constants: publish and
subscribe with those, so grep finds both ends).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from .topics import COLLECT, TURN

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]

# Prefix of a topic's copies from other instances where those must not run the topic's own
# handlers again (see bus/redis.py): `remote:message.created`, `remote:conversation.handoff`.
REMOTE = "remote:"


class Subscription:
    """A handle that removes one handler from one topic."""

    __slots__ = ("_bus", "_handler", "_topic")

    def __init__(self, bus: Bus, topic: str, handler: Handler) -> None:
        self._bus, self._topic, self._handler = bus, topic, handler

    def cancel(self) -> None:
        """Stop receiving events (idempotent)."""
        self._bus._remove(self._topic, self._handler)


class Watcher(Protocol):
    """What `watch` delivers one message's events to: the bot's replies to it (`collect.<id>`)
    and the end of its turn (`turn.<id>`)."""

    def reply(self, message: Any) -> None: ...

    def turn_ended(self, event: Any) -> None: ...


class Bus(ABC):
    """Publish/subscribe by topic. Handlers are plain callables run on the event loop; a
    handler that needs to do I/O schedules a task."""

    @abstractmethod
    async def publish(self, topic: str, event: Any) -> None:
        """Deliver an event to every subscriber of the topic (on every instance)."""

    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Call `handler(event)` for each event published on `topic`."""

    @abstractmethod
    def _remove(self, topic: str, handler: Handler) -> None: ...

    @abstractmethod
    def watch(self, message_id: str, watcher: Watcher) -> None:
        """Hand `collect.<message_id>` and `turn.<message_id>` events to `watcher` (one watcher
        per message) until `unwatch`: a parked collect's whole bus footprint is one table entry."""

    @abstractmethod
    def unwatch(self, message_id: str) -> None:
        """Stop watching a message (idempotent)."""

    async def open(self) -> None:
        """Connect (nothing to do in memory); called once before the service takes requests."""

    async def close(self) -> None:
        """Release connections (nothing to do in memory)."""


class MemoryBus(Bus):
    """The in-process bus: a dict of topic -> its handler, or a list of them when several,
    and a dict of watched message id -> its watcher (a parked collect).

    Most topics have one subscriber, so the table holds that handler directly rather than a
    list per topic."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler | list[Handler]] = {}
        self._watchers: dict[str, Watcher] = {}

    async def publish(self, topic: str, event: Any) -> None:
        self.deliver(topic, event)

    def deliver(self, topic: str, event: Any) -> None:
        """Run the topic's handlers, then its message's watcher, now (publish without a
        suspension point)."""
        found = self._handlers.get(topic)
        if found is not None:
            for handler in tuple(found) if isinstance(found, list) else (found,):
                try:
                    handler(event)
                except Exception:
                    log.exception("bus handler for %s failed", topic)
        if self._watchers:
            self._tell_watcher(topic, event)

    def _tell_watcher(self, topic: str, event: Any) -> None:
        try:
            if topic.startswith(COLLECT):
                watcher = self._watchers.get(topic[len(COLLECT) :])
                if watcher is not None:
                    watcher.reply(event)
            elif topic.startswith(TURN):
                watcher = self._watchers.get(topic[len(TURN) :])
                if watcher is not None:
                    watcher.turn_ended(event)
        except Exception:
            log.exception("bus watcher for %s failed", topic)

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        found = self._handlers.get(topic)
        if found is None:
            self._handlers[topic] = handler
        elif isinstance(found, list):
            found.append(handler)
        else:
            self._handlers[topic] = [found, handler]
        return Subscription(self, topic, handler)

    def _remove(self, topic: str, handler: Handler) -> None:
        found = self._handlers.get(topic)
        if found is None:
            return
        if type(found) is not list:
            if found == handler:
                del self._handlers[topic]
            return
        if handler in found:
            found.remove(handler)
            if len(found) == 1:
                self._handlers[topic] = found[0]

    def watch(self, message_id: str, watcher: Watcher) -> None:
        self._watchers[message_id] = watcher

    def unwatch(self, message_id: str) -> None:
        self._watchers.pop(message_id, None)

    def subscriber_count(self) -> int:
        """How many handlers and watchers are registered (for leak checks)."""
        handlers = sum(len(h) if type(h) is list else 1 for h in self._handlers.values())
        return handlers + len(self._watchers)


def open_bus(url: str) -> Bus:
    """The bus for a `bus.url`."""
    if url.startswith("memory://"):
        return MemoryBus()
    if url.startswith("redis://"):
        from .redis import RedisBus

        return RedisBus(url)
    raise ValueError(f"bus.url: no bus for {url.split(':', 1)[0]}:// in this version")
