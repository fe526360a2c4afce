"""Messages: `MessageService.create` is the only way any message is created.

Creating a message stores it with its `message.new` webhook event in one transaction, then
tells the rest of the service on the bus: the webhook worker (`outbox`), the bot runner and
channel dispatch (`message.created`), and any collector of the message it answers
(`collect.<incoming id>`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..bus import Bus
from ..bus.topics import (
    MESSAGE_CREATED,
    OUTBOX,
    MessageCreated,
    OutboxWritten,
    TurnEnded,
    collect_topic,
    turn_topic,
)
from ..ids import new_id
from ..store import Store
from ..store.records import Conversation, Message, OutboxEvent, StoredEndpoint, utcnow
from . import events
from .endpoints import EndpointService
from .errors import Invalid, NotFound
from .users import ConversationService, UserService


@dataclass(frozen=True, slots=True)
class _Draft:
    """A message about to be created."""

    payload: dict[str, Any]
    author_id: str | None = None
    incoming_id: str | None = None
    message_id: str | None = None
    collect: bool = False
    source: StoredEndpoint | None = None
    bot_absent: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    """Messages built with their webhook events, to be stored in one transaction and then
    announced (`MessageService.announce`)."""

    client_id: str
    conversation: Conversation
    drafts: list[_Draft]
    records: list[tuple[Message, list[OutboxEvent]]]

    @property
    def messages(self) -> list[Message]:
        return [message for message, _ in self.records]


class MessageService:
    """Creates, reads and deletes messages; ends bot turns."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        users: UserService,
        conversations: ConversationService,
        endpoints: EndpointService,
    ) -> None:
        self._store, self._bus = store, bus
        self._users, self._conversations, self._endpoints = users, conversations, endpoints

    async def create(
        self,
        client_id: str,
        conversation_id: str,
        payload: dict[str, Any],
        *,
        author_id: str | None = None,
        incoming_id: str | None = None,
        message_id: str | None = None,
        collect: bool = False,
        source: StoredEndpoint | None = None,
    ) -> Message:
        """Store a message and fan it out. `author_id` None means the bot wrote it.

        Runs to completion even if the request that asked for it is cancelled, so a stored
        message is always announced."""
        draft = _Draft(payload, author_id, incoming_id, message_id, collect, source)
        if incoming_id is not None and author_id is None:
            await self._conversations.get(client_id, conversation_id)  # 404 before 400
            await self._check_incoming(conversation_id, incoming_id)
        [message] = await asyncio.shield(self._create(client_id, conversation_id, [draft]))
        return message

    async def create_inbound(
        self,
        client_id: str,
        conversation_id: str,
        payload: dict[str, Any],
        *,
        author_id: str | None,
        source: StoredEndpoint,
        platform_id: str,
        bot_absent: bool = False,
    ) -> Message | None:
        """A platform's message, stored with its platform id recorded in the same transaction
        (a crash loses neither alone); None when that id was taken before (a retry)."""
        draft = _Draft(payload, author_id, source=source, bot_absent=bot_absent)
        seen = (client_id, source.channel, platform_id)
        created = await asyncio.shield(self._create(client_id, conversation_id, [draft], seen))
        return created[0] if created else None

    async def prepare_replies(
        self, client_id: str, conversation_id: str, payloads: list[dict[str, Any]], incoming_id: str | None
    ) -> Prepared:
        """The bot's replies of one turn as records, not stored yet: the turn stores them with
        its state in one transaction (`Store.save_turn`), then `announce`s them."""
        drafts = [_Draft(payload, None, incoming_id) for payload in payloads]
        return await self._prepare(client_id, conversation_id, drafts)

    async def _create(
        self,
        client_id: str,
        conversation_id: str,
        drafts: list[_Draft],
        seen: tuple[str, str, str] | None = None,
    ) -> list[Message]:
        prepared = await self._prepare(client_id, conversation_id, drafts)
        if not prepared.records:
            return []
        if not await self._store.create_messages(prepared.records, seen):
            return []  # the platform retried a message already stored
        await self.announce(prepared)
        return prepared.messages

    async def _prepare(self, client_id: str, conversation_id: str, drafts: list[_Draft]) -> Prepared:
        for author_id in {d.author_id for d in drafts if d.author_id is not None}:
            await self._users.get(client_id, author_id)
        conversation = await self._conversations.get(client_id, conversation_id)
        if not drafts:
            return Prepared(client_id, conversation, [], [])
        channel = await self._endpoints.channel_name(conversation.id)
        records = []
        for draft in drafts:
            message = Message(
                draft.message_id or new_id(),
                conversation.id,
                draft.author_id,
                utcnow(),
                draft.payload,
                draft.incoming_id if draft.author_id is None else None,
            )
            records.append((message, [events.message_new(conversation, message, channel, draft.collect)]))
        return Prepared(client_id, conversation, drafts, records)

    async def announce(self, prepared: Prepared) -> None:
        """Tell the service about messages just stored (webhooks, bot, channels, collectors)."""
        if not prepared.records:
            return
        client_id, conversation = prepared.client_id, prepared.conversation
        if await self._store.wants_events(client_id, "message.new"):
            await self._bus.publish(OUTBOX, OutboxWritten())
        for draft, (message, _) in zip(prepared.drafts, prepared.records, strict=True):
            created = MessageCreated(
                client_id, conversation, message, draft.source, draft.collect, draft.bot_absent
            )
            await self._bus.publish(MESSAGE_CREATED, created)
            if message.incoming_id is not None:
                await self._bus.publish(collect_topic(message.incoming_id), message)

    async def _check_incoming(self, conversation_id: str, incoming_id: str) -> None:
        """A bot message may only answer a user message of its own conversation. Unknown ids,
        bot messages and other conversations' (or clients') messages get the same answer."""
        incoming = await self._store.get_message(incoming_id)
        if incoming is None or incoming.conversation_id != conversation_id or incoming.author_id is None:
            raise Invalid("body.incomingId", "must be the id of a user message of this conversation")

    async def get(self, client_id: str, message_id: str) -> Message:
        """One of the client's messages, or NotFound."""
        message = await self._store.get_message(message_id)
        if message is None:
            raise NotFound()
        await self._conversations.get(client_id, message.conversation_id)
        return message

    async def list(
        self, client_id: str, conversation_id: str, limit: int, until: datetime | None
    ) -> list[Message]:
        """Newest first; `limit` 0 means all; `until` is an inclusive upper bound on sentOn."""
        await self._conversations.get(client_id, conversation_id)
        return await self._store.list_messages(conversation_id, limit, until)

    async def delete(self, client_id: str, message_id: str) -> None:
        """Delete one message (NotFound if unknown or foreign)."""
        await self.get(client_id, message_id)
        await self._store.delete_message(message_id)

    async def delete_all(self, client_id: str, conversation_id: str) -> int:
        """Delete every message of a conversation; how many there were."""
        await self._conversations.get(client_id, conversation_id)
        return await self._store.delete_conversation_messages(conversation_id)

    async def end_turn(self, client_id: str, incoming_id: str) -> None:
        """The bot is done answering `incoming_id`: release whoever collects it."""
        await self.get(client_id, incoming_id)
        await self._bus.publish(turn_topic(incoming_id), TurnEnded(incoming_id))

    async def announce_turn_end(self, incoming_id: str) -> None:
        """End of turn from the built-in bot (the message is known to exist)."""
        await self._bus.publish(turn_topic(incoming_id), TurnEnded(incoming_id))
