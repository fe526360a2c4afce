"""Hand-off bridging between the bot and the desk platforms (Tiledesk; Qiscus Multichannel).

To the desk: on `handoff.requested` (a bot turn reached a `handoff` step), the first endpoint
of the conversation on a channel that `supports_handoff` gets `channel.handoff(...)` with the
engine's request (`queue`, `priority`, `summary`, `tags`), in the conversation's send order, so
after the "connecting you" reply of the same turn. The conversation is then marked in kv as
held by that desk. A conversation without a desk channel only changes state in the engine (an
agent acts through `POST /api/v1/conversations/{id}/events`). A failed hand-off is a
`handoff-failure` health event; the engine stays `pending` until a desk event or the events API
moves it.

From the desk: desk events parsed from the platform's webhooks (`agent_joined`,
`agent_released`, `closed`) are injected into the bot, in order per conversation and off the
request path. Before `agent_released` (and before `closed` on Qiscus, see `RELEASE_ON_CLOSE`)
of a conversation we handed off, `channel.release(...)` gives it back to the bot on the
platform, so the bot's next replies (`on_released`, the csat question) can be posted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ..bus import Bus
from ..bus.topics import HANDOFF_REQUESTED, HandoffRequested
from ..services.container import BotTurns
from ..services.endpoints import EndpointService
from ..store.records import Conversation
from .base import HandoffNotSupported, SendError
from .dispatch import ConversationQueues, Dispatcher
from .hub import ChannelHub

log = logging.getLogger("orchestrator.channels")

# `release` on `closed` too: Qiscus deactivates the bot per room, and a resolved room lives on
# (the customer's next session must reach the bot again). A closed Tiledesk request is over: the
# next one starts with the bot its department names.
RELEASE_ON_CLOSE = frozenset({"qiscus"})


class DeskBridge:
    """Hand-offs to desk platforms and their events back to the bot (see the module doc)."""

    def __init__(
        self, hub: ChannelHub, dispatcher: Dispatcher, bus: Bus, endpoints: EndpointService, bots: BotTurns
    ) -> None:
        self.hub = hub
        self.dispatcher = dispatcher
        self._bus, self._endpoints, self._bots = bus, endpoints, bots
        self.events = ConversationQueues()
        self._subscription: Any = None

    def start(self) -> None:
        self._subscription = self._bus.subscribe(HANDOFF_REQUESTED, self._on_handoff)

    async def stop(self, timeout: float) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
        await self.events.close(timeout)

    # ------------------------------------------------------------ bot → desk

    def _on_handoff(self, event: HandoffRequested) -> None:
        client_id, conversation = event.client_id, event.conversation
        if self.hub.has_no_channels(client_id):
            return
        request = dataclasses.asdict(event.request)
        self.dispatcher.submit(conversation.id, lambda: self._handoff(client_id, conversation, request))

    async def _handoff(self, client_id: str, conversation: Conversation, request: dict[str, Any]) -> None:
        configs = await self.hub.configs(client_id)
        for endpoint in await self._endpoints.of_conversation(conversation.id):
            channel, config = self.hub.channels.get(endpoint.channel), configs.get(endpoint.channel)
            if channel is None or config is None or not channel.supports_handoff(config):
                continue
            try:
                await channel.handoff(await self.hub.target(conversation.id, config, endpoint), request)
            except (SendError, HandoffNotSupported) as exc:
                await self._failed(client_id, channel.name, conversation.id, "handoff", exc)
                continue
            await self.hub.keep_desk(conversation.id, channel.name)
            return

    # ------------------------------------------------------------ desk → bot

    def on_event(
        self,
        client_id: str,
        channel: str,
        conversation: Conversation,
        event: str,
        data: dict[str, Any],
    ) -> None:
        """A system event from a channel's webhook: handled in order, after the webhook is
        answered (platforms such as Tiledesk want their 200 at once)."""
        self.events.submit(
            conversation.id, lambda: self._event(client_id, channel, conversation, event, data)
        )

    async def _event(
        self,
        client_id: str,
        channel: str,
        conversation: Conversation,
        event: str,
        data: dict[str, Any],
    ) -> None:
        if event in ("agent_released", "closed") and await self.hub.desk(conversation.id) == channel:
            await self.hub.keep_desk(conversation.id, None)
            if event == "agent_released" or channel in RELEASE_ON_CLOSE:
                # In the send order, and awaited: the bot is back before it speaks again.
                await self.dispatcher.submit(
                    conversation.id, lambda: self._release(client_id, channel, conversation)
                )
        await self._bots.inject_event(client_id, conversation, event, data)

    async def _release(self, client_id: str, name: str, conversation: Conversation) -> None:
        found = await self.hub.config(client_id, name)
        if found is None:
            return
        channel, config = found
        endpoints = await self._endpoints.of_conversation(conversation.id)
        endpoint = next((e for e in endpoints if e.channel == name), None)
        if endpoint is None:
            return
        try:
            await channel.release(await self.hub.target(conversation.id, config, endpoint))
        except (SendError, HandoffNotSupported) as exc:
            await self._failed(client_id, name, conversation.id, "release", exc)

    async def _failed(
        self, client_id: str, channel: str, conversation_id: str, stage: str, exc: Exception
    ) -> None:
        log.warning("%s: %s of conversation %s failed: %s", channel, stage, conversation_id, exc)
        data: dict[str, Any] = {"conversationId": conversation_id, "stage": stage}
        if isinstance(exc, SendError):
            data.update(status=exc.status, detail=exc.detail)
        else:
            data.update(status=None, detail=str(exc))
        await self.hub.health(client_id, channel, "handoff-failure", data)
