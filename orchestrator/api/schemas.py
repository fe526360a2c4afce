"""Request and response models of the REST API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from ..payloads import PAYLOAD_TYPES, SYSTEM_EVENTS
from ..services.events import EVENT_TYPES
from .validation import Count, DateTime, Guid, Strict, Uri

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
PayloadType = Literal[PAYLOAD_TYPES]  # type: ignore[valid-type]
SystemEvent = Literal[SYSTEM_EVENTS]  # type: ignore[valid-type]


class PayloadIn(BaseModel):
    """A message payload: any object whose `type` is a known payload type."""

    model_config = ConfigDict(extra="allow")
    type: PayloadType


def _checked_as_given(value: Any, check: ValidatorFunctionWrapHandler) -> Any:
    check(value)  # raises naming `payload.type`
    return value  # stored exactly as sent, key order included


Payload = Annotated[PayloadIn, WrapValidator(_checked_as_given)]


# ---------------------------------------------------------------- path parameters


class IdParams(Strict):
    id: Guid


class UserIdParams(Strict):
    userId: Guid


class ConversationIdParams(Strict):
    conversationId: Guid


# ---------------------------------------------------------------- queries


class NoQuery(Strict):
    pass


class LimitQuery(Strict):
    limit: Count = Field(20, description="How many; 0 means no limit.")


class MessageListQuery(LimitQuery):
    from_: DateTime = Field(None, alias="from", description="Only messages sent at or before this date.")  # type: ignore[assignment]


# ---------------------------------------------------------------- bodies


class Empty(Strict):
    pass


class CreateClient(Strict):
    id: Guid = Field(None, description="The id to give the client (generated if absent).")  # type: ignore[assignment]


class RenameClient(Strict):
    id: Guid
    name: str = Field(min_length=1, max_length=100)


class WebhookEntry(Strict):
    url: Uri
    events: list[EventType] | None = Field(
        None, description="Only these event types (extension); all when absent."
    )


class SyncBody(Strict):
    channels: dict[str, Any] = Field(None, description="Channel configs by channel name.")  # type: ignore[arg-type]
    webhooks: list[WebhookEntry] = Field(None, description="The complete list of webhooks.")  # type: ignore[arg-type]
    bot: str = Field(None, description="A bot under bots/ that answers this client's users.")  # type: ignore[assignment]


class SeedSyncBody(SyncBody):
    """The seed contract: no client headers, credentials in the body."""

    id: Guid | None = None
    token: str | None = Field(None, max_length=125)
    name: str | None = Field(None, max_length=50)


class UserTokenBody(Strict):
    userId: Guid


class ConversationBody(Strict):
    userId: Guid


class MessageBody(Strict):
    conversationId: Guid
    authorId: Guid = Field(None, description="The user who wrote it; omit for a bot message.")  # type: ignore[assignment]
    payload: Payload
    incomingId: Guid = Field(None, description="The user message this bot message answers.")  # type: ignore[assignment]


class CollectBody(Strict):
    conversationId: Guid
    authorId: Guid
    payload: Payload
    timeout: int = Field(  # type: ignore[assignment]
        None, ge=0, le=50_000, description="Milliseconds (default 10000); 0 = until end of turn."
    )


class ChannelRef(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)


def _channel_form(value: Any) -> str | None:
    # Tags start with "function-" so that error labels leave them out (`body.channel.version`).
    return "function-name" if isinstance(value, str) else "function-ref" if isinstance(value, dict) else None


Channel = Annotated[
    Annotated[str, Field(min_length=1), Tag("function-name")] | Annotated[ChannelRef, Tag("function-ref")],
    Discriminator(
        _channel_form,
        custom_error_type="alternatives",
        custom_error_message="must be one of [string, object]",
    ),
]
"""A custom channel's name, or `{name, version}` of a channel this server has (checked by the
handler; the OpenAPI document lists them)."""


class EndpointBody(Strict):
    channel: Channel
    identity: str = Field(min_length=1)
    sender: str = Field(min_length=1)
    thread: str = Field(min_length=1)


class ConversationEventBody(Strict):
    """Inject a system event into a conversation (account linked, agent released…)."""

    event: SystemEvent
    data: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------- responses (documentation)


class ClientCreated(BaseModel):
    id: str
    token: str


class WebhookOut(BaseModel):
    url: str
    token: str
    events: list[str] | None = None


class SyncReply(BaseModel):
    webhooks: list[WebhookOut]


class UserOut(BaseModel):
    id: str
    clientId: str
    data: dict[str, Any] | None = None


class UserTokenOut(BaseModel):
    id: str
    token: str


class ConversationOut(BaseModel):
    id: str
    clientId: str
    userId: str
    createdOn: datetime


class MessageOut(BaseModel):
    id: str
    conversationId: str
    authorId: str | None = None
    sentOn: datetime
    payload: dict[str, Any]


class CollectOut(BaseModel):
    message: MessageOut
    responses: list[MessageOut]


class CountOut(BaseModel):
    count: int


class MappingOut(BaseModel):
    conversationId: str


class EndpointOut(BaseModel):
    channel: str | ChannelRef
    identity: str
    sender: str
    thread: str


class HealthOut(BaseModel):
    channels: dict[str, Any]


class WebhookCountsOut(BaseModel):
    pending: int = Field(description="Events waiting for delivery (being retried included).")
    failed: int = Field(description="Events given up after `webhooks.max_attempts` attempts.")


class EventReply(BaseModel):
    responses: list[MessageOut]
    handoff: str = Field(description="The handoff state after the event: bot, pending, agent…")


class TraceOut(BaseModel):
    turns: list[dict[str, Any]]
