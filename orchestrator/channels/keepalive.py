"""Repeating an inbound message's keep-alive acks while the bot's turn for it runs.

Some platforms show a typing indicator for a few seconds only (Telegram: 5 s), so a long turn
needs it sent again. `Keepalive.watch(message_id, every, send)` calls `send()` every `every`
seconds until the turn for that message ends (`turn.<id>` on the bus), the bot answers it
(`collect.<id>`: an external bot that never ends its turn), or `longest` seconds have passed.
`send` only queues the calls (in the conversation's send order): the job asks `active(id)`
before calling the platform, so no typing follows the bot's last answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..bus import Bus, Subscription
from ..bus.topics import collect_topic, turn_topic

LONGEST = 60.0  # seconds a turn may show typing


class Keepalive:
    """The watches of the running turns (see the module docstring)."""

    def __init__(self, bus: Bus, longest: float = LONGEST) -> None:
        self._bus = bus
        self._longest = longest
        self._watches: dict[str, tuple[list[Subscription], list[asyncio.TimerHandle]]] = {}

    def active(self, message_id: str) -> bool:
        """Whether the turn for `message_id` is still watched."""
        return message_id in self._watches

    @property
    def watching(self) -> int:
        """How many turns are watched (for leak checks)."""
        return len(self._watches)

    def watch(self, message_id: str, every: float, send: Callable[[], None]) -> None:
        """Call `send()` every `every` seconds while the turn for `message_id` runs."""
        if message_id in self._watches:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._longest

        def stop(_: Any = None) -> None:
            entry = self._watches.pop(message_id, None)
            if entry is not None:
                for subscription in entry[0]:
                    subscription.cancel()
                for timer in entry[1]:
                    timer.cancel()

        def tick() -> None:
            if message_id not in self._watches:
                return
            if loop.time() >= deadline:
                stop()
                return
            send()
            self._watches[message_id][1][:] = [loop.call_later(every, tick)]

        subscriptions = [
            self._bus.subscribe(turn_topic(message_id), stop),
            self._bus.subscribe(collect_topic(message_id), stop),
        ]
        self._watches[message_id] = (subscriptions, [loop.call_later(every, tick)])

    def close(self) -> None:
        """Stop every watch (at shutdown)."""
        for message_id in list(self._watches):
            subscriptions, timers = self._watches.pop(message_id)
            for subscription in subscriptions:
                subscription.cancel()
            for timer in timers:
                timer.cancel()
