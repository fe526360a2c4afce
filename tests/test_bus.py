"""The in-process bus: one or several handlers per topic, removed one at a time."""

from orchestrator.bus import MemoryBus
from orchestrator.bus.topics import collect_topic, turn_topic


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


class Watcher:
    def __init__(self) -> None:
        self.got: list[tuple[str, object]] = []

    def reply(self, message: object) -> None:
        self.got.append(("reply", message))

    def turn_ended(self, event: object) -> None:
        self.got.append(("turn", event))


async def test_a_watcher_gets_its_messages_replies_and_turn_end_beside_the_topics_handlers():
    bus = MemoryBus()
    watcher, heard = Watcher(), []
    bus.watch("m1", watcher)
    bus.subscribe(turn_topic("m1"), heard.append)
    assert bus.subscriber_count() == 2
    await bus.publish(collect_topic("m1"), "first")
    await bus.publish(collect_topic("m2"), "someone else's")
    await bus.publish(turn_topic("m1"), "end")
    await bus.publish("message.created", "unrelated")
    bus.unwatch("m1")
    bus.unwatch("m1")  # idempotent
    await bus.publish(collect_topic("m1"), "late")
    assert watcher.got == [("reply", "first"), ("turn", "end")]
    assert heard == ["end"]
    assert bus.subscriber_count() == 1


async def test_a_failing_watcher_is_logged_and_the_publisher_goes_on(caplog):
    class Broken(Watcher):
        def reply(self, message: object) -> None:
            raise RuntimeError("boom")

    bus = MemoryBus()
    bus.watch("m1", Broken())
    await bus.publish(collect_topic("m1"), "x")
    assert "bus watcher for collect.m1 failed" in caplog.text
