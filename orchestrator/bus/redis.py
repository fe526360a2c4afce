"""The bus across instances: local handlers at once, other instances through one Redis channel.

Every instance subscribes once, at start, to `<prefix>bus`. A publish runs the local handlers
first (as the in-memory bus does), then, for the topics other instances need, sends one Redis
message carrying the topic, the event (as JSON) and the sender's id; each other instance hands
it to its own local handlers. One channel rather than one per topic: a collect then costs no
Redis round trip to subscribe (it subscribes locally before its message is stored, and the
reply may come from any instance), at the price of every instance seeing every crossing event.

Topics that cross (see `CODECS`): `collect.<id>` and `turn.<id>` (a collect held on one
instance, answered by a turn or an external bot's reply on another), `client.synced` (cache
invalidation) and `outbox` (wakes every delivery worker; claims decide who delivers).
`message.created` and `conversation.handoff` cross as `remote:message.created` and
`remote:conversation.handoff` (see `ARRIVE_AS`): the instance that stored a message runs its bot
turn and sends it to channels, exactly once, while the web chat's sockets on every instance show
it. `webhook.failed` and `handoff.requested` stay where they happened.

When Redis is unreachable, publishes still reach local handlers and the crossing copy is
dropped (logged once per outage); the listener reconnects with backoff and resubscribes. A
collect whose reply was lost that way ends at its own timeout, like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from .. import jsonutil
from ..store.records import Conversation, Message, StoredEndpoint, iso, parse_iso
from . import REMOTE, Bus, Handler, MemoryBus, Subscription, Watcher
from .topics import (
    CLIENT_SYNCED,
    CONVERSATION_HANDOFF,
    MESSAGE_CREATED,
    OUTBOX,
    ClientSynced,
    HandoffChanged,
    MessageCreated,
    OutboxWritten,
    TurnEnded,
    collect_topic,
    turn_topic,
)

log = logging.getLogger(__name__)

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to JSON-able, from JSON-able)


def _message_out(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author_id": message.author_id,
        "sent_on": iso(message.sent_on),
        "payload": message.payload,
        "incoming_id": message.incoming_id,
    }


def _message_in(data: dict[str, Any]) -> Message:
    return Message(
        data["id"],
        data["conversation_id"],
        data["author_id"],
        parse_iso(data["sent_on"]),
        data["payload"],
        data["incoming_id"],
    )


def _created_out(event: MessageCreated) -> dict[str, Any]:
    conversation, source = event.conversation, event.source
    return {
        "client_id": event.client_id,
        "conversation": [
            conversation.id,
            conversation.client_id,
            conversation.user_id,
            iso(conversation.created_on),
        ],
        "message": _message_out(event.message),
        "source": None
        if source is None
        else [source.channel, source.identity, source.sender, source.thread, source.channel_version],
        "collect": event.collect,
        "bot_absent": event.bot_absent,
    }


def _created_in(data: dict[str, Any]) -> MessageCreated:
    conversation = data["conversation"]
    source = data["source"]
    return MessageCreated(
        data["client_id"],
        Conversation(conversation[0], conversation[1], conversation[2], parse_iso(conversation[3])),
        _message_in(data["message"]),
        None if source is None else StoredEndpoint(*source),
        data["collect"],
        data["bot_absent"],
    )


def _handoff_out(event: HandoffChanged) -> dict[str, Any]:
    return {"client_id": event.client_id, "conversation_id": event.conversation_id, "state": event.state}


def _handoff_in(data: dict[str, Any]) -> HandoffChanged:
    return HandoffChanged(data["client_id"], data["conversation_id"], data["state"])


# Topic (or topic prefix ending in ".") -> how its events cross; topics not here stay local.
CODECS: dict[str, Codec] = {
    collect_topic(""): (_message_out, _message_in),
    turn_topic(""): (lambda e: e.incoming_id, TurnEnded),
    CLIENT_SYNCED: (lambda e: e.client_id, ClientSynced),
    OUTBOX: (lambda _: None, lambda _: OutboxWritten()),
    MESSAGE_CREATED: (_created_out, _created_in),
    CONVERSATION_HANDOFF: (_handoff_out, _handoff_in),
}
# Topics whose copies from other instances arrive under another name: their own handlers must
# run once in the cluster (the bot turn, the channel send), while a few (the web chat's
# sockets) want every instance's events too and subscribe to the `remote:` name as well.
ARRIVE_AS = {
    MESSAGE_CREATED: REMOTE + MESSAGE_CREATED,
    CONVERSATION_HANDOFF: REMOTE + CONVERSATION_HANDOFF,
}


def codec_of(topic: str) -> Codec | None:
    """How a topic's events cross instances, or None when the topic stays local."""
    found = CODECS.get(topic)
    if found is None and "." in topic:
        found = CODECS.get(topic.split(".", 1)[0] + ".")
    return found


