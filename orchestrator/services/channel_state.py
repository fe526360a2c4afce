"""What channels keep between requests: stored configs, platform ids already taken, and small
per-conversation values (reply contexts, numbered-choice maps)."""

from __future__ import annotations

import time
from typing import Any

from ..store import Store
from ..store.records import StoredChannelConfig

DEDUPE_DAYS = 2  # platforms retry a webhook within minutes or hours, never days
VALUES_DAYS = 30  # a conversation silent this long is answered again from its next message


class ChannelStateService:
    """The channels' door to the store (channels never touch the store themselves)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def configs(self, client_id: str) -> list[StoredChannelConfig]:
        """The client's channel configs, as sync stored them."""
        return await self._store.list_channel_configs(client_id)

    async def seen_before(self, client_id: str, channel: str, platform_id: str) -> bool:
        """Record a platform message id; True when it had been taken already (a retry)."""
        return await self._store.seen_inbound(client_id, channel, platform_id)

    async def get(self, key: str) -> Any | None:
        """A value kept for a conversation (None when absent)."""
        return await self._store.get_kv(key)

    async def put(self, key: str, value: Any) -> None:
        """Keep a value for a conversation."""
        await self._store.set_kv(key, value)

    async def prune(self, now: float | None = None) -> int:
        """Forget old dedupe ids and values of long-silent conversations; rows removed."""
        now = time.time() if now is None else now
        day = 86_400
        return await self._store.prune(now - DEDUPE_DAYS * day, now - VALUES_DAYS * day)
