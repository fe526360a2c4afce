"""Endpoint mapping: a (channel, identity, sender, thread) always names the same conversation."""

from __future__ import annotations

import uuid

from ..bus import Bus
from ..bus.topics import OUTBOX, OutboxWritten
from ..store import EndpointMapping, Store
from ..store.records import Conversation, OutboxEvent, StoredEndpoint, User, utcnow
from . import events

API_CHANNEL = "messaging"  # the `channel` of webhook events for conversations with no endpoint


class EndpointService:
    """Maps endpoints to users and conversations and remembers each conversation's channel."""

    def __init__(self, store: Store, bus: Bus) -> None:
        self._store, self._bus = store, bus
        self._endpoints: dict[str, list[StoredEndpoint]] = {}

    async def map(
        self, client_id: str, endpoint: StoredEndpoint, *, started: bool = False
    ) -> EndpointMapping:
        """The user and conversation of an endpoint, created on first sight (with webhooks);
        `started`: the platform says the conversation started (Teams: the bot was added), which
        fires `conversation.started`."""
        now = utcnow()

        def events_for(mapping: EndpointMapping) -> list[OutboxEvent]:
            found: list[OutboxEvent] = []
            if mapping.new_user:
                found.append(events.user_new(User(mapping.user_id, client_id)))
            conversation = Conversation(mapping.conversation_id, client_id, mapping.user_id, now)
            if mapping.new_conversation:
                found.append(events.conversation_new(conversation))
            if started:
                found.append(events.conversation_started(conversation, endpoint.channel))
            return found

        new_ids = (str(uuid.uuid4()), str(uuid.uuid4()))
        mapping = await self._store.map_endpoint(client_id, endpoint, new_ids, now, events_for)
        if mapping.new_user or mapping.new_conversation or started:
            self._endpoints.pop(mapping.conversation_id, None)
            await self._bus.publish(OUTBOX, OutboxWritten())
        return mapping

    async def of_conversation(self, conversation_id: str) -> list[StoredEndpoint]:
        """The endpoints mapped to a conversation ([] for API-created ones)."""
        cached = self._endpoints.get(conversation_id)
        if cached is None:
            cached = await self._store.list_endpoints(conversation_id)
            if len(self._endpoints) > 50_000:
                self._endpoints.clear()
            self._endpoints[conversation_id] = cached
        return cached

    async def channel_name(self, conversation_id: str) -> str:
        """The channel of a conversation mapped to exactly one endpoint, else `messaging`."""
        endpoints = await self.of_conversation(conversation_id)
        return endpoints[0].channel if len(endpoints) == 1 else API_CHANNEL
