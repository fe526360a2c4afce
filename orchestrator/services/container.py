"""The services of one running instance: built by their constructors in `app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..bus import Bus
from ..config import Settings
from ..metrics import Metrics
from ..store import Store
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
    """What the API and the desk bridge need of the bot runner (kept abstract: services do not
    import bots)."""

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
    metrics: Metrics
