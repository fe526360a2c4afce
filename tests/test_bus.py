"""The in-process bus: one or several handlers per topic, removed one at a time."""

from orchestrator.bus import MemoryBus


async def test_handlers_are_called_until_cancelled_one_or_several_per_topic():
    bus = MemoryBus()
    got: list[tuple[str, int]] = []
    first = bus.subscribe("t", lambda e: got.append(("first", e)))
    second = bus.subscribe("t", lambda e: got.append(("second", e)))
    await bus.publish("t", 1)
    first.cancel()
    await bus.publish("t", 2)
    assert bus.subscriber_count() == 1
    third = bus.subscribe("t", lambda e: got.append(("third", e)))
    await bus.publish("t", 3)
    second.cancel()
    second.cancel()  # idempotent
    third.cancel()
    await bus.publish("t", 4)
    await bus.publish("nobody", 5)
    assert got == [("first", 1), ("second", 1), ("second", 2), ("second", 3), ("third", 3)]
    assert bus.subscriber_count() == 0
