"""Which channels exist, their versions and config models, and their implementations.

Every channel of Botpress Messaging 1.0.0 (telegram, slack, twilio, messenger, teams, smooch,
vonage, with Botpress's keys plus optional ones of ours), the seed platforms (qiscus, tiledesk,
chat21, messagemedia) and whatsapp (Meta's Cloud API, not in Botpress) have the config models of
their channel modules, and `implementation(name)` gives their `Channel` class; webchat is
configured here. Every config also accepts `apiUrl` (replaces the platform's base URL) and
`enabled` (false removes the channel at sync).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from ..services.catalogue import ChannelConfigError, CheckedConfig
from ..validation_text import describe
from .base import Channel
from .chat21 import Chat21Channel
from .messagemedia import MessageMediaChannel
from .messenger import MessengerChannel
from .qiscus import QiscusChannel
from .slack import SlackChannel
from .smooch import SmoochChannel
from .teams import TeamsChannel
from .telegram import TelegramChannel
from .tiledesk import TiledeskChannel
from .twilio import TwilioChannel
from .vonage import VonageChannel
from .whatsapp import WhatsAppChannel

CURRENT_VERSION = "1.0.0"


class ChannelConfigModel(BaseModel):
    """Keys every channel config may carry."""

    model_config = ConfigDict(extra="forbid")
    version: str = CURRENT_VERSION
    enabled: bool = True
    apiUrl: str | None = None


class WebchatConfig(ChannelConfigModel):
    """Our own web chat widget: nothing to configure but who may embed it."""

    allowedOrigins: list[str] | None = None


CONFIG_MODELS: dict[str, type[ChannelConfigModel]] = {
    "webchat": WebchatConfig,
}
VERSIONS: dict[str, tuple[str, ...]] = {name: (CURRENT_VERSION,) for name in CONFIG_MODELS}
IMPLEMENTATIONS: dict[str, type[Channel[Any]]] = {}


def register(
    name: str, config_model: type[BaseModel], implementation: type[Channel[Any]] | None = None
) -> None:
    """Add a channel implemented by a module of this package (its class, when it has one)."""
    CONFIG_MODELS[name] = _with_common_keys(name, config_model)
    VERSIONS[name] = (CURRENT_VERSION,)
    if implementation is not None:
        IMPLEMENTATIONS[name] = implementation


def implementation(name: str) -> type[Channel[Any]] | None:
    """The `Channel` class of a channel, or None for config-only channels (telegram…)."""
    return IMPLEMENTATIONS.get(name)


class _RevealSecrets(BaseModel):
    """Dumps `SecretStr` fields as their values: `sync` stores the config it dumps, and the
    channel reloads it from there (the secrets stay hidden in reprs and logs)."""

    @model_serializer(mode="wrap")
    def _reveal(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in data.items()}
        return data


def _with_common_keys(name: str, model: type[BaseModel]) -> type[ChannelConfigModel]:
    if issubclass(model, ChannelConfigModel):
        return model
    bases = (ChannelConfigModel, model, _RevealSecrets)
    merged = type(f"{name.title()}SyncConfig", bases, {"__module__": __name__})
    return merged


for _channel in (
    QiscusChannel,
    TiledeskChannel,
    Chat21Channel,
    MessageMediaChannel,
    TelegramChannel,
    SlackChannel,
    TwilioChannel,
    MessengerChannel,
    SmoochChannel,
    VonageChannel,
    WhatsAppChannel,
    TeamsChannel,
):
    register(_channel.name, _channel.Config, _channel)


class RegistryCatalogue:
    """The `ChannelCatalogue` the services get: this module's tables."""

    def names(self) -> list[str]:
        """Every channel name `sync` accepts."""
        return sorted(CONFIG_MODELS)

    def versions(self, name: str) -> tuple[str, ...]:
        """The config versions of a channel (empty for unknown names)."""
        return VERSIONS.get(name, ())

    def validate(self, name: str, raw: Mapping[str, Any], prefix: str) -> CheckedConfig:
        """Validate one channel config, reporting every problem (`"<prefix>.<key>" is required`)."""
        if name not in CONFIG_MODELS:
            raise ChannelConfigError([f'"{prefix}" is not allowed'])
        version = raw.get("version", CURRENT_VERSION)
        if version not in VERSIONS[name]:
            allowed = ", ".join(VERSIONS[name])
            raise ChannelConfigError([f'"{prefix}.version" must be one of [{allowed}]'])
        try:
            model = CONFIG_MODELS[name].model_validate(raw)
        except ValidationError as exc:
            raise ChannelConfigError([describe(e, prefix) for e in exc.errors()]) from exc
        return CheckedConfig(
            model.version, model.model_dump(exclude={"version", "enabled"}, exclude_none=True)
        )


CATALOGUE = RegistryCatalogue()
