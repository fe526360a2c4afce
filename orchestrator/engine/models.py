"""Pydantic v2 models of bot files (`bots/<id>.yaml`) and flow files (`flows/**/*.yaml`).

Every model forbids unknown keys and is frozen. Steps are a discriminated union keyed on
their *action key* (`say`, `ask`, … exactly one per step). Unions are discriminated by
callables so that a bad value reports one error, not one per union member, and so that
`BotFile.model_json_schema()` / `FlowFile.model_json_schema()` give editors a usable schema.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .diagnostics import did_you_mean
from .durations import parse_duration
from .hours import parse_days, parse_ranges

# ------------------------------------------------------------------ constants

ACTION_KEYS: tuple[str, ...] = (
    "say",
    "ask",
    "choose",
    "wait",
    "set",
    "if",
    "switch",
    "goto",
    "call",
    "return",
    "start",
    "http",
    "do",
    "handoff",
    "end",
)
WAITING_KINDS = frozenset({"ask", "choose", "wait", "handoff"})
KNOWN_HANDLERS = (
    "session_start",
    "no_match",
    "error",
    "timeout",
    "agent_released",
    "version_gone",
)
WRITABLE_SCOPES = ("flow", "conv", "user")
MSG_REF = re.compile(r"^msg\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VAR = re.compile(r"^([A-Za-z_]\w*)\.([A-Za-z_]\w*)(\.[A-Za-z_]\w*)*$")


def message_ref(value: Any) -> str | None:
    """The catalogue id when `value` is a `msg.<id>` reference, else None."""
    if isinstance(value, str) and "msg." in value:  # most texts are not references
        m = MSG_REF.match(value.strip())
        if m:
            return m.group(1)
    return None


# ------------------------------------------------------------------ scalar types


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise PydanticCustomError(
            "identifier",
            "'{value}' is not a valid id (letters, digits, '_' and '-', not starting with a digit)",
            {"value": value},
        )
    return value


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{error}", {"error": str(exc)}) from None


def _var_target(value: str) -> str:
    m = _VAR.match(value)
    if not m:
        raise PydanticCustomError(
            "var_target", "'{value}' is not a variable path like conv.email", {"value": value}
        )
    if m.group(1) not in WRITABLE_SCOPES:
        raise PydanticCustomError(
            "readonly_scope",
            "cannot write '{value}': only flow.*, conv.* and user.* are writable",
            {"value": value},
        )
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


Ident = Annotated[str, AfterValidator(_ident)]
StepRef = Annotated[str, AfterValidator(_ident), Field(description="a step id in the same flow")]
FlowRef = Annotated[str, AfterValidator(_ident), Field(description="a flow id")]
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "a duration: 800ms, 5s, 2m, 1h30m, 1d, or seconds",
        }
    ),
]
VarTarget = Annotated[
    str,
    AfterValidator(_var_target),
    WithJsonSchema({"type": "string", "pattern": r"^(flow|conv|user)(\.[A-Za-z_]\w*)+$"}),
]
Expression = Annotated[str, Field(description="a bare Jinja expression, e.g. conv.tries < 3")]
VarType = Literal["str", "int", "float", "bool", "email", "phone", "date", "enum", "list", "dict", "any"]
InputType = Literal["str", "int", "float", "bool", "email", "phone", "date", "enum", "attachment", "any"]
Outcome = Literal["resolved", "abandoned", "handed_off"]


class Strict(BaseModel):
    """Base of every file model: unknown keys rejected, immutable, aliases for keywords."""

    # strict: YAML already gives native types; lax mode would turn "yes"/"on" into True.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def _by_type(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


# ------------------------------------------------------------------ replies


class ButtonSpec(Strict):
    """A button: a postback (`payload`), a link (`url`) or a phone number (`phone`)."""

    title: str
    payload: str | None = None
    url: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ButtonSpec:
        if sum(x is not None for x in (self.payload, self.url, self.phone)) != 1:
            raise PydanticCustomError("button", "a button needs exactly one of payload, url or phone")
        return self


class QuickReplySpec(Strict):
    """A chip that disappears after use; `payload` is what comes back."""

    title: str
    payload: str


class ImageSpec(Strict):
    """An image by URL, with an optional alt text."""

    url: str
    alt: str | None = None


ImageField = Annotated[
    Annotated[str, Tag("str")] | Annotated[ImageSpec, Tag("object")],
    Discriminator(_by_type),
]


class FileSpec(Strict):
    """A file by URL, with an optional display name."""

    url: str
    name: str | None = None


FileField = Annotated[
    Annotated[str, Tag("str")] | Annotated[FileSpec, Tag("object")], Discriminator(_by_type)
]


class CardSpec(Strict):
    """One card: title, subtitle, image and buttons (several cards make a carousel)."""

    title: str
    subtitle: str | None = None
    image: ImageField | None = None
    buttons: list[ButtonSpec] = Field(default_factory=list)


class CardsFrom(Strict):
    """A data-driven carousel: one card per item of the expression `items`."""

    items: Expression
    as_: Ident = Field("item", alias="as")
    card: CardSpec
    limit: int = Field(10, ge=1, le=50)


class AccountLinkSpec(Strict):
    """A login link; the platform later reports `account_linked` (wait for it)."""

    text: str
    url: str
    button_text: str | None = None
    success_message: str | None = None
    view_title: str | None = None


class ReplyObject(Strict):
    """A reply built from parts; compiled to one or more canonical payloads."""

    when: Expression | None = None
    text: str | None = None
    markdown: bool | None = None
    buttons: list[ButtonSpec] = Field(default_factory=list)
    quick_replies: list[QuickReplySpec] = Field(default_factory=list)
    cards: list[CardSpec] = Field(default_factory=list)
    cards_from: CardsFrom | None = None
    image: ImageField | None = None
    file: FileField | None = None
    account_link: AccountLinkSpec | None = None
    typing: bool | Duration | None = None
    channel: dict[str, dict[str, Any]] | None = Field(
        None, description="raw per-channel payloads; `text` is the fallback for other channels"
    )

    @model_validator(mode="after")
    def _coherent(self) -> ReplyObject:
        if (self.buttons or self.quick_replies) and self.text is None:
            raise PydanticCustomError("reply", "buttons and quick_replies need a text")
        if self.cards and self.cards_from:
            raise PydanticCustomError("reply", "use either cards or cards_from, not both")
        if self.channel is not None and any(
            (
                self.buttons,
                self.quick_replies,
                self.cards,
                self.cards_from,
                self.image,
                self.file,
                self.account_link,
            )
        ):
            raise PydanticCustomError("reply", "channel can only be combined with text")
        if not any(
            (
                self.text is not None,
                self.cards,
                self.cards_from,
                self.image,
                self.file,
                self.account_link,
                self.typing,
                self.channel,
            )
        ):
            raise PydanticCustomError("reply", "a reply needs text, cards, image, file, …")
        return self


Reply = Annotated[
    Annotated[str, Tag("str")] | Annotated[ReplyObject, Tag("object")],
    Discriminator(_by_type),
    Field(description="a message id (msg.xxx), a text template, or a reply object"),
]
Replies = Annotated[
    Annotated[str, Tag("str")] | Annotated[list[Reply], Tag("list")] | Annotated[ReplyObject, Tag("object")],
    Discriminator(_by_type),
]


class MessageVariants(Strict):
    """Catalogue entry with variants: the first whose `when` holds, in rotation."""

    variants: list[Reply] = Field(min_length=1)


def _entry_tag(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict) and "variants" in value:
        return "variants"
    return "object"


MessageEntry = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[MessageVariants, Tag("variants")]
    | Annotated[ReplyObject, Tag("object")],
    Discriminator(_entry_tag),
]


# ------------------------------------------------------------------ triggers


class PayloadTrigger(Strict):
    """Matches a button/quick-reply payload exactly (or a prefix ending with *)."""

    payload: str = Field(description="exact payload, or a prefix ending with * (PLAN:*)")


class RegexTrigger(Strict):
    """Matches the message text with a regular expression (search)."""

    regex: str

    @model_validator(mode="after")
    def _compiles(self) -> RegexTrigger:
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise PydanticCustomError("regex", "invalid regex: {error}", {"error": str(exc)}) from None
        return self


class KeywordsTrigger(Strict):
    """Matches words or phrases, case- and accent-insensitive, optionally typo tolerant."""

    keywords: list[str] = Field(min_length=1)
    fuzzy: bool | None = Field(None, description="typo tolerant (default: matchers.fuzzy)")


class ExamplesTrigger(Strict):
    """Matches a message by meaning: how close it is to one of these example utterances."""

    examples: list[str] = Field(min_length=1, description="what users say for this intent")
    threshold: float | None = Field(
        None, ge=0, le=1, description="the score (0-1) a message needs (default: matchers.threshold)"
    )


class EventTrigger(Strict):
    """Matches a system event by name (account_linked, …)."""

    event: str


def _trigger_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("payload", "regex", "keywords", "event", "examples"):
            if key in value:
                return key
        return None
    return getattr(value, "KIND", None) or type(value).__name__.removesuffix("Trigger").lower()


Trigger = Annotated[
    Annotated[PayloadTrigger, Tag("payload")]
    | Annotated[RegexTrigger, Tag("regex")]
    | Annotated[KeywordsTrigger, Tag("keywords")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[ExamplesTrigger, Tag("examples")],
    Discriminator(
        _trigger_tag,
        custom_error_type="trigger",
        custom_error_message="a trigger needs one of payload, regex, keywords, event or examples",
    ),
]


# ------------------------------------------------------------------ steps


class StepBase(Strict):
    """Fields every step may have besides its action key."""

    KIND: ClassVar[str] = ""
    id: Ident | None = Field(None, description="required on waiting steps")
    when: Expression | None = Field(None, description="guard: the step is skipped if false")
    goto: StepRef | None = Field(None, description="where to go after this step")
    next: StepRef | None = Field(None, description="synonym of goto")

    @model_validator(mode="after")
    def _one_jump(self) -> StepBase:
        if self.goto is not None and self.next is not None:
            raise PydanticCustomError("jump", "use goto or next, not both")
        return self

    @property
    def jump(self) -> str | None:
        """The explicit next step (`goto`/`next`), if any."""
        return self.goto or self.next


class SayStep(StepBase):
    """Send one reply or a list of replies."""

    KIND: ClassVar[str] = "say"
    say: Replies


class Check(Strict):
    """A validation of an answer; `invalid` is sent instead of the prompt when it fails."""

    check: Expression = Field(description="must be true for the value (`value` is bound)")
    invalid: Reply | None = None


class EnumValue(Strict):
    """An allowed value of an enum answer, with synonyms."""

    value: str
    synonyms: list[str] = Field(default_factory=list)


EnumItem = Annotated[
    Annotated[str, Tag("str")] | Annotated[EnumValue, Tag("object")], Discriminator(_by_type)
]


Attempts = Annotated[
    Annotated[int, Field(ge=1, le=20), Tag("object")] | Annotated[Literal["unlimited"], Tag("str")],
    Discriminator(_by_type),
    Field(description="answers taken before on_fail (1-20), or unlimited: ask until answered"),
]


def _correction_regex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError("regex", "invalid regex: {error}", {"error": str(exc)}) from None
    return value


Correctable = Annotated[
    Annotated[bool, Tag("object")] | Annotated[str, AfterValidator(_correction_regex), Tag("str")],
    Discriminator(_by_type),
    Field(
        description="true: 'actually make it 40' / 'sorry, I meant Joe' at a later question of "
        "this flow corrects the value; or a regex whose group 'value' is the new value"
    ),
]


class AskSpec(Strict):
    """A question with its retry ladder (see the `ask` step)."""

    prompt: Reply
    into: VarTarget
    type: InputType = "str"
    values: list[EnumItem] | None = None
    validate_: list[Check] = Field(default_factory=list, alias="validate")
    invalid: Reply | None = None
    reprompts: list[Reply] = Field(default_factory=list)
    max_attempts: Attempts = 3
    on_fail: Branch | None = None
    timeout: Duration | None = None
    on_timeout: Branch | None = None
    skip_if_set: bool = False
    prefill: bool = Field(
        False,
        description="take a valid value of the ask's type from the user's message that led "
        'here ("table for 4" fills an int) instead of asking; not for str asks',
    )
    interruptible: bool | None = None
    correctable: Correctable = False
    triggers_first: bool | None = Field(
        None,
        description="a matching trigger wins over the answer; the question is asked again after "
        "the digression (default: the flow's triggers_first)",
    )

    @model_validator(mode="after")
    def _enum_values(self) -> AskSpec:
        if (self.type == "enum") != bool(self.values):
            raise PydanticCustomError("enum", "type: enum goes with a non-empty values list")
        return self


class AskStep(StepBase):
    """Ask a question and store the typed, validated answer (waits)."""

    KIND: ClassVar[str] = "ask"
    ask: AskSpec


class Option(Strict):
    """A choice: its payload, what it sets, and where it goes."""

    title: str
    payload: str
    keywords: list[str] = Field(default_factory=list)
    when: Expression | None = None
    set: dict[VarTarget, Any] | None = None
    goto: StepRef | None = None
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Option:
        if self.goto is not None and self.steps is not None:
            raise PydanticCustomError("option", "an option has goto or steps, not both")
        return self


class ChooseSpec(Strict):
    """A prompt with options shown as buttons, quick replies or a numbered list."""

    prompt: Reply
    style: Literal["buttons", "quick_replies", "list"] = "buttons"
    options: list[Option] = Field(min_length=1)
    into: VarTarget | None = None
    on_other: Branch | None = None
    invalid: Reply | None = None
    max_attempts: Attempts = 3
    on_fail: Branch | None = None
    timeout: Duration | None = None
    on_timeout: Branch | None = None
    interruptible: bool | None = None


class ChooseStep(StepBase):
    """Offer options and branch on the one picked (waits)."""

    KIND: ClassVar[str] = "choose"
    choose: ChooseSpec


class WaitSpec(Strict):
    """What to wait for: an event (or any_message), or a duration."""

    event: str | None = Field(None, description="an event name, or any_message")
    duration: Duration | None = None
    timeout: Duration | None = None
    on_timeout: Branch | None = None
    into: VarTarget | None = None
    on_other: Branch | None = None
    interruptible: bool | None = None

    @model_validator(mode="after")
    def _what(self) -> WaitSpec:
        if (self.event is None) == (self.duration is None):
            raise PydanticCustomError("wait", "wait needs exactly one of event or duration")
        if self.duration is not None and self.timeout is not None:
            raise PydanticCustomError("wait", "a duration wait has no timeout")
        return self


class WaitStep(StepBase):
    """Wait for an event, any message, or a duration (waits)."""

    KIND: ClassVar[str] = "wait"
    wait: WaitSpec


class SetStep(StepBase):
    """Set variables (values are templates) and unset others."""

    KIND: ClassVar[str] = "set"
    set: dict[VarTarget, Any] = Field(default_factory=dict)
    unset: list[VarTarget] = Field(default_factory=list)


class IfStep(StepBase):
    """Branch on a condition."""

    KIND: ClassVar[str] = "if"
    if_: Expression = Field(alias="if")
    then: Branch | None = None
    else_: Branch | None = Field(None, alias="else")


class SwitchCase(Strict):
    """One case of a switch: `when` + goto/steps, or a final `else`."""

    when: Expression | None = None
    else_: Branch | None = Field(None, alias="else")
    goto: StepRef | None = None
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _shape(self) -> SwitchCase:
        if self.else_ is not None:
            if self.when is not None or self.goto is not None or self.steps is not None:
                raise PydanticCustomError("switch", "an else case has only `else`")
        elif self.when is None or (self.goto is None) == (self.steps is None):
            raise PydanticCustomError("switch", "a case has `when` and one of goto or steps")
        return self


class SwitchStep(StepBase):
    """Take the first case whose condition holds."""

    KIND: ClassVar[str] = "switch"
    switch: list[SwitchCase] = Field(min_length=1)


class GotoStep(StepBase):
    """Jump to a step of the same flow."""

    KIND: ClassVar[str] = "goto"
    goto: StepRef


class CallStep(StepBase):
    """Run a flow with parameters and come back; its return value goes to `into`."""

    KIND: ClassVar[str] = "call"
    call: FlowRef
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    into: VarTarget | None = None


class ReturnStep(StepBase):
    """End the current flow, returning a value to the caller."""

    KIND: ClassVar[str] = "return"
    return_: Any = Field(alias="return")


class StartStep(StepBase):
    """Hand over to another flow: the whole stack is replaced."""

    KIND: ClassVar[str] = "start"
    start: FlowRef
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class HttpSpec(Strict):
    """An outbound HTTP call; `into` receives {status, json, text, headers}."""

    method: Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], BeforeValidator(_upper)] = (
        "GET"
    )
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Any] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    form: dict[str, Any] | None = None
    timeout: Duration = 10.0
    retries: int = Field(0, ge=0, le=5)
    into: VarTarget | None = None
    on_error: Branch | None = Field(None, description="network errors, timeouts and 5xx")

    @model_validator(mode="after")
    def _one_body(self) -> HttpSpec:
        if self.json_ is not None and self.form is not None:
            raise PydanticCustomError("http", "use json or form, not both")
        return self


class HttpStep(StepBase):
    """Call an HTTP API (env.* is readable here)."""

    KIND: ClassVar[str] = "http"
    http: HttpSpec


class DoStep(StepBase):
    """Run a registered Python action."""

    KIND: ClassVar[str] = "do"
    do: Ident
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    into: VarTarget | None = None
    on_error: Branch | None = None


class HandoffSpec(Strict):
    """Where and how to hand over to a person, and the branches around it."""

    queue: str = "default"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    summary: str | None = None
    tags: list[str] = Field(default_factory=list)
    check_hours: bool = False
    when_closed: Branch | None = None
    when_no_agents: Branch | None = None
    on_released: Branch | None = None


def _empty_spec(value: Any) -> Any:
    return {} if value is None else value


class HandoffStep(StepBase):
    """Hand the conversation to the support desk (waits until released)."""

    KIND: ClassVar[str] = "handoff"
    handoff: Annotated[HandoffSpec, BeforeValidator(_empty_spec)]


class EndStep(StepBase):
    """End the conversation with an outcome (default resolved)."""

    KIND: ClassVar[str] = "end"
    end: Outcome | None


STEP_MODELS: dict[str, type[StepBase]] = {
    m.KIND: m
    for m in (
        SayStep,
        AskStep,
        ChooseStep,
        WaitStep,
        SetStep,
        IfStep,
        SwitchStep,
        GotoStep,
        CallStep,
        ReturnStep,
        StartStep,
        HttpStep,
        DoStep,
        HandoffStep,
        EndStep,
    )
}


def action_keys(value: dict[str, Any]) -> list[str]:
    """The action keys present in a raw step mapping (`unset` counts as `set`)."""
    keys = [k for k in ACTION_KEYS if k in value and k != "goto"]
    if "unset" in value and "set" not in keys:
        keys.append("set")
    if not keys and ("goto" in value or "next" in value):
        keys.append("goto")
    return keys


def _step_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = action_keys(value)
        return keys[0] if len(keys) == 1 else None
    return getattr(value, "KIND", None)


def _check_action(value: Any) -> Any:
    if isinstance(value, dict):
        keys = action_keys(value)
        if not keys:
            unknown = [k for k in value if k not in StepBase.model_fields]
            hint = did_you_mean(unknown[0], ACTION_KEYS) if unknown else ""
            raise PydanticCustomError(
                "step_action",
                "step has no action key; expected one of {expected}{hint}",
                {"expected": ", ".join(ACTION_KEYS), "hint": hint},
            )
        if len(keys) > 1:
            raise PydanticCustomError(
                "step_action",
                "step has several action keys ({keys}); split it into one step per action",
                {"keys": ", ".join(keys)},
            )
    return value


Step = Annotated[
    Annotated[
        Annotated[SayStep, Tag("say")]
        | Annotated[AskStep, Tag("ask")]
        | Annotated[ChooseStep, Tag("choose")]
        | Annotated[WaitStep, Tag("wait")]
        | Annotated[SetStep, Tag("set")]
        | Annotated[IfStep, Tag("if")]
        | Annotated[SwitchStep, Tag("switch")]
        | Annotated[GotoStep, Tag("goto")]
        | Annotated[CallStep, Tag("call")]
        | Annotated[ReturnStep, Tag("return")]
        | Annotated[StartStep, Tag("start")]
        | Annotated[HttpStep, Tag("http")]
        | Annotated[DoStep, Tag("do")]
        | Annotated[HandoffStep, Tag("handoff")]
        | Annotated[EndStep, Tag("end")],
        Discriminator(_step_tag),
    ],
    BeforeValidator(_check_action),
]

Branch = Annotated[
    Annotated[StepRef, Tag("str")] | Annotated[list[Step], Tag("list")] | Annotated[Step, Tag("object")],
    Discriminator(_by_type),
    Field(description="a step id, one inline step, or a list of inline steps"),
]


# ------------------------------------------------------------------ flows and handlers


class Handler(Strict):
    """A global or flow-level handler: runs a flow or inline steps."""

    description: str | None = None
    flow: FlowRef | None = None
    steps: list[Step] | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    always: bool = Field(False, description="checked before a waiting step consumes input")
    triggers: list[Trigger] = Field(default_factory=list)
    priority: int = 0

    @model_validator(mode="after")
    def _one_body(self) -> Handler:
        if (self.flow is None) == (self.steps is None):
            raise PydanticCustomError("handler", "a handler has exactly one of flow or steps")
        return self


class ParamDecl(Strict):
    """A flow parameter (`flow.<name>` inside the flow)."""

    type: VarType = "any"
    default: Any = None
    required: bool | None = Field(None, description="default: true when there is no default")

    @property
    def is_required(self) -> bool:
        """Required unless it has a default (or says otherwise)."""
        return self.required if self.required is not None else self.default is None


class Flow(Strict):
    """A flow: triggers, guard, parameters, steps and flow-level handlers."""

    description: str | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    when: Expression | None = None
    priority: int = 0
    params: dict[Ident, ParamDecl] = Field(default_factory=dict)
    interruptible: bool = True
    after_interruption: Literal["drop", "resume", "ask"] = Field(
        "drop",
        description="when a new topic interrupted a question of this flow and has ended: drop this "
        "flow, resume (ask the question again) or ask whether to go back (an aside always resumes)",
    )
    resume_prompt: Reply | None = Field(None, description="with after_interruption: ask, the question")
    triggers_first: bool = Field(
        False, description="in every ask of this flow, a matching trigger wins over the answer"
    )
    steps: list[Step] = Field(min_length=1)
    handlers: dict[Ident, Handler] = Field(default_factory=dict)


class FlowFile(Strict):
    """A flow file: `version: 1`, `flows:`, and optionally messages and translations."""

    version: Literal[1]
    flows: dict[Ident, Flow] = Field(default_factory=dict)
    messages: dict[str, MessageEntry] = Field(default_factory=dict)
    translations: dict[str, dict[str, MessageEntry]] = Field(default_factory=dict)


# ------------------------------------------------------------------ bot file


class VariableDecl(Strict):
    """A declared conv.* or user.* variable."""

    type: VarType = "any"
    default: Any = None
    persist: bool = Field(False, description="user.* only: kept across conversations")
    values: list[str] | None = None
    description: str | None = None


DaySpec = Annotated[Annotated[str, Tag("str")] | Annotated[list[str], Tag("list")], Discriminator(_by_type)]


class BusinessHours(BaseModel):
    """`{mon-fri: "09:00-18:00", sat: "10:00-12:00", holidays: ["2024-12-25"]}`."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    __pydantic_extra__: dict[str, DaySpec]
    holidays: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _parse(self) -> BusinessHours:
        from datetime import date

        for key, value in (self.__pydantic_extra__ or {}).items():
            try:
                parse_days(key)
                parse_ranges(value)
            except ValueError as exc:
                raise PydanticCustomError("hours", "{error}", {"error": str(exc)}) from None
        for h in self.holidays:
            try:
                date.fromisoformat(h)
            except ValueError:
                raise PydanticCustomError(
                    "hours", "holiday '{h}' is not an ISO date (2024-12-25)", {"h": h}
                ) from None
        return self

    @property
    def days(self) -> dict[str, str | list[str]]:
        """The day specs (every key but holidays)."""
        return dict(self.__pydantic_extra__ or {})


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "hours", "unknown timezone '{tz}' (use an IANA name like Europe/Paris)", {"tz": value}
        ) from None
    return value


