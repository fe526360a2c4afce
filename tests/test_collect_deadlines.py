"""The collects' deadlines: one loop timer per due millisecond, never early, gone with the last."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from orchestrator.bus import MemoryBus
from orchestrator.services.collect import Collector, CollectService, Deadlines


class Timer:
    def __init__(self, when: float, callback: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        self.callback(*self.args)


class Loop:
    """The two things Deadlines asks of the event loop, with time standing still."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Timer:
        self.timers.append(Timer(when, callback, args))
        return self.timers[-1]


def collectors(count: int) -> list[Collector]:
    service = CollectService(MemoryBus(), cast(Any, None))
    loop = asyncio.get_running_loop()
    return [Collector(service, "client", "conversation", f"m{i}", loop) for i in range(count)]


async def test_collects_due_in_the_same_millisecond_share_one_timer_that_ends_them_all() -> None:
    first, second, third, other = collectors(4)
    loop, deadlines = Loop(100.0004), Deadlines()
    for collector in (first, second, third):
        deadlines.add(collector, cast(Any, loop), 200)
    loop.now += 0.0003  # the same millisecond, rounded up
    deadlines.add(other, cast(Any, loop), 200)
    assert len(loop.timers) == 1
    assert loop.timers[0].when >= 100.2007  # never before the asked deadline

    loop.timers[0].fire()
    assert [c.done() for c in (first, second, third, other)] == [True] * 4
    assert first.result() == []


async def test_a_deadline_timer_is_cancelled_with_the_last_collect_due_then() -> None:
    first, second, alone = collectors(3)
    loop, deadlines = Loop(5.0), Deadlines()
    deadlines.add(first, cast(Any, loop), 1000)
    deadlines.add(second, cast(Any, loop), 1000)
    deadlines.add(alone, cast(Any, loop), 2000)
    shared, single = loop.timers

    deadlines.remove(first)
    deadlines.remove(first)  # idempotent
    assert not shared.cancelled
    deadlines.remove(second)
    assert shared.cancelled
    deadlines.remove(alone)
    assert single.cancelled
    assert not any(c.done() for c in (first, second, alone))
