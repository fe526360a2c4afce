"""The `*.test.yaml` file format: strict pydantic models that validate test files and generate
their JSON Schema (`orchestrator schema`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from .. import models as M

DEFAULT_CLOCK = "2024-06-03T10:00:00+00:00"  # a Monday morning


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class PayloadInput(_Strict):
    """A button or quick-reply click."""

    payload: str
    text: str | None = Field(None, description="the title the user saw")
    quick_reply: bool = Field(False, description="send a quick_reply instead of a button postback")


class EventInput(_Strict):
    """A system event: account_linked, agent_joined, agent_released, closed…"""

    event: str
    data: dict[str, Any] = Field(default_factory=dict)


class AttachmentSpec(_Strict):
    """A file the user sends."""

    type: Literal["image", "audio", "video", "file"] = "image"
    url: str
    title: str | None = None


def _by_type(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


class AttachmentInput(_Strict):
    """`{attachment: https://…/photo.png}` or `{attachment: {type, url, title}}`."""

    attachment: Annotated[
        Annotated[str, Tag("str")] | Annotated[AttachmentSpec, Tag("object")], Discriminator(_by_type)
    ]


def _input_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        for key in ("payload", "event", "attachment"):
            if key in value:
                return key
    return None


UserInput = Annotated[
    Annotated[str, Tag("text")]
    | Annotated[PayloadInput, Tag("payload")]
    | Annotated[EventInput, Tag("event")]
    | Annotated[AttachmentInput, Tag("attachment")],
    Discriminator(
        _input_tag,
        custom_error_type="user_input",
        custom_error_message="a user turn is a text, {payload: …}, {event: …} or {attachment: …}",
    ),
]


class ButtonExpect(_Strict):
    """A button or quick reply: any of its title, payload or url."""

    title: str | None = None
    payload: str | None = None
    url: str | None = None


ButtonItem = Annotated[
    Annotated[str, Tag("str")] | Annotated[ButtonExpect, Tag("object")], Discriminator(_by_type)
]


class CardsExpect(_Strict):
    """A card or a carousel: how many cards, and their titles."""

    count: int | None = None
    titles: list[str] | None = None


class LinkExpect(_Strict):
    """An account-linking message."""

    url: str | None = None
    url_matches: str | None = None
    text: str | None = None
    text_contains: str | None = None


class ImageExpect(_Strict):
    """An image message."""

    url: str | None = None
    url_matches: str | None = None


class BotMessage(_Strict):
    """What one bot message must be like; every key given must hold."""

    type: str | None = Field(None, description="payload type: text, buttons, single-choice, carousel…")
    text: str | None = Field(None, description="the whole text")
    text_contains: str | None = None
    text_matches: str | None = Field(None, description="a regular expression (search)")
    msg: str | None = Field(None, description="the text of any variant of this catalogue message")
    buttons: list[ButtonItem] | None = Field(None, description="button titles (or {title, payload, url})")
    quick_replies: list[ButtonItem] | None = None
    cards: CardsExpect | None = None
    account_link: bool | LinkExpect | None = None
    image: (
        Annotated[
            Annotated[bool, Tag("bool")] | Annotated[str, Tag("str")] | Annotated[ImageExpect, Tag("object")],
            Discriminator(lambda v: "bool" if isinstance(v, bool) else _by_type(v)),
        ]
        | None
    ) = None
    none: bool | None = Field(None, description="true: the bot sent nothing (more) in this turn")
    any: bool | None = Field(None, description="true: any one message")

    @model_validator(mode="after")
    def _something(self) -> BotMessage:
        if not self.model_fields_set:
            raise ValueError("say what the message must be like (text, text_contains, buttons, any…)")
        if self.none and len(self.model_fields_set) > 1:
            raise ValueError("none: true stands alone")
        return self


BotItemValue = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[BotMessage, Tag("object")]
    | Annotated[
        list[
            Annotated[
                Annotated[str, Tag("str")] | Annotated[BotMessage, Tag("object")], Discriminator(_by_type)
            ]
        ],
        Tag("list"),
    ],
    Discriminator(_by_type),
]


class HttpRequestMatch(_Strict):
    """Which requests a mock answers (or `http_called` expects); every key given must hold."""

    method: str | None = None
    url: str | None = Field(None, description="a glob: * matches anything (include ?… to match the query)")
    query: dict[str, Any] | None = None
    json_: Any = Field(None, alias="json", description="the JSON body (objects: the keys given)")
    form: dict[str, Any] | None = Field(None, description="the form-encoded body: the fields given")
    headers: dict[str, str] | None = None


class HttpResponseSpec(_Strict):
    """The mocked response."""

    status: int = 200
    json_: Any = Field(None, alias="json")
    text: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class HttpMock(_Strict):
    """A mocked HTTP call: a request pattern and a response, or an error (network, timeout)."""

    request: HttpRequestMatch = Field(default_factory=HttpRequestMatch)
    response: HttpResponseSpec | None = None
    error: str | None = Field(None, description="fail without a response, e.g. 'timeout'")
    times: int | None = Field(None, ge=1, description="answer at most this many calls")

    @model_validator(mode="after")
    def _one(self) -> HttpMock:
        if (self.response is None) == (self.error is None):
            raise ValueError("an http mock has exactly one of response or error")
        return self


class ActionMock(_Strict):
    """What a mocked action returns, or the error it raises."""

    returns: Any = None
    error: str | None = None


ActionMocks = Annotated[
    Annotated[ActionMock, Tag("object")] | Annotated[list[ActionMock], Tag("list")],
    Discriminator(_by_type),
    Field(description="one result, or a list used call after call (the last repeats)"),
]


class Mocks(_Strict):
    """HTTP calls and actions the test answers."""

    http: list[HttpMock] = Field(default_factory=list)
    actions: dict[str, ActionMocks] = Field(default_factory=dict)


CalledValue = Annotated[
    Annotated[bool, Tag("bool")] | Annotated[int, Tag("int")] | Annotated[dict[str, Any], Tag("object")],
    Discriminator(lambda v: "bool" if isinstance(v, bool) else "int" if isinstance(v, int) else "object"),
]


class HandoffExpect(_Strict):
    """The handoff: its state and the request the bot made."""

    state: Literal["bot", "pending", "agent", "released", "closed"] | None = None
    queue: str | None = None
    priority: str | None = None
    summary: str | None = None
    summary_contains: str | None = None
    tags: list[str] | None = None


class Expect(_Strict):
    """State assertions after the turns so far; every key given must hold."""

    vars: dict[str, Any] | None = Field(None, description="conv.x, user.x or flow.x (top flow) values")
    flow: str | None = Field(None, description="the flow running now (null: none)")
    step: str | None = Field(None, description="the step it waits at (null: none)")
    waiting: bool | None = None
    handoff: (
        Annotated[
            Annotated[str, Tag("str")] | Annotated[HandoffExpect, Tag("object")], Discriminator(_by_type)
        ]
        | None
    ) = Field(None, description="null: the bot has the conversation; a state; or {queue, …}")
    ended: M.Outcome | None = Field(None, description="the outcome of the last end so far (null: none)")
    called: dict[str, CalledValue] | None = Field(
        None, description="action: true, false, a count, or params it was called with"
    )
    http_called: (
        Annotated[
            Annotated[int, Tag("int")] | Annotated[list[HttpRequestMatch], Tag("list")],
            Discriminator(lambda v: "int" if isinstance(v, int) else "list"),
        ]
        | None
    ) = None
    trace_contains: (
        Annotated[Annotated[str, Tag("str")] | Annotated[list[str], Tag("list")], Discriminator(_by_type)]
        | None
    ) = None
    error: str | None = Field(None, description="the last turn failed with this (part of a) message")
    intent: str | None = Field(
        None, description="the flow (or handler) an examples trigger matched in the last turn (null: none)"
    )

    @model_validator(mode="after")
    def _something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("expect needs at least one assertion")
        return self


class UserItem(_Strict):
    """A user turn."""

    user: UserInput


class BotItem(_Strict):
    """Bot message assertions."""

    bot: BotItemValue


class WaitItem(_Strict):
    """Move the virtual clock; timers that fall due fire, in order."""

    wait: M.Duration


class ExpectItem(_Strict):
    """State assertions."""

    expect: Expect


def _item_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("user", "bot", "wait", "expect"):
            if key in value:
                return key
    return None


Item = Annotated[
    Annotated[UserItem, Tag("user")]
    | Annotated[BotItem, Tag("bot")]
    | Annotated[WaitItem, Tag("wait")]
    | Annotated[ExpectItem, Tag("expect")],
    Discriminator(
        _item_tag,
        custom_error_type="conversation_item",
        custom_error_message="a conversation item is one of user, bot, wait or expect",
    ),
]


class Given(_Strict):
    """The state a test starts from."""

    clock: str | None = Field(None, description="ISO 8601 date-time with an offset")
    conv: dict[str, Any] = Field(default_factory=dict, description="conv.* values (a session is running)")
    flow: dict[str, Any] = Field(
        default_factory=dict,
        description="flow.* values: params of start_at's flow, else of the conversation's first flow",
    )
    version_gone: bool = Field(
        False,
        description="the conversation was left waiting by an older bot version at a step this one does not "
        "have: the first input runs the version_gone handler",
    )
    user: dict[str, Any] = Field(default_factory=dict, description="stored user.* values")
    channel: str | None = None
    locale: str | None = None
    agents_available: bool | None = None
    env: dict[str, str] = Field(default_factory=dict)


class StartAt(_Strict):
    """Start mid-flow: the flow runs from this step (its entry by default) before the first item."""

    flow: str
    step: str | None = None


class Defaults(_Strict):
    """Settings every test of the file starts from."""

    channel: str = "webchat"
    locale: str | None = None
    clock: str | None = Field(None, description=f"ISO 8601 date-time (default {DEFAULT_CLOCK})")
    agents_available: bool = True
    env: dict[str, str] = Field(default_factory=dict, description="the env.* values flows read")
    user: dict[str, Any] = Field(default_factory=dict)
    mocks: Mocks = Field(default_factory=Mocks)


class ConversationTest(_Strict):
    """One conversation."""

    name: str
    skip: bool | str = False
    given: Given = Field(default_factory=Given)
    start_at: StartAt | None = None
    mocks: Mocks = Field(default_factory=Mocks)
    conversation: list[Item] = Field(min_length=1)


class TestFileModel(_Strict):
    """A `*.test.yaml` file."""

    __test__ = False  # not a pytest class
    version: Literal[1]
    bot: str | None = Field(None, description="the bot id (default: the bot whose flows are in this folder)")
    defaults: Defaults = Field(default_factory=Defaults)
    tests: list[ConversationTest] = Field(min_length=1)


def test_file_schema() -> dict[str, Any]:
    """JSON Schema of test files."""
    return TestFileModel.model_json_schema()


test_file_schema.__test__ = False  # type: ignore[attr-defined]


# every key a test file may use, for did-you-mean hints on unknown keys
KNOWN_KEYS = {
    (info.alias or name)
    for model in (
        TestFileModel,
        Defaults,
        ConversationTest,
        Given,
        StartAt,
        Mocks,
        HttpMock,
        HttpRequestMatch,
        HttpResponseSpec,
        ActionMock,
        Expect,
        HandoffExpect,
        BotMessage,
        ButtonExpect,
        CardsExpect,
        LinkExpect,
        ImageExpect,
        PayloadInput,
        EventInput,
        AttachmentSpec,
        UserItem,
        BotItem,
        WaitItem,
        ExpectItem,
    )
    for name, info in model.model_fields.items()
}