class Limits(Strict):
    """Per-turn step budget and session inactivity timeout."""

    max_steps_per_turn: int = Field(100, ge=1, le=10_000)
    session_timeout: Duration | None = None


class Matchers(Strict):
    """Which built-in matchers are on, and their defaults."""

    keywords: bool = True
    regex: bool = True
    fuzzy: bool = Field(False, description="default typo tolerance of keyword triggers")
    model: Literal["lexical", "embeddings"] = Field(
        "lexical", description="how examples triggers match: lexical, or embeddings (the embeddings extra)"
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="the default score examples triggers need (lexical 0.5, embeddings 0.6)"
    )


class BotSettings(Strict):
    """The `bot:` section: id, locales, timezone, business hours, limits."""

    id: Ident
    name: str | None = None
    description: str | None = None
    default_locale: str = "en"
    locales: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    business_hours: BusinessHours | None = None
    limits: Limits = Field(default_factory=Limits)


def _str_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class BotFile(Strict):
    """A bot file: `version: 1`, settings, flow globs, variables, handlers, messages."""

    version: Literal[1]
    bot: BotSettings
    flows: Annotated[list[str], BeforeValidator(_str_list)] = Field(min_length=1)
    actions: str | None = Field(None, description="bots/x_actions.py or a dotted module")
    variables: dict[str, VariableDecl] = Field(default_factory=dict)
    matchers: Matchers = Field(default_factory=Matchers)
    handlers: dict[Ident, Handler] = Field(default_factory=dict)
    messages: dict[str, MessageEntry] = Field(default_factory=dict)
    translations: dict[str, dict[str, MessageEntry]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _variables(self) -> BotFile:
        for name, decl in self.variables.items():
            m = _VAR.match(name)
            if not m or m.group(1) not in ("conv", "user") or m.group(3):
                raise PydanticCustomError(
                    "variable_decl",
                    "variable '{name}' must be conv.<name> or user.<name>",
                    {"name": name},
                )
            if decl.persist and m.group(1) != "user":
                raise PydanticCustomError(
                    "variable_decl", "only user.* variables can persist ('{name}')", {"name": name}
                )
        return self


for _model in (
    *STEP_MODELS.values(),
    AskSpec,
    ChooseSpec,
    WaitSpec,
    Option,
    SwitchCase,
    HttpSpec,
    DoStep,
    HandoffSpec,
    Handler,
    Flow,
    FlowFile,
    BotFile,
):
    _model.model_rebuild()  # type: ignore[attr-defined]


def bot_file_schema() -> dict[str, Any]:
    """JSON Schema of bot files (for yaml-language-server / editors)."""
    return BotFile.model_json_schema()


def flow_file_schema() -> dict[str, Any]:
    """JSON Schema of flow files."""
    return FlowFile.model_json_schema()
