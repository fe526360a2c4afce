"""The services of one running instance, built together by `app.build_services`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..bus import Bus
from ..bus.topics import CLIENT_SYNCED
from ..config import Settings
from ..store import FaultWatch, Store
from .catalogue import ChannelCatalogue
from .channel_state import ChannelStateService
from .clients import ClientService
from .collect import CollectService
from .endpoints import EndpointService
from .health import HealthService
from .messages import MessageService
from .storage_health import StorageHealth
from .sync import SyncService
from .users import ConversationService, UserService


class BotTurns(Protocol):
    """What the API needs of the bot runner (kept abstract: services do not import bots)."""

    async def inject_event(
        self, client_id: str, conversation: Any, event: str, data: dict[str, Any]
    ) -> Any: ...


@dataclass
class Services:
    """Everything a handler, channel or bot may call."""

    settings: Settings
    store: Store
    bus: Bus
    clients: ClientService
    users: UserService
    conversations: ConversationService
    endpoints: EndpointService
    messages: MessageService
    collect: CollectService
    sync: SyncService
    health: HealthService
    channel_state: ChannelStateService
    storage_health: StorageHealth
    channel_catalogue: ChannelCatalogue
    bots: BotTurns | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store,
        bus: Bus,
        catalogue: ChannelCatalogue,
        watch: FaultWatch | None = None,
    ) -> Services:
        """Wire the services over a store (whose faults `watch` hears), a bus and the channels
        `sync` accepts."""
        clients = ClientService(store)
        bus.subscribe(CLIENT_SYNCED, lambda event: clients.forget(event.client_id))  # on every instance
        users = UserService(store, bus)
        conversations = ConversationService(store, bus, users)
        endpoints = EndpointService(store, bus)
        messages = MessageService(store, bus, users, conversations, endpoints)
        health = HealthService(store, bus)
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            clients=clients,
            users=users,
            conversations=conversations,
            endpoints=endpoints,
            messages=messages,
            collect=CollectService(bus, messages, settings.collect),
            sync=SyncService(store, bus, clients, catalogue, test_on_sync=settings.channels.test_on_sync),
            health=health,
            channel_state=ChannelStateService(store),
            storage_health=StorageHealth(store, watch or FaultWatch(), health),
            channel_catalogue=catalogue,
        )
