"""The store interface: every read and write the services need, and nothing SQL-shaped.

A backend (SQLite now, PostgreSQL later) implements this class. Writes that cause webhook
events take them as `OutboxEvent`s and write them in the same transaction as the change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .records import (
    BotState,
    Client,
    Conversation,
    Delivery,
    HealthEvent,
    Message,
    OutboxEvent,
    StoredChannelConfig,
    StoredEndpoint,
    Timer,
    User,
    Webhook,
)

_NO_LOCK: AbstractAsyncContextManager[None] = nullcontext()


class StoreError(Exception):
    """The store cannot be used (unreachable, or a schema newer than this code)."""


class Conflict(Exception):
    """A unique key is already taken."""


@dataclass(frozen=True, slots=True)
class EndpointMapping:
    user_id: str
    conversation_id: str
    new_user: bool
    new_conversation: bool


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A webhook as sync wants it stored (id and token already decided)."""

    id: str
    url: str
    token: str
    events: tuple[str, ...] | None


class Store(ABC):
    """Persistence for clients, users, conversations, messages, endpoints, outbox and bots."""

    observe: Callable[[str, float], None] | None = None  # told ("read"|"write", seconds) per call

    def turn_lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a conversation's bot turn runs, so that no two instances run one at once.
        A single-process backend has nothing to add to the runner's own lock."""
        return _NO_LOCK

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply migrations; raise StoreError on a schema newer than the code."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""

    # -- clients and sync
    @abstractmethod
    async def create_client(self, client_id: str, token_id: str, token_digest: str) -> None:
        """Create a client with its first token; Conflict if the id exists."""

    @abstractmethod
    async def get_client(self, client_id: str) -> Client | None: ...

    @abstractmethod
    async def get_client_by_name(self, name: str) -> Client | None: ...

    @abstractmethod
    async def rename_client(self, client_id: str, name: str) -> bool:
        """Give a client a unique name (taking it from any other holder); False if unchanged."""

    @abstractmethod
    async def get_client_token(self, token_id: str) -> tuple[str, str] | None:
        """(client id, digest) of a client token."""

    @abstractmethod
    async def apply_sync(
        self,
        client_id: str,
        channels: Sequence[StoredChannelConfig],
        webhooks: Sequence[WebhookSpec],
        bot_id: str | None,
        health: Sequence[HealthEvent],
    ) -> None:
        """Replace a client's channel configs, webhooks and bot in one transaction."""

    @abstractmethod
    async def list_webhooks(self, client_id: str) -> list[Webhook]: ...

    @abstractmethod
    async def wants_events(self, client_id: str, event_type: str) -> bool:
        """Whether any webhook of the client takes this event type (nothing to queue if not)."""

    @abstractmethod
    async def list_channel_configs(self, client_id: str) -> list[StoredChannelConfig]: ...

    # -- users and conversations
    @abstractmethod
    async def create_user(self, user: User, events: Sequence[OutboxEvent]) -> None: ...

    @abstractmethod
    async def get_user(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def create_user_token(self, token_id: str, user_id: str, token_digest: str) -> None: ...

    @abstractmethod
    async def get_user_token(self, token_id: str) -> tuple[str, str] | None:
        """(user id, digest) of a user token, or None."""

    @abstractmethod
    async def create_conversation(
        self, conversation: Conversation, events: Sequence[OutboxEvent]
    ) -> None: ...

    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    @abstractmethod
    async def list_conversations(self, user_id: str, limit: int) -> list[Conversation]:
        """Newest activity first (conversations without messages first); limit 0 = all."""

    @abstractmethod
    async def recent_conversations(
        self, client_id: str, limit: int
    ) -> list[tuple[Conversation, datetime | None]]:
        """A client's conversations with their last message time, most recently active first."""

    @abstractmethod
    async def list_clients(self, limit: int) -> list[Client]:
        """Clients, oldest first (the studio lists them)."""

    # -- messages
    @abstractmethod
    async def create_messages(
        self,
        messages: Sequence[tuple[Message, Sequence[OutboxEvent]]],
        seen: tuple[str, str, str] | None = None,
    ) -> bool:
        """Store messages, in order, each with its webhook events, in one transaction. With
        `seen` = (client id, channel, platform message id), that id is recorded in the same
        transaction; when it was recorded before nothing is written and the answer is False."""

    @abstractmethod
    async def get_message(self, message_id: str) -> Message | None: ...

    @abstractmethod
    async def list_messages(self, conversation_id: str, limit: int, until: datetime | None) -> list[Message]:
        """`sentOn DESC`, newest inserted first on ties; limit 0 = all; `until` inclusive."""

    @abstractmethod
    async def delete_message(self, message_id: str) -> bool: ...

    @abstractmethod
    async def delete_conversation_messages(self, conversation_id: str) -> int: ...

    # -- endpoints
    @abstractmethod
    async def map_endpoint(
        self,
        client_id: str,
        endpoint: StoredEndpoint,
        new_ids: tuple[str, str],
        created_on: datetime,
        events_for: Callable[[EndpointMapping], list[OutboxEvent]],
    ) -> EndpointMapping:
        """Find or create the user and conversation of an endpoint, atomically."""

    @abstractmethod
    async def list_endpoints(self, conversation_id: str) -> list[StoredEndpoint]: ...

    # -- webhook outbox
    @abstractmethod
    async def claim_deliveries(
        self,
        now: float,
        lease: float,
        limit: int,
        *,
        per_webhook: int | None = None,
        in_flight: Mapping[str, int] | None = None,
    ) -> list[Delivery]:
        """Take due deliveries, at most one per ordering key (the oldest), leasing them; with
        `per_webhook`, no webhook gets more than that many counting its `in_flight` ones."""

    @abstractmethod
    async def trim_outbox(self, max_rows: int) -> list[tuple[str, str, int]]:
        """Drop the oldest outbox rows of every webhook over `max_rows` (pending and failed);
        `(client_id, webhook_id, dropped)` per webhook trimmed."""

    @abstractmethod
    async def complete_delivery(self, seq: int) -> None: ...

    @abstractmethod
    async def retry_delivery(self, seq: int, attempts: int, next_at: float, error: str) -> None: ...

    @abstractmethod
    async def fail_delivery(self, seq: int, attempts: int, error: str) -> None: ...

    @abstractmethod
    async def next_delivery_at(self) -> float | None:
        """When the next pending delivery is due (epoch seconds), or None."""

    @abstractmethod
    async def outbox_counts(self) -> dict[str, int]:
        """{'pending': n, 'failed': n} over every client (the metrics' outbox figures)."""

    @abstractmethod
    async def delivery_counts(self, client_id: str) -> dict[str, int]:
        """{'pending': n, 'failed': n} for a client's webhooks."""

    # -- health
    @abstractmethod
    async def add_health_event(
        self, client_id: str, event: HealthEvent, events: Sequence[OutboxEvent]
    ) -> None: ...

    @abstractmethod
    async def list_health(self, client_id: str, per_channel: int) -> dict[str, list[HealthEvent]]:
        """Newest first, per channel name."""

    # -- bots
    @abstractmethod
    async def get_bot_state(self, conversation_id: str, user_id: str, bot_id: str) -> BotState: ...

    @abstractmethod
    async def save_turn(
        self,
        user_id: str,
        state: BotState,
        timers: Sequence[Timer],
        trace: dict[str, Any] | None,
        keep_traces: int,
        replies: Sequence[tuple[Message, Sequence[OutboxEvent]]] = (),
    ) -> None:
        """After a bot turn, in one transaction: the bot's replies with their webhook events,
        the conversation state, the user's variables, its timers (replacing the old ones) and
        the turn's trace (keeping the newest few). A turn is stored whole or not at all."""

    @abstractmethod
    async def due_timers(self, now: datetime, limit: int) -> list[Timer]: ...

    @abstractmethod
    async def claim_timer(self, timer: Timer, until: datetime) -> bool:
        """Move a due timer's due time to `until` if it is still as read; True only for the
        one caller (of any instance) that did, so a timer fires once."""

    @abstractmethod
    async def delete_timer(self, conversation_id: str, timer_id: str) -> None: ...

    @abstractmethod
    async def list_traces(self, conversation_id: str) -> list[dict[str, Any]]:
        """Oldest first, each with its `turn` number."""

    # -- channels
    @abstractmethod
    async def seen_inbound(self, client_id: str, channel: str, platform_id: str) -> bool:
        """Record a platform message id; True if it had been recorded before (a retry)."""

    @abstractmethod
    async def get_kv(self, key: str) -> Any | None: ...

    @abstractmethod
    async def set_kv(self, key: str, value: Any) -> None: ...

    @abstractmethod
    async def prune(self, seen_before: float, values_before: float) -> int:
        """Forget platform ids recorded before `seen_before` and values not written since
        `values_before` (epoch seconds); how many rows went."""