def split_url(url: str) -> tuple[str, str]:
    """(the Redis URL, the channel prefix from `?prefix=`, default `orchestrator:`)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), "orchestrator:")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), prefix


class RedisBus(Bus):
    """Publish/subscribe across instances through Redis (`bus.url: redis://host:6379/0`)."""

    def __init__(self, url: str, *, reconnect_max: float = 2.0) -> None:
        self._url, prefix = split_url(url)
        self.channel = f"{prefix}bus"
        self.instance = secrets.token_hex(8)
        self._local = MemoryBus()
        self._redis: redis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._reconnect_max = reconnect_max
        self._down = False
        self.received = 0  # events that came from other instances

    async def open(self) -> None:
        """Connect and subscribe; returns once this instance hears the others (or after a
        few seconds without Redis: the listener keeps trying)."""
        self._redis = redis.Redis.from_url(
            self._url, socket_connect_timeout=2, socket_timeout=None, health_check_interval=5
        )
        self._listener = asyncio.create_task(self._listen(), name="redis-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)
        if not self._ready.is_set():
            log.warning("bus: Redis at %s not reachable yet; events stay on this instance", self._url)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()
        self._listener = self._redis = None

    async def publish(self, topic: str, event: Any) -> None:
        await self._local.publish(topic, event)
        codec = codec_of(topic)
        if codec is None or self._redis is None:
            return
        body = jsonutil.dumps({"from": self.instance, "topic": topic, "event": codec[0](event)})
        try:
            await self._redis.publish(self.channel, body)
        except (RedisError, OSError) as exc:
            if not self._down:
                log.warning("bus: Redis unreachable (%s); events stay on this instance", exc)
            self._down = True

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        return self._local.subscribe(topic, handler)

    def _remove(self, topic: str, handler: Handler) -> None:
        self._local._remove(topic, handler)

    def watch(self, message_id: str, watcher: Watcher) -> None:
        self._local.watch(message_id, watcher)

    def unwatch(self, message_id: str) -> None:
        self._local.unwatch(message_id)

    def subscriber_count(self) -> int:
        """How many handlers are registered on this instance (for leak checks)."""
        return self._local.subscriber_count()

    async def _listen(self) -> None:
        delay = 0.05
        while True:
            assert self._redis is not None
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if self._down:
                    log.warning("bus: Redis reachable again")
                self._down, delay = False, 0.05
                self._ready.set()
                async for raw in pubsub.listen():
                    self._deliver(raw)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except (RedisError, OSError) as exc:
                if not self._down:
                    log.warning("bus: lost Redis (%s); reconnecting", exc)
                self._down = True
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    def _deliver(self, raw: dict[str, Any]) -> None:
        if raw.get("type") != "message":
            return
        try:
            body = jsonutil.loads(raw["data"])
            if body["from"] == self.instance:
                return  # local handlers ran when it was published
            topic = body["topic"]
            codec = codec_of(topic)
            if codec is None:
                return
            event = codec[1](body["event"])
        except Exception:
            log.exception("bus: undecodable event on %s", self.channel)
            return
        self.received += 1
        self._local.deliver(ARRIVE_AS.get(topic, topic), event)
