"""What the service side of channels shares: the channel instances, one HTTP session, each
client's loaded channel configs, the small per-conversation values kept in the store's kv, and
rate-limited health events.

kv keys (all JSON):
- `channels.ctx:<conversation>:<channel>`: the latest `reply_context` the platform gave us;
- `channels.choices:<conversation>:<channel>`: `{"1": payload, …}` of the latest numbered list
  sent there (a bare "2" from the user is then that payload);
- `channels.thread:<client>:<channel>:<identity>:<thread>`: `{conversation, user, sender}`, to
  find the conversation of a desk event whose sender the platform does not name (`"*"`);
- `channels.desk:<conversation>`: `{"channel": name}` while a desk holds the conversation.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from ..bus import Bus
from ..bus.topics import CLIENT_SYNCED
from ..config import ChannelSettings
from ..services.channel_state import ChannelStateService
from ..services.health import HealthService
from ..store.records import StoredEndpoint
from . import registry
from .base import Channel, ChannelConfig, DeliveryStatus, Endpoint, RetryPolicy, Target

log = logging.getLogger("orchestrator.channels")

# Tests (and embedders) may set this before start-up to change the retry delays; attempts and
# per-attempt timeout always come from `settings.channels`.
RETRY = web.AppKey("channels.retry", RetryPolicy)

# At most one health event of a type per client and channel in this many seconds; the ones
# left out are counted in the next one's `suppressed`.
HEALTH_INTERVALS = {"verify-failure": 60.0, "send-failure": 10.0, "handoff-failure": 10.0}

Loaded = dict[str, ChannelConfig]


def platform_endpoint(endpoint: StoredEndpoint) -> Endpoint:
    """A stored endpoint as the channel modules see it."""
    return Endpoint(endpoint.identity, endpoint.sender, endpoint.thread)


def same_endpoint(a: StoredEndpoint, b: StoredEndpoint | None) -> bool:
    """Same channel, identity, sender and thread (the version does not matter)."""
    return b is not None and (a.channel, a.identity, a.sender, a.thread) == (
        b.channel,
        b.identity,
        b.sender,
        b.thread,
    )


class ChannelHub:
    """Channel instances, the shared HTTP session, configs, kv values and health events."""

    def __init__(
        self, settings: ChannelSettings, bus: Bus, state: ChannelStateService, health: HealthService
    ) -> None:
        self._settings, self._bus, self._state, self._health = settings, bus, state, health
        self.channels: dict[str, Channel[Any]] = {}
        self.http: aiohttp.ClientSession | None = None
        self._configs: dict[str, Loaded] = {}
        self._generation: dict[str, int] = {}
        self._health_last: dict[tuple[str, str, str], float] = {}
        self._health_suppressed: dict[tuple[str, str, str], int] = {}
        self._subscription: Any = None

    # ------------------------------------------------------------ lifecycle

    async def start(self, retry: RetryPolicy | None = None) -> None:
        """Build one instance of each implemented channel and open the HTTP session."""
        settings = self._settings
        policy = replace(
            retry or RetryPolicy(), attempts=settings.max_attempts, timeout=settings.send_timeout
        )
        self.channels = {name: cls(policy) for name, cls in registry.IMPLEMENTATIONS.items()}
        self.http = aiohttp.ClientSession()
        self._subscription = self._bus.subscribe(CLIENT_SYNCED, lambda event: self.forget(event.client_id))

    async def close(self) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
        if self.http is not None:
            await self.http.close()
            self.http = None

    # ------------------------------------------------------------ configs

    def forget(self, client_id: str) -> None:
        """Drop a client's cached configs (on `client.synced`)."""
        self._configs.pop(client_id, None)
        self._generation[client_id] = self._generation.get(client_id, 0) + 1

    def has_no_channels(self, client_id: str) -> bool:
        """True when the client is known to have no implemented channel configured (a check
        without I/O, so the request path of API-only clients pays nothing)."""
        loaded = self._configs.get(client_id)
        return loaded is not None and not loaded

    async def configs(self, client_id: str) -> Loaded:
        """The client's configs of implemented channels, loaded by their channel's model."""
        loaded = self._configs.get(client_id)
        if loaded is not None:
            return loaded
        generation = self._generation.get(client_id, 0)
        loaded = {}
        for stored in await self._state.configs(client_id):
            channel = self.channels.get(stored.channel)
            if channel is None:
                continue  # config-only channel (telegram…): nothing to send or receive
            try:
                loaded[stored.channel] = channel.load_config(stored.config)
            except ValidationError as exc:
                log.error(
                    "client %s: stored %s config does not load: %s",
                    client_id,
                    stored.channel,
                    exc.errors()[0]["msg"],
                )
        if self._generation.get(client_id, 0) == generation:
            if len(self._configs) > 10_000:
                self._configs.clear()
            self._configs[client_id] = loaded
        return loaded

    async def config(self, client_id: str, name: str) -> tuple[Channel[Any], ChannelConfig] | None:
        """The channel and the client's config for it, or None when either is missing."""
        channel = self.channels.get(name)
        if channel is None:
            return None
        config = (await self.configs(client_id)).get(name)
        return (channel, config) if config is not None else None

    async def target(
        self, conversation_id: str, config: ChannelConfig, endpoint: StoredEndpoint
    ) -> Target[Any]:
        """Where a channel's calls for this conversation go: the shared session, the config,
        the endpoint as the channel sees it and the latest reply context kept for it."""
        context = await self.reply_context(conversation_id, endpoint.channel)
        return Target(await self.session(), config, platform_endpoint(endpoint), context)

    async def session(self) -> aiohttp.ClientSession:
        """The shared session (one is opened if the hub has not started, e.g. in a CLI)."""
        if self.http is None:
            self.http = aiohttp.ClientSession()
        return self.http

    # ------------------------------------------------------------ kv values

    async def _get(self, key: str) -> Any:
        return await self._state.get(key)

    async def _set(self, key: str, value: Any) -> None:
        await self._state.put(key, value)

    async def _set_changed(self, key: str, value: Any) -> None:
        """Write only what changed (these rarely do): a read costs less than a commit."""
        if await self._get(key) != value:
            await self._set(key, value)

    async def reply_context(self, conversation_id: str, channel: str) -> dict[str, Any]:
        return await self._get(f"channels.ctx:{conversation_id}:{channel}") or {}

    async def keep_reply_context(self, conversation_id: str, channel: str, context: dict[str, Any]) -> None:
        if context:
            await self._set_changed(f"channels.ctx:{conversation_id}:{channel}", context)

    async def choices(self, conversation_id: str, channel: str) -> dict[str, str]:
        return await self._get(f"channels.choices:{conversation_id}:{channel}") or {}

    async def keep_choices(self, conversation_id: str, channel: str, options: dict[str, str]) -> None:
        await self._set(f"channels.choices:{conversation_id}:{channel}", options)

    async def thread(self, client_id: str, channel: str, identity: str, thread: str) -> dict[str, str] | None:
        return await self._get(f"channels.thread:{client_id}:{channel}:{identity}:{thread}")

    async def keep_thread(
        self, client_id: str, endpoint: StoredEndpoint, conversation_id: str, user_id: str
    ) -> None:
        key = f"channels.thread:{client_id}:{endpoint.channel}:{endpoint.identity}:{endpoint.thread}"
        value = {"conversation": conversation_id, "user": user_id, "sender": endpoint.sender}
        await self._set_changed(key, value)

    async def desk(self, conversation_id: str) -> str | None:
        """The channel whose desk holds the conversation, if any."""
        value = await self._get(f"channels.desk:{conversation_id}")
        return value.get("channel") if isinstance(value, dict) else None

    async def keep_desk(self, conversation_id: str, channel: str | None) -> None:
        await self._set(f"channels.desk:{conversation_id}", {"channel": channel} if channel else None)

    async def keep_status(self, client_id: str, channel: str, status: DeliveryStatus) -> None:
        """The latest delivery status of a platform message; a failure is a health event."""
        value = {"status": status.status, "at": time.time(), "detail": status.detail}
        await self._set(f"channels.status:{client_id}:{channel}:{status.platform_message_id}", value)
        if status.failed:
            data = {"platformMessageId": status.platform_message_id, "status": status.status}
            await self.health(client_id, channel, "delivery-failure", {**data, "detail": status.detail})

    # ------------------------------------------------------------ health

    async def health(self, client_id: str, channel: str, type_: str, data: dict[str, Any]) -> bool:
        """Record a health event, at most one per type, client and channel per interval;
        False when this one was left out (and counted)."""
        key = (client_id, channel, type_)
        now = time.monotonic()
        last = self._health_last.get(key)
        if last is not None and now - last < HEALTH_INTERVALS.get(type_, 0.0):
            self._health_suppressed[key] = self._health_suppressed.get(key, 0) + 1
            return False
        if len(self._health_last) > 10_000:
            self._health_last.clear()
        self._health_last[key] = now
        suppressed = self._health_suppressed.pop(key, 0)
        if suppressed:
            data = {**data, "suppressed": suppressed}
        try:
            await self._health.record(client_id, channel, type_, data)
        except Exception:
            log.exception("cannot record the %s health event of %s", type_, channel)
        return True
