"""Plain records that the store reads and writes; services and the API speak in these."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """The current time, timezone-aware, truncated to milliseconds (as stored and shown)."""
    return datetime.fromtimestamp(time.time_ns() // 1_000_000 / 1000, UTC)  # exact to the ms


_ISO_CACHE: dict[datetime, str] = {}  # a message's time is written out 3 times (event, row, API)


def iso(moment: datetime) -> str:
    """ISO 8601 with milliseconds and `Z`, as JavaScript's `toISOString`."""
    text = _ISO_CACHE.get(moment)
    if text is None:
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        whole = utc.isoformat()  # …T10:00:00.123456+00:00, or …T10:00:00+00:00 on the second
        text = (whole[:23] if utc.microsecond else whole[:19] + ".000") + "Z"
        if len(_ISO_CACHE) >= 1024:
            _ISO_CACHE.clear()
        _ISO_CACHE[moment] = text
    return text


def parse_iso(text: str) -> datetime:
    """Inverse of `iso` (also accepts any ISO 8601 string with an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str | None = None
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    client_id: str
    url: str
    token: str
    events: tuple[str, ...] | None = None  # None: every event type

    def wants(self, event_type: str) -> bool:
        """Whether this webhook subscribed to an event type."""
        return self.events is None or event_type in self.events


@dataclass(frozen=True, slots=True)
class StoredChannelConfig:
    client_id: str
    channel: str
    version: str
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class User:
    id: str
    client_id: str
    data: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "clientId": self.client_id}
        if self.data is not None:
            body["data"] = self.data
        return body


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    client_id: str
    user_id: str
    created_on: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clientId": self.client_id,
            "userId": self.user_id,
            "createdOn": iso(self.created_on),
        }


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    author_id: str | None
    sent_on: datetime
    payload: dict[str, Any]
    incoming_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "conversationId": self.conversation_id}
        if self.author_id is not None:
            body["authorId"] = self.author_id
        body["sentOn"] = iso(self.sent_on)
        body["payload"] = self.payload
        return body


@dataclass(frozen=True, slots=True)
class StoredEndpoint:
    """Where a conversation lives on a channel (Botpress: tunnel/identity/sender/thread)."""

    channel: str
    identity: str
    sender: str
    thread: str
    channel_version: str | None = None  # None: a custom channel name

    def to_api(self) -> dict[str, Any]:
        channel: Any = (
            self.channel
            if self.channel_version is None
            else {"name": self.channel, "version": self.channel_version}
        )
        return {
            "channel": channel,
            "identity": self.identity,
            "sender": self.sender,
            "thread": self.thread,
        }


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A webhook event waiting to be written in the same transaction as its cause."""

    client_id: str
    type: str
    data: dict[str, Any]
    ordering_key: str  # events sharing a key reach a webhook in order


@dataclass(slots=True)
class Delivery:
    """One (event, webhook) pair claimed from the outbox."""

    seq: int
    client_id: str
    webhook_id: str
    url: str
    token: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class HealthEvent:
    channel: str
    type: str
    time: datetime
    data: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "time": iso(self.time)}
        if self.data is not None:
            body["data"] = self.data
        return body


@dataclass(slots=True)
class BotState:
    """What a bot remembers of a conversation between turns."""

    conversation_id: str
    bot_id: str
    state: dict[str, Any] | None
    user_vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timer:
    conversation_id: str
    timer_id: str
    due: datetime
    data: dict[str, Any]
