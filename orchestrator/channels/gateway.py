"""The service side of channels: the inbound webhook route (`Inbound`), the credentials test at
sync (`CredentialsTester`) and the context the channels run in (`running`); `app.create_app`
builds and wires them.

Inbound, `ANY /webhooks/v1/<scope>/<channel><tail>` (scope: the client's name, else its id):

1. 404 unless the client exists and has the channel configured (and implemented);
2. the channel verifies the request; a failure answers its 401/403, stores nothing, and is a
   `verify-failure` health event (at most one a minute per client and channel);
3. the channel parses it; for each message: echoes of the bot are skipped; a platform message
   id seen before is skipped (deduplication per client, channel and platform id); the endpoint
   is mapped to a conversation and the message's reply context kept; then
   - a desk or system event (`{"type": "event"}`) goes to the bot (`inject_event`), not stored;
     desk events only for conversations we know (found by thread when the sender is `"*"`);
     `conversation_started` (Teams: the bot was added; Tiledesk) also fires the
     `conversation.started` webhook, and a non-desk event keeps its reply context;
   - an agent's message (`from_agent`) is stored without author (like the bot's: the user did
     not write it), so the bot never runs on it and it is never echoed back to its desk;
   - a bare number answering the latest numbered list sent there becomes that option's postback;
   - anything else is the user's message: `MessageService.create` with the endpoint as source;
4. a stored message's `acks` (answer a callback query, show typing, disable clicked buttons)
   run in the conversation's send order, off the request path; its `keepalive` acks again every
   `channel.keepalive_every` seconds while the bot's turn for it runs (`keepalive.py`);
5. delivery statuses (`parsed.statuses`) are kept per platform message id, never stored as
   messages; a failed one is a `delivery-failure` health event;
6. the platform gets `parsed.response` at once; the bot's turn runs after.

At sync (when `channels.test_on_sync` is on), every new or changed channel config is tested
(`test_credentials`), then set up (`setup`: Telegram's `setWebhook`, Messenger's page settings)
with its public webhook URL, `server.external_url` + `/webhooks/v1/<scope>/<channel>`; all of
it before anything is written.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ..services.clients import ClientService
from ..services.container import Services
from ..services.errors import Invalid, Unavailable
from ..store.records import StoredEndpoint
from . import registry
from .base import (
    ChannelTestError,
    InboundMessage,
    InboundRequest,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from .desk import DeskBridge
from .dispatch import Dispatcher
from .hub import RETRY, ChannelHub
from .keepalive import Keepalive

log = logging.getLogger("orchestrator.channels")

HUB = web.AppKey("channels.hub", ChannelHub)
DISPATCHER = web.AppKey("channels.dispatcher", Dispatcher)
KEEPALIVE = web.AppKey("channels.keepalive", Keepalive)
ROUTE = "/webhooks/v1/{scope}/{channel}{tail:.*}"
DESK_EVENTS = frozenset({"agent_joined", "agent_released", "closed"})
STARTED = "conversation_started"  # a platform's "conversation started" event (fires the webhook)
STOP_TIMEOUT = 5.0  # seconds queued sends and desk events get to finish at shutdown

__all__ = ["DISPATCHER", "HUB", "RETRY", "CredentialsTester", "Inbound", "add_webhook_route", "running"]


def add_webhook_route(app: web.Application, inbound: Inbound) -> None:
    """Add `ANY /webhooks/v1/<scope>/<channel><tail>` (see the module doc)."""
    app.router.add_route("*", ROUTE, inbound.handle)


@contextlib.asynccontextmanager
async def running(
    hub: ChannelHub,
    dispatcher: Dispatcher,
    desk: DeskBridge,
    retry: RetryPolicy | None,
    keepalive: Keepalive | None = None,
) -> AsyncIterator[None]:
    """The channels run inside this: channel instances and the HTTP session, outbound dispatch
    and the desk bridge. On exit, queued sends and desk events get `STOP_TIMEOUT` s to finish;
    a failure to stop is logged, never raised (what runs after must still stop)."""
    await hub.start(retry)
    dispatcher.start()
    desk.start()
    try:
        yield
    finally:
        if keepalive is not None:
            keepalive.close()
        for step in (lambda: desk.stop(STOP_TIMEOUT), lambda: dispatcher.stop(STOP_TIMEOUT), hub.close):
            try:
                await step()
            except Exception:
                log.exception("stopping channels")


class CredentialsTester:
    """The tester `SyncService` gets: the channel's `test_credentials` and `setup`, a
    ChannelTestError as Invalid naming `body.channels.<name>.<field>`. Config-only channels
    are not tested. `external_url` is `server.external_url`."""

    def __init__(self, hub: ChannelHub, clients: ClientService, external_url: str) -> None:
        self.hub = hub
        self._clients, self._external_url = clients, external_url

    async def test(self, name: str, raw: dict[str, Any]) -> None:
        """Call the platform with the credentials."""
        found = self._channel(name, raw)
        if found is not None:
            channel, config = found
            await self._named(name, channel.test_credentials(await self.hub.session(), config))

    async def setup(self, client_id: str, name: str, raw: dict[str, Any]) -> None:
        """Register the webhook URL and settings the platform needs."""
        found = self._channel(name, raw)
        if found is None:
            return
        channel, config = found
        client = await self._clients.get(client_id)
        scope = (client.name if client is not None else None) or client_id
        base = self._external_url.rstrip("/")
        url = f"{base}/webhooks/v1/{scope}/{name}"
        await self._named(name, channel.setup(await self.hub.session(), config, url))

    def _channel(self, name: str, raw: dict[str, Any]) -> tuple[Any, Any] | None:
        implementation = registry.implementation(name)
        if implementation is None:
            return None
        channel = self.hub.channels.get(name) or implementation()
        return channel, channel.load_config(raw)

    @staticmethod
    async def _named(name: str, call: Any) -> None:
        try:
            await call
        except ChannelTestError as exc:
            if exc.retryable:  # the platform is down, not the credentials wrong: retry later
                where = f"body.channels.{name}.{exc.field}"
                raise Unavailable(f"channel {name} unreachable ({where}): {exc.message}", 30) from exc
            raise Invalid(f"body.channels.{name}.{exc.field}", exc.message) from exc


class Inbound:
    """The webhook route (see the module doc)."""

    def __init__(
        self,
        hub: ChannelHub,
        desk: DeskBridge,
        dispatcher: Dispatcher,
        services: Services,
        keepalive: Keepalive,
    ) -> None:
        self.hub = hub
        self.services = services
        self.desk = desk
        self.dispatcher = dispatcher
        self.keepalive = keepalive
        self.external_url = services.settings.server.external_url

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["channel"]
        client = await self.services.clients.by_scope(request.match_info["scope"])
        found = await self.hub.config(client.id, name) if client is not None else None
        if client is None or found is None:
            return web.Response(status=404, text="Not Found")
        channel, config = found
        req = await InboundRequest.from_request(request, request.match_info["tail"], self.external_url)
        try:
            await channel.verify(req, config)
        except VerificationError as exc:
            recorded = await self.hub.health(
                client.id, name, "verify-failure", {"status": exc.status, "reason": exc.reason}
            )
            log.log(
                logging.WARNING if recorded else logging.DEBUG,
                "%s webhook of client %s rejected: %s",
                name,
                client.id,
                exc,
            )
            return web.json_response({"error": exc.reason}, status=exc.status)
        try:
            parsed = channel.parse(req, config)
        except Exception:
            log.exception("%s: cannot parse a verified webhook of client %s", name, client.id)
            return web.json_response({"error": "unreadable webhook body"}, status=400)
        for message in parsed.messages:
            await self._accept(client.id, name, message)
        for status in parsed.statuses:
            await self.hub.keep_status(client.id, name, status)
        return parsed.response.to_aiohttp()

    def _keep_alive(
        self, client_id: str, name: str, conversation_id: str, message: InboundMessage, stored_id: str
    ) -> None:
        """Repeat the message's keepalive acks while the bot's turn for it runs."""
        channel = self.hub.channels.get(name)
        every = channel.keepalive_every if channel is not None else None
        if not message.keepalive or every is None:
            return

        def send() -> None:
            self._acknowledge(
                client_id,
                name,
                conversation_id,
                message,
                message.keepalive,
                lambda: self.keepalive.active(stored_id),
            )

        self.keepalive.watch(stored_id, every, send)

    def _acknowledge(
        self,
        client_id: str,
        name: str,
        conversation_id: str,
        message: InboundMessage,
        acks: tuple[dict[str, Any], ...] | None = None,
        still: Any = None,
    ) -> None:
        """Queue the message's acks (or `acks`) in the conversation's send order; `still()`,
        when given, is asked again when they run."""
        found = self.hub.channels.get(name)
        acks = message.acks if acks is None else acks
        if not acks or found is None:
            return
        channel = found
        endpoint = message.endpoint

        async def run() -> None:
            if still is not None and not still():
                return
            loaded = await self.hub.config(client_id, name)
            if loaded is None:
                return
            target = Target(await self.hub.session(), loaded[1], endpoint, message.reply_context)
            for ack in acks:
                try:
                    await channel.acknowledge(target, ack)
                except SendError as exc:
                    log.warning("%s: %s not acknowledged: %s", name, ack.get("method"), exc)
                    await self.hub.health(
                        client_id,
                        name,
                        "send-failure",
                        {"conversationId": conversation_id, "ack": ack.get("method"), "status": exc.status},
                    )

        self.dispatcher.submit(conversation_id, run)

    async def _accept(self, client_id: str, name: str, message: InboundMessage) -> None:
        if message.is_echo:
            return
        state = self.services.channel_state
        payload = message.payload
        is_event = payload.get("type") == "event"
        platform_id = message.platform_message_id
        # Events are recorded here; messages with their platform id in one transaction.
        if platform_id and is_event and await state.seen_before(client_id, name, platform_id):
            return  # the platform retried a webhook we already took
        is_desk_event = is_event and payload.get("event") in DESK_EVENTS
        create = not is_desk_event and not message.bot_absent
        started = is_event and payload.get("event") == STARTED
        found = await self._conversation(client_id, name, message, create=create, started=started)
        if found is None:
            log.info("%s: %s for an unknown conversation ignored", name, payload.get("event"))
            return
        conversation_id, user_id, endpoint = found
        if is_event:
            if create:  # the bot may answer a platform event (Teams: the bot was added)
                await self.hub.keep_reply_context(conversation_id, name, message.reply_context)
            self._acknowledge(client_id, name, conversation_id, message)
            conversation = await self.services.conversations.get(client_id, conversation_id)
            self.desk.on_event(
                client_id, name, conversation, str(payload.get("event")), dict(payload.get("data") or {})
            )
            return
        await self.hub.keep_reply_context(conversation_id, name, message.reply_context)
        author_id = None if message.from_agent else user_id
        if author_id is not None:
            payload = await self._numbered_choice(conversation_id, name, payload)
            self._acknowledge(client_id, name, conversation_id, message)
        stored = None
        if platform_id:
            stored = await self.services.messages.create_inbound(
                client_id,
                conversation_id,
                payload,
                author_id=author_id,
                source=endpoint,
                platform_id=platform_id,
                bot_absent=message.bot_absent,
            )
        elif not message.bot_absent:
            stored = await self.services.messages.create(
                client_id, conversation_id, payload, author_id=author_id, source=endpoint
            )
        if stored is not None and author_id is not None and not message.bot_absent:
            self._keep_alive(client_id, name, conversation_id, message, stored.id)

    async def _conversation(
        self, client_id: str, name: str, message: InboundMessage, *, create: bool, started: bool = False
    ) -> tuple[str, str, StoredEndpoint] | None:
        """(conversation id, user id, endpoint) of a message; by thread for senders the
        platform does not name and when not creating; None when unknown."""
        ep = message.endpoint
        if ep.sender == "*" or not create:
            known = await self.hub.thread(client_id, name, ep.identity, ep.thread)
            if not known:
                return None
            endpoint = StoredEndpoint(name, ep.identity, known["sender"], ep.thread, registry.CURRENT_VERSION)
            return known["conversation"], known["user"], endpoint
        endpoint = StoredEndpoint(name, ep.identity, ep.sender, ep.thread, registry.CURRENT_VERSION)
        mapping = await self.services.endpoints.map(client_id, endpoint, started=started)
        await self.hub.keep_thread(client_id, endpoint, mapping.conversation_id, mapping.user_id)
        return mapping.conversation_id, mapping.user_id, endpoint

    async def _numbered_choice(
        self, conversation_id: str, name: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """A bare number answering the latest numbered list sent on this channel: its payload;
        the label of a reply-keyboard key (Telegram): its quick reply."""
        if payload.get("type") != "text":
            return payload
        text = str(payload.get("text", "")).strip()
        if not text:
            return payload
        choices = await self.hub.choices(conversation_id, name)
        if text.isascii() and text.isdigit():
            value = choices.get(str(int(text)))
            return {"type": "postback", "payload": value, "text": text} if value else payload
        value = choices.get(text)
        return {"type": "quick_reply", "payload": value, "text": text} if value else payload
