"""`sync`: replace a client's whole configuration (channels, webhooks, bot) by diffing.

Channel configs are validated (every problem reported) and, when `channels.test_on_sync` is
on, tested against the platform and then set up there (Telegram's webhook…) before anything is
written. Webhooks are matched by URL: a
URL that stays keeps its token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from .. import tokens
from ..bus import Bus
from ..bus.topics import CLIENT_SYNCED, ClientSynced
from ..store import Store, WebhookSpec
from ..store.records import HealthEvent, StoredChannelConfig, utcnow
from .catalogue import ChannelCatalogue, ChannelConfigError
from .clients import ClientService
from .errors import Forbidden, Invalid


class CredentialTester(Protocol):
    """Checks channel configs against their platform; raises Invalid naming the field."""

    async def test(self, name: str, raw: dict[str, Any]) -> None:
        """Call the platform with the credentials of a validated config."""

    async def setup(self, client_id: str, name: str, raw: dict[str, Any]) -> None:
        """Register the client's webhook URL and settings on the platform."""


BotExists = Callable[[str], bool]


class SyncService:
    """Applies sync requests (current and seed contracts)."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        clients: ClientService,
        catalogue: ChannelCatalogue,
        *,
        test_on_sync: bool,
        tester: CredentialTester,
        bot_exists: BotExists,
    ) -> None:
        self._store, self._bus, self._clients = store, bus, clients
        self._catalogue = catalogue
        self._test_on_sync = test_on_sync
        self._tester = tester
        self._bot_exists = bot_exists

    async def sync(
        self,
        client_id: str,
        channels: dict[str, Any] | None,
        webhooks: list[dict[str, Any]] | None,
        bot: str | None,
    ) -> list[dict[str, Any]]:
        """Apply a client's configuration; the webhooks with their tokens, in request order."""
        wanted = self._validate_channels(client_id, channels or {})
        if bot is not None and not self._bot_exists(bot):
            raise Invalid("body.bot", f"'{bot}' is not a bot defined under the bots directory")
        current = {c.channel: c for c in await self._store.list_channel_configs(client_id)}
        changed = [c for c in wanted if c.channel not in current or current[c.channel] != c]
        if self._test_on_sync:
            for config in changed:  # every test runs before anything is written
                await self._tester.test(config.channel, config.config)
            for config in changed:
                await self._tester.setup(client_id, config.channel, config.config)
        now = utcnow()
        health = [
            HealthEvent(c.channel, "create" if c.channel not in current else "configure", now)
            for c in changed
        ]
        wanted_names = {c.channel for c in wanted}
        health += [HealthEvent(name, "delete", now) for name in current if name not in wanted_names]
        specs = await self._diff_webhooks(client_id, webhooks or [])
        await self._store.apply_sync(client_id, wanted, list(specs.values()), bot, health)
        await self._bus.publish(CLIENT_SYNCED, ClientSynced(client_id))
        return [_webhook_reply(specs[hook["url"]]) for hook in webhooks or []]

    async def sync_seed(self, body: dict[str, Any]) -> dict[str, Any]:
        """The seed's header-less sync: create a client, or update one given `id` + `token`."""
        given_id, token = body.get("id"), body.get("token")
        client = await self._clients.get(given_id) if given_id else None
        if client is None:
            client_id, token = await self._clients.create(given_id)
        else:
            client_id = client.id
        if client is not None and (not token or await self._clients.authenticate(client_id, token) is None):
            raise Forbidden("Forbidden")
        webhooks = await self.sync(client_id, body.get("channels"), body.get("webhooks"), body.get("bot"))
        return {"id": client_id, "token": token, "webhooks": webhooks}

    def _validate_channels(self, client_id: str, channels: dict[str, Any]) -> list[StoredChannelConfig]:
        wanted, problems = [], []
        for name, raw in channels.items():
            prefix = f"body.channels.{name}"
            if not isinstance(raw, dict):
                problems.append(f'"{prefix}" must be of type object')
                continue
            if raw.get("enabled") is False and name in self._catalogue.names():
                continue  # a disabled channel is removed; its other keys do not matter
            try:
                checked = self._catalogue.validate(name, raw, prefix)
            except ChannelConfigError as exc:
                problems.extend(exc.messages)
                continue
            wanted.append(StoredChannelConfig(client_id, name, checked.version, checked.config))
        if problems:
            raise Invalid.joined(problems)
        return wanted

    async def _diff_webhooks(self, client_id: str, webhooks: list[dict[str, Any]]) -> dict[str, WebhookSpec]:
        existing = {w.url: w for w in await self._store.list_webhooks(client_id)}
        specs: dict[str, WebhookSpec] = {}
        for hook in webhooks:
            url = hook["url"]
            if url in specs:
                continue
            events = tuple(hook["events"]) if hook.get("events") is not None else None
            old = existing.get(url)
            if old is not None:
                specs[url] = WebhookSpec(old.id, url, old.token, events)
            else:
                specs[url] = WebhookSpec(str(uuid.uuid4()), url, tokens.new_secret(), events)
        return specs


def _webhook_reply(spec: WebhookSpec) -> dict[str, Any]:
    reply: dict[str, Any] = {"url": spec.url, "token": spec.token}
    if spec.events is not None:
        reply["events"] = list(spec.events)
    return reply
