"""Who may open a web chat socket: a client with a `webchat` channel config, from an allowed origin.

The `webchat` config (set by `sync`) lists `allowedOrigins`: exact origins
(`https://shop.example.com`) or `*`. The service's own origin (the full-page chat at
`/webchat/`) is always allowed. A browser always sends `Origin` on a WebSocket upgrade; a
request without one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

from ..bus import Bus, Subscription
from ..bus.topics import CLIENT_SYNCED
from ..services.container import Services

CHANNEL = "webchat"


@dataclass(frozen=True, slots=True)
class WebchatAccess:
    """A client's web chat settings."""

    client_id: str
    allowed_origins: tuple[str, ...]
    bot_id: str | None

    def allows(self, origin: str, own_origins: tuple[str, ...]) -> bool:
        """Whether a socket from `origin` may talk to this client's chat."""
        if not origin:
            return False
        normal = normalise_origin(origin)
        if normal in own_origins:
            return True
        return "*" in self.allowed_origins or normal in self.allowed_origins


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` in lower case, the default port left out."""
    url = URL(value.strip().rstrip("/"))
    if not url.scheme or not url.host:
        return value.strip().lower()
    port = "" if url.port is None or url.is_default_port() else f":{url.port}"
    return f"{url.scheme.lower()}://{url.host.lower()}{port}"


class AccessCache:
    """Each client's `WebchatAccess`, read from its stored configs, dropped on `client.synced`."""

    def __init__(self, services: Services, bus: Bus) -> None:
        self._services = services
        self._cache: dict[str, WebchatAccess | None] = {}
        self._subscription: Subscription = bus.subscribe(
            CLIENT_SYNCED, lambda event: self.forget(event.client_id)
        )

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)

    def close(self) -> None:
        self._subscription.cancel()

    async def get(self, client_id: str) -> WebchatAccess | None:
        """The client's web chat settings, or None (unknown client, or no `webchat` config)."""
        if client_id in self._cache:
            return self._cache[client_id]
        client = await self._services.clients.get(client_id)
        access = None
        if client is not None:
            for stored in await self._services.channel_state.configs(client_id):
                if stored.channel == CHANNEL:
                    origins = stored.config.get("allowedOrigins") or []
                    normal = tuple(o if o == "*" else normalise_origin(o) for o in origins)
                    access = WebchatAccess(client_id, normal, client.bot_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[client_id] = access
        return access
