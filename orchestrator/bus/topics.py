"""Every bus topic by name, each with the one payload type published on it.

Publish and subscribe with these constants (and `collect_topic` / `turn_topic` for the
per-message topics), never with string literals: `grep` then finds every publisher and every
subscriber of a topic. `PAYLOADS` maps each fixed topic to its payload type (a bus that crosses
processes serialises these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store.records import Conversation, Message, StoredEndpoint

if TYPE_CHECKING:
    from ..engine.turn_io import HandoffRequest


@dataclass(frozen=True, slots=True)
class MessageCreated:
    """`message.created`: a message was stored (by a user, the bot, an agent or the API)."""

    client_id: str
    conversation: Conversation
    message: Message
    source: StoredEndpoint | None  # the channel endpoint it came from; never echoed back there
    collect: bool
    bot_absent: bool = False  # the bot is not in the conversation (a desk agent has it)


@dataclass(frozen=True, slots=True)
class ClientSynced:
    """`client.synced`: a client's configuration changed (sync, rename): drop its caches."""

    client_id: str


@dataclass(frozen=True, slots=True)
class OutboxWritten:
    """`outbox`: webhook events were committed; wakes the delivery worker."""


@dataclass(frozen=True, slots=True)
class WebhookFailed:
    """`webhook.failed`: a webhook event was given up after its last attempt (`url` without
    its query, which may carry a token)."""

    url: str
    error: str


@dataclass(frozen=True, slots=True)
class HandoffRequested:
    """`handoff.requested`: a bot turn reached a `handoff` step; a desk channel takes it."""

    client_id: str
    conversation: Conversation
    request: HandoffRequest


@dataclass(frozen=True, slots=True)
class HandoffChanged:
    """`conversation.handoff`: a turn moved the conversation's hand-off state (`bot`,
    `pending`, `agent`, `released`, `closed`); the web chat shows it."""

    client_id: str
    conversation_id: str
    state: str


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """`turn.<incoming id>`: the bot's turn for that user message ended."""

    incoming_id: str


MESSAGE_CREATED = "message.created"
CLIENT_SYNCED = "client.synced"
OUTBOX = "outbox"
WEBHOOK_FAILED = "webhook.failed"
HANDOFF_REQUESTED = "handoff.requested"
CONVERSATION_HANDOFF = "conversation.handoff"

PAYLOADS: dict[str, type[Any]] = {
    MESSAGE_CREATED: MessageCreated,
    CLIENT_SYNCED: ClientSynced,
    OUTBOX: OutboxWritten,
    WEBHOOK_FAILED: WebhookFailed,
    HANDOFF_REQUESTED: HandoffRequested,
    CONVERSATION_HANDOFF: HandoffChanged,
}


COLLECT = "collect."  # prefix of the per-message topics (a watcher gets both: see Bus.watch)
TURN = "turn."


def collect_topic(incoming_id: str) -> str:
    """`collect.<incoming id>`: a bot reply (`Message`) to a message someone may be collecting."""
    return COLLECT + incoming_id


def turn_topic(incoming_id: str) -> str:
    """`turn.<incoming id>`: the bot's turn for that message ended (`TurnEnded`)."""
    return TURN + incoming_id
