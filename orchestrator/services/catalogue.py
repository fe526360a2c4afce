"""What the services know of channels, as an interface: the channel package fills it.

`SyncService` validates channel configs and the endpoint API checks channel versions through a
`ChannelCatalogue` that the composition root (`app.create_app`) passes in, so the services
never import the channel modules (which import the services).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """A channel config that validated: its version and the keys to store."""

    version: str
    config: dict[str, Any]


class ChannelConfigError(Exception):
    """A channel config that does not validate; `messages` name each field."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(". ".join(messages))
        self.messages = messages


class ChannelCatalogue(Protocol):
    """The channels `sync` accepts (see `channels.registry.CATALOGUE`)."""

    def names(self) -> Collection[str]:
        """Every channel name `sync` accepts."""
        ...

    def versions(self, name: str) -> tuple[str, ...]:
        """The config versions of a channel (empty for unknown names)."""
        ...

    def validate(self, name: str, raw: Mapping[str, Any], prefix: str) -> CheckedConfig:
        """One channel config, or ChannelConfigError naming every problem under `prefix`."""
        ...
