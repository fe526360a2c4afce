"""Canonical message payloads: what bots produce and channels render, and what channels parse.

Outbound types are Botpress Messaging's own where Botpress has one (so its clients render them
unchanged: text, image, audio, video, file, location, card, carousel, single-choice, typing,
custom), plus `buttons` and `account_linking` in the shape of the Qiscus SDK seed.

Inbound types are Botpress's (text, postback, quick_reply, media) plus `event` for system
events such as `account_linked` or `agent_released`.

Stored messages keep their payload as a plain dict (the REST API accepts any object); these
models validate what the engine emits and what channels parse, and give channels typed access.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict stored as a message payload (unset optional keys left out)."""
        return self.model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- outbound (bot → user)


class Text(_Payload):
    type: Literal["text"] = "text"
    text: str
    markdown: bool | None = None


class Image(_Payload):
    type: Literal["image"] = "image"
    image: str
    title: str | None = None


class Audio(_Payload):
    type: Literal["audio"] = "audio"
    audio: str
    title: str | None = None


class Video(_Payload):
    type: Literal["video"] = "video"
    video: str
    title: str | None = None


class File(_Payload):
    type: Literal["file"] = "file"
    file: str
    title: str | None = None


class Location(_Payload):
    type: Literal["location"] = "location"
    latitude: float
    longitude: float
    address: str | None = None
    title: str | None = None


class ButtonPayload(_Payload):
    """The `payload` object of a Qiscus-style button: what it sends back or where it leads."""

    payload: str | None = None  # postback: the fixed string sent back when clicked
    url: str | None = None  # link
    phone: str | None = None  # phone
    method: str | None = None


class Button(_Payload):
    label: str
    type: Literal["postback", "link", "phone"]
    payload: ButtonPayload
    postback_text: str | None = None


class Choice(_Payload):
    title: str
    value: str


class Buttons(_Payload):
    """Text with buttons attached (Qiscus `buttons`); `quick_replies` are optional chips."""

    type: Literal["buttons"] = "buttons"
    text: str
    buttons: list[Button]
    quick_replies: list[Choice] | None = None


class SingleChoice(_Payload):
    """Text with quick replies (Botpress `single-choice`): chips that disappear after use."""

    type: Literal["single-choice"] = "single-choice"
    text: str
    choices: list[Choice]


class CardAction(_Payload):
    action: Literal["Postback", "Open URL", "Say something"]
    title: str
    payload: str | None = None
    url: str | None = None
    text: str | None = None


class Card(_Payload):
    type: Literal["card"] = "card"
    title: str
    subtitle: str | None = None
    image: str | None = None
    actions: list[CardAction] = Field(default_factory=list)


class Carousel(_Payload):
    type: Literal["carousel"] = "carousel"
    items: list[Card]


class AccountLinkingParams(_Payload):
    button_text: str | None = None
    view_title: str | None = None
    success_message: str | None = None


class AccountLinking(_Payload):
    """Qiscus `account_linking`: a login link; the platform later reports `account_linked`."""

    type: Literal["account_linking"] = "account_linking"
    text: str
    url: str
    redirect_url: str | None = None
    params: AccountLinkingParams = Field(default_factory=AccountLinkingParams)


class Custom(_Payload):
    """The escape hatch: raw per-channel payloads keyed by channel name, plus a text fallback."""

    type: Literal["custom"] = "custom"
    raw: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None


class Typing(_Payload):
    type: Literal["typing"] = "typing"
    value: bool = True
    delay: int | None = None  # milliseconds


OutboundPayload = Annotated[
    Text
    | Image
    | Audio
    | Video
    | File
    | Location
    | Buttons
    | SingleChoice
    | Card
    | Carousel
    | AccountLinking
    | Custom
    | Typing,
    Field(discriminator="type"),
]
outbound_adapter: TypeAdapter[OutboundPayload] = TypeAdapter(OutboundPayload)


# ---------------------------------------------------------------- inbound (user → bot)


class Postback(_Payload):
    """A button click: `payload` is the button's fixed string; `text` what the user saw."""

    type: Literal["postback"] = "postback"
    payload: str
    text: str | None = None


class QuickReply(_Payload):
    type: Literal["quick_reply"] = "quick_reply"
    payload: str
    text: str | None = None


class Attachment(_Payload):
    """An inbound file the user sent (Botpress shape: `{type, url, title}`)."""

    type: Literal["image", "audio", "video", "file"]
    url: str
    title: str | None = None


class Event(_Payload):
    """A system event: `account_linked`, `agent_joined`, `agent_released`, `closed`…"""

    type: Literal["event"] = "event"
    event: str
    data: dict[str, Any] = Field(default_factory=dict)


InboundPayload = Annotated[
    Text | Postback | QuickReply | Attachment | Location | Event, Field(discriminator="type")
]
inbound_adapter: TypeAdapter[InboundPayload] = TypeAdapter(InboundPayload)


def text_of(payload: dict[str, Any]) -> str:
    """The best plain-text rendering of any payload (for logs, traces and text-only fallbacks)."""
    for key in ("text", "title", "payload", "event"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _type_names(union: Any) -> set[str]:
    names: set[str] = set()
    for model in get_args(get_args(union)[0]):
        names.update(get_args(model.model_fields["type"].annotation))
    return names


PAYLOAD_TYPES: tuple[str, ...] = tuple(
    sorted(
        _type_names(OutboundPayload)
        | _type_names(InboundPayload)
        | {"dropdown", "login_prompt", "markdown", "voice", "session_reset", "visit", "data"}
    )
)
"""Every payload `type` the REST API accepts in a message: ours and Botpress's content types."""

SYSTEM_EVENTS: tuple[str, ...] = ("account_linked", "agent_joined", "agent_released", "closed")
"""The system events a conversation's bot can be sent through the REST API."""
