"""Conversation tests (`*.test.yaml` next to the flows) and their runner, `orchestrator test`.

A test drives the production `Engine` in process, turn by turn, with an injected virtual
clock, a mocked `HttpPort` and mocked actions (an unmocked call fails the test), and checks
the bot's messages and the conversation's state. The file format (see `TestFileModel`, and
`orchestrator schema` for editors):

    version: 1
    bot: support-desk                 # optional: inferred from the flows next to the file
    defaults: {channel: webchat, locale: en, clock: "2024-06-03T10:00:00+02:00",
               env: {ORDERS_API_URL: "https://orders.test"}, mocks: {...}}
    tests:
      - name: order found
        given: {conv: {order_id: A12345}, clock: ..., agents_available: false}
        start_at: {flow: order_status, step: lookup}      # start mid-flow
        mocks:
          http:
            - request: {method: GET, url: "*/orders/A12345"}
              response: {status: 200, json: {id: A12345, status: shipped}}
          actions:
            create_ticket: {returns: {id: T-1}}
        conversation:
          - user: hello                                   # text, {payload}, {event, data}, {attachment}
          - bot: "Order A12345 is shipped."               # or {text_contains}, {buttons}, a list…
          - wait: 11m                                     # the virtual clock fires due timers
          - expect: {vars: {conv.order_id: A12345}, flow: null, ended: resolved}

A `bot:` item checks the next message of the current bot turn (the replies to the last input);
a list checks several in a row; `{none: true}` says nothing more came.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import fnmatch
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from . import diagnostics as D
from . import models as M
from .actions import ActionContext, ActionRegistry
from .checker import CheckResult, check_bot
from .compiled import BotVersion
from .coverage import Coverage
from .diagnostics import Diagnostic, did_you_mean
from .http import HttpError, HttpRequest, HttpResponse
from .runtime import Engine, HandoffRequest, Timer, TurnInput, TurnResult
from .state import ConvState
from .trace_format import describe_input, describe_reply, format_trace
from .yaml_loader import SourceMap, parse_yaml

DEFAULT_CLOCK = "2024-06-03T10:00:00+00:00"  # a Monday morning
TEST_SUFFIXES = (".test.yaml", ".test.yml")
MAX_TIMERS_PER_WAIT = 50

# ------------------------------------------------------------------ the file format


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
    flow: dict[str, Any] = Field(default_factory=dict, description="flow.* values / params for start_at")
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


for _model in (BotMessage, Expect, HttpMock, Mocks, ConversationTest, TestFileModel):
    _model.model_rebuild()


def test_file_schema() -> dict[str, Any]:
    """JSON Schema of test files."""
    return TestFileModel.model_json_schema()


test_file_schema.__test__ = False  # type: ignore[attr-defined]

_TEST_FILE = TypeAdapter(TestFileModel)
_VOCABULARY = {
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


# ------------------------------------------------------------------ loading


@dataclass
class LoadedTestFile:
    """A parsed test file with its positions and its problems."""

    path: Path
    display: str
    model: TestFileModel | None
    source: SourceMap
    diagnostics: list[Diagnostic]
    __test__ = False


def load_test_file(path: Path, root: Path) -> LoadedTestFile:
    """Parse and validate one test file (diagnostics instead of exceptions)."""
    display = _display(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        diag = Diagnostic(display, 0, 0, "error", D.E_FILE, str(exc))
        return LoadedTestFile(path, display, None, SourceMap(display), [diag])
    parsed = parse_yaml(text, display)
    diags = list(parsed.diagnostics)
    if parsed.data is None or diags:
        if not diags:
            diags.append(Diagnostic(display, 1, 1, "error", D.E_VERSION, "empty file"))
        return LoadedTestFile(path, display, None, parsed.source, diags)
    try:
        model = _TEST_FILE.validate_python(parsed.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            diags.append(_schema_diagnostic(err, parsed.source))
        return LoadedTestFile(path, display, None, parsed.source, _unique(diags))
    return LoadedTestFile(path, display, model, parsed.source, diags)


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags), key=lambda d: (d.line, d.col, d.code, d.message))


def _schema_diagnostic(err: Any, source: SourceMap) -> Diagnostic:
    loc = tuple(err["loc"])
    kind, msg = err["type"], err["msg"]
    path = source.resolve_loc(loc)
    last = loc[-1] if loc else ""
    key = False
    code = {"extra_forbidden": D.E_UNKNOWN_KEY, "missing": D.E_MISSING}.get(kind, D.E_INVALID)
    if loc == ("version",):
        code = D.E_VERSION
        msg = (
            "the file must start with 'version: 1'"
            if kind == "missing"
            else "unsupported version (expected 1)"
        )
    elif kind == "extra_forbidden":
        key = True
        msg = f"unknown key '{last}'{did_you_mean(str(last), _VOCABULARY)}"
    elif kind == "missing":
        msg = f"missing required key '{last}'"
    elif isinstance(last, str) and last and not last[:1].isupper():
        msg = f"'{last}': {msg}"
    line, col = source.pos(path, key=key)
    return Diagnostic(source.file, line, col, "error", code, msg)


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def find_test_files(paths: Sequence[Path]) -> list[Path]:
    """`*.test.yaml` files: the files given, and those under the folders given."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(TEST_SUFFIXES)))
        elif p.is_file():
            found.append(p)
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def project_root(path: Path, default: Path) -> Path:
    """The folder holding `bots/` above `path` (the default when there is none)."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if (parent / "bots").is_dir():
            return parent
    return default.resolve()


# ------------------------------------------------------------------ results


@dataclass
class TestOutcome:
    """The result of one test."""

    name: str
    file: str
    pos: tuple[int, int]
    status: Literal["passed", "failed", "skipped"]
    seconds: float = 0.0
    message: str = ""
    details: str = ""
    turns: int = 0
    __test__ = False


@dataclass
class FileOutcome:
    """The results of one test file (or its problems)."""

    display: str
    bot_id: str | None
    tests: list[TestOutcome] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(d.is_error for d in self.diagnostics) or any(t.status == "failed" for t in self.tests)


@dataclass
class RunReport:
    """Everything `orchestrator test` found."""

    files: list[FileOutcome] = field(default_factory=list)
    coverage: dict[str, Coverage] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tests(self) -> list[TestOutcome]:
        return [t for f in self.files for t in f.tests]

    @property
    def ok(self) -> bool:
        return not any(f.failed for f in self.files)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for t in self.tests:
            out[t.status] += 1
        return out


# ------------------------------------------------------------------ mocks


class _Problems(list[str]):
    """Unmocked calls seen during a turn."""


class MockHttp:
    """An HttpPort answering from a test's mocks; anything else is recorded as a problem."""

    def __init__(self, mocks: list[HttpMock], problems: _Problems):
        self.mocks = mocks
        self.used = [0] * len(mocks)
        self.calls: list[HttpRequest] = []
        self.problems = problems

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        self.calls.append(req)
        for i, mock in enumerate(self.mocks):
            if mock.times is not None and self.used[i] >= mock.times:
                continue
            if request_matches(mock.request, req):
                self.used[i] += 1
                if mock.error is not None:
                    raise HttpError(mock.error)
                assert mock.response is not None
                r = mock.response
                text = r.text if r.text is not None else ("" if r.json_ is None else json.dumps(r.json_))
                return HttpResponse(r.status, copy.deepcopy(r.json_), text, dict(r.headers))
        body = f" json {json.dumps(req.json)}" if req.json is not None else ""
        self.problems.append(
            f"unmocked HTTP call {req.method} {_full_url(req)}{body} (add it under mocks.http)"
        )
        raise HttpError("unmocked HTTP call (the test fails)")


def _full_url(req: HttpRequest) -> str:
    if not req.query:
        return req.url
    return (
        req.url
        + ("&" if "?" in req.url else "?")
        + urlencode(sorted((k, str(v)) for k, v in req.query.items()))
    )


def request_matches(match: HttpRequestMatch, req: HttpRequest) -> bool:
    """Whether a request fits a pattern (glob URL, subset of query, headers and JSON)."""
    if match.method and match.method.upper() != req.method.upper():
        return False
    if match.url is not None:
        target = _full_url(req) if "?" in match.url else req.url
        if not fnmatch.fnmatchcase(target, match.url):
            return False
    if match.query is not None:
        for k, v in match.query.items():
            if k not in req.query or str(req.query[k]) != str(v):
                return False
    if match.headers is not None:
        lower = {k.lower(): v for k, v in req.headers.items()}
        for k, v in match.headers.items():
            if lower.get(k.lower()) != v:
                return False
    return match.json_ is None or subset(match.json_, req.json)


def subset(expected: Any, actual: Any) -> bool:
    """Expected objects match when the keys they give match (recursively); the rest is equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, int | float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        return expected == actual and not isinstance(expected, bool)
    return expected == actual


class MockActions:
    """Actions answered from a test's mocks; an unmocked one is a problem unless real actions
    are allowed (`--allow-actions`)."""

    def __init__(
        self,
        mocks: dict[str, ActionMock | list[ActionMock]],
        names: Iterable[str],
        real: ActionRegistry | None,
        problems: _Problems,
    ):
        self.mocks = {k: (list(v) if isinstance(v, list) else [v]) for k, v in mocks.items()}
        self.real = real
        self.problems = problems
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.registry = ActionRegistry({name: self._make(name) for name in {*names, *self.mocks}})

    def _make(self, name: str) -> Any:
        async def run(ctx: ActionContext, **params: Any) -> Any:
            self.calls.append((name, copy.deepcopy(params)))
            queue = self.mocks.get(name)
            if queue:
                result = queue.pop(0) if len(queue) > 1 else queue[0]
                if result.error is not None:
                    raise RuntimeError(result.error)
                return copy.deepcopy(result.returns)
            if self.real is not None and name in self.real:
                return await self.real.call(name, ctx, params)
            self.problems.append(
                f"unmocked action '{name}' called with {json.dumps(params, default=str)} "
                "(add it under mocks.actions, or run with --allow-actions)"
            )
            raise RuntimeError(f"unmocked action '{name}' (the test fails)")

        return run


# ------------------------------------------------------------------ running one test


class _Failure(Exception):
    def __init__(
        self, message: str, pos: tuple[int, int], details: str = "", traces: list[dict] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.details = details
        self.traces = traces or []


_UNSET = object()


def _parse_clock(value: str | None, where: str) -> datetime:
    text = value or DEFAULT_CLOCK
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}: clock {text!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Case:
    """One test, run turn by turn."""

    def __init__(
        self,
        loaded: LoadedTestFile,
        index: int,
        bot: BotVersion,
        real_actions: ActionRegistry | None,
        allow_actions: bool,
        coverage: Coverage,
    ):
        assert loaded.model is not None
        self.file = loaded
        self.index = index
        self.case = loaded.model.tests[index]
        self.defaults = loaded.model.defaults
        self.bot = bot
        self.coverage = coverage
        given = self.case.given
        self.channel = given.channel or self.defaults.channel
        self.locale = given.locale or self.defaults.locale
        self.agents = (
            given.agents_available if given.agents_available is not None else self.defaults.agents_available
        )
        self.env = {**self.defaults.env, **given.env}
        self.now = _parse_clock(given.clock or self.defaults.clock, self.where(()))
        self.problems = _Problems()
        http_mocks = [*self.case.mocks.http, *self.defaults.mocks.http]
        action_mocks = {**self.defaults.mocks.actions, **self.case.mocks.actions}
        self.http = MockHttp(http_mocks, self.problems)
        names = [s.model.do for s in bot.steps.values() if isinstance(s.model, M.DoStep)]
        self.actions = MockActions(
            action_mocks, names, real_actions if allow_actions else None, self.problems
        )
        self.engine = Engine(bot, http=self.http, actions=self.actions.registry, env=self.env)
        self.state: dict[str, Any] | None = None
        self.user_vars: dict[str, Any] = {**self.defaults.user, **given.user}
        self.timers: list[Timer] = []
        self.turns = 0
        # the current bot turn
        self.pending: list[dict[str, Any]] = []
        self.pointer = 0
        self.turn_traces: list[dict[str, Any]] = []
        self.turn_label = "the start"
        self.last_ended: str | None = None
        self.last_handoff: HandoffRequest | None = None
        self.pending_error: tuple[str, tuple[int, int]] | None = None

    # -- positions
    def path(self, *rest: Any) -> tuple[Any, ...]:
        return ("tests", self.index, *rest)

    def pos(self, *rest: Any) -> tuple[int, int]:
        return self.file.source.pos(self.path(*rest))

    def where(self, rest: tuple[Any, ...]) -> str:
        line, col = self.pos(*rest)
        return f"{self.file.display}:{line}:{col}"

    # -- running
    async def run(self) -> int:
        given = self.case.given
        if given.conv or self.case.start_at is not None:
            st = ConvState(self.bot.id, self.bot.version, session=True)
            for name, decl in self.bot.variables.items():
                if name.startswith("conv."):
                    st.conv[name[5:]] = copy.deepcopy(decl.default)
            st.conv.update(copy.deepcopy(given.conv))
            self.state = json.loads(json.dumps(st.to_json()))
        if self.case.start_at is not None:
            sa = self.case.start_at
            result = await self.engine.run_from(self.turn_input({}), sa.flow, sa.step, given.flow)
            self.new_bot_turn(f"start_at {sa.flow}" + (f".{sa.step}" if sa.step else ""))
            self.absorb(result, self.pos("start_at"))
        for i, item in enumerate(self.case.conversation):
            pos = self.pos("conversation", i)
            if isinstance(item, UserItem):
                self.check_error()
                event = user_event(item.user)
                self.new_bot_turn(f"user {describe_input(_as_turn(event))}")
                self.absorb(await self.engine.run_turn(self.turn_input(event)), pos)
            elif isinstance(item, WaitItem):
                self.check_error()
                await self.wait(item.wait, pos)
            elif isinstance(item, BotItem):
                self.check_bot(item.bot, i)
            else:
                self.check_expect(item.expect, i)
        self.check_error()
        return self.turns

    def turn_input(self, event: dict[str, Any]) -> TurnInput:
        return TurnInput(
            event=event,
            conv_state=copy.deepcopy(self.state),
            user_vars=copy.deepcopy(self.user_vars),
            now=self.now,
            channel=self.channel,
            locale=self.locale,
            conversation_id=f"test-{self.index + 1}",
            user_id="test-user",
            agents_available=self.agents,
        )

    def new_bot_turn(self, label: str) -> None:
        self.pending, self.pointer, self.turn_traces, self.turn_label = [], 0, [], label

    def absorb(self, result: TurnResult, pos: tuple[int, int]) -> None:
        self.turns += 1
        # the state is stored as JSON between turns, as the service does
        self.state = json.loads(json.dumps(result.conv_state))
        self.user_vars = json.loads(json.dumps(result.user_vars))
        self.timers = list(result.timers)
        self.pending.extend(p for p in result.replies if p.get("type") != "typing")
        self.turn_traces.append(result.trace)
        self.coverage.add_trace(result.trace)
        if result.ended:
            self.last_ended = result.ended
        if result.handoff is not None:
            self.last_handoff = result.handoff
        if self.problems:
            problems = list(self.problems)
            self.problems.clear()
            raise _Failure("; ".join(problems), pos, traces=list(self.turn_traces))
        if result.error:
            self.pending_error = (result.error, pos)

    def check_error(self) -> None:
        if self.pending_error is not None:
            error, pos = self.pending_error
            raise _Failure(
                f"the flow failed: {error} (add `expect: {{error: …}}` after the turn if that is intended)",
                pos,
                traces=list(self.turn_traces),
            )

    async def wait(self, seconds: float, pos: tuple[int, int]) -> None:
        target = self.now + timedelta(seconds=seconds)
        self.new_bot_turn(f"wait {_duration(seconds)}")
        for _ in range(MAX_TIMERS_PER_WAIT):
            due = sorted((t for t in self.timers if t.due <= target), key=lambda t: t.due)
            if not due:
                break
            timer = due[0]
            self.now = max(self.now, timer.due)
            event = {"type": "event", "event": "timer", "data": dict(timer.data)}
            self.absorb(await self.engine.run_turn(self.turn_input(event)), pos)
        else:
            raise _Failure(f"more than {MAX_TIMERS_PER_WAIT} timers fired in one wait", pos)
        self.now = target

    # -- bot assertions
    def check_bot(self, value: Any, i: int) -> None:
        items = value if isinstance(value, list) else [value]
        for j, expected in enumerate(items):
            sub = ("conversation", i, "bot", j) if isinstance(value, list) else ("conversation", i, "bot")
            if isinstance(expected, str):
                expected = BotMessage(text=expected)
            pos = self.pos(*sub)
            if expected.none:
                rest = self.pending[self.pointer :]
                if rest:
                    raise self.fail(
                        f"expected no more bot messages after {self.turn_label}, got {len(rest)}", pos
                    )
                continue
            if self.pointer >= len(self.pending):
                sent = len(self.pending)
                more = "nothing" if not sent else f"only {sent} message{'s' if sent > 1 else ''}"
                raise self.fail(
                    f"expected a bot message after {self.turn_label}, the bot sent {more}",
                    pos,
                    expected=describe_expected(expected),
                )
            actual = self.pending[self.pointer]
            problems = message_problems(expected, actual, self.bot, self.locale)
            if problems:
                raise self.fail(
                    f"bot message {self.pointer + 1} after {self.turn_label} does not match: "
                    + "; ".join(p for p, _ in problems),
                    pos,
                    expected=describe_expected(expected),
                    actual=describe_reply(actual),
                    diffs=[d for _, d in problems if d],
                )
            self.pointer += 1

    def fail(
        self,
        message: str,
        pos: tuple[int, int],
        *,
        expected: str | None = None,
        actual: str | None = None,
        diffs: list[str] | None = None,
    ) -> _Failure:
        lines: list[str] = []
        if expected is not None:
            lines.append(f"expected: {expected}")
        if actual is not None:
            lines.append(f"actual:   {actual}")
        for d in diffs or []:
            lines.extend("  " + line for line in d.splitlines())
        lines.append(f"the bot sent after {self.turn_label}:")
        if self.pending:
            for n, p in enumerate(self.pending, 1):
                lines.append(f"  {n}. {describe_reply(p)}")
        else:
            lines.append("  (nothing)")
        return _Failure(message, pos, "\n".join(lines), list(self.turn_traces))

    # -- state assertions
    def check_expect(self, exp: Expect, i: int) -> None:
        given = exp.model_fields_set
        problems: list[str] = []
        state = self.state or {}
        frames = state.get("frames") or []
        top = frames[-1] if frames else None
        if "vars" in given and exp.vars is not None:
            for name, want in exp.vars.items():
                got = self.read_var(name, top)
                if got is _UNSET and want is None:
                    continue  # null: unset or null
                if got is _UNSET or not _same(want, got):
                    shown = "unset" if got is _UNSET else _json(got)
                    problems.append(f"{name} is {shown}, expected {_json(want)}")
        if "flow" in given:
            got_flow = top["flow"] if top else None
            if got_flow != exp.flow:
                problems.append(f"the running flow is {_json(got_flow)}, expected {_json(exp.flow)}")
        if "step" in given:
            got_step = ((top.get("wait") or {}).get("step") or top.get("pc")) if top else None
            if got_step != exp.step:
                problems.append(f"the current step is {_json(got_step)}, expected {_json(exp.step)}")
        if "waiting" in given:
            got_wait = bool(top and top.get("wait"))
            if got_wait != exp.waiting:
                problems.append(f"waiting is {str(got_wait).lower()}, expected {str(exp.waiting).lower()}")
        if "handoff" in given:
            problems.extend(self.handoff_problems(exp.handoff, state))
        if "ended" in given and self.last_ended != exp.ended:
            problems.append(f"ended is {_json(self.last_ended)}, expected {_json(exp.ended)}")
        if "called" in given and exp.called is not None:
            problems.extend(self.called_problems(exp.called))
        if "http_called" in given and exp.http_called is not None:
            problems.extend(self.http_problems(exp.http_called))
        if "trace_contains" in given and exp.trace_contains is not None:
            wanted = [exp.trace_contains] if isinstance(exp.trace_contains, str) else exp.trace_contains
            text = "\n".join(format_trace(t) for t in self.turn_traces)
            problems.extend(f"the trace does not contain {_json(w)}" for w in wanted if w not in text)
        if "error" in given:
            got_error = self.pending_error[0] if self.pending_error else None
            if exp.error is None and got_error is not None:
                problems.append(f"the turn failed: {got_error}")
            elif exp.error is not None and (got_error is None or exp.error not in got_error):
                problems.append(f"expected the turn to fail with {_json(exp.error)}, got {_json(got_error)}")
            self.pending_error = None
        if problems:
            raise self.fail("; ".join(problems), self.pos("conversation", i, "expect"))

    def read_var(self, name: str, top: dict[str, Any] | None) -> Any:
        scope, _, rest = name.partition(".")
        state = self.state or {}
        box: Any
        if scope == "conv":
            box = state.get("conv") or {}
        elif scope == "user":
            box = self.user_vars
        elif scope == "flow":
            box = (top or {}).get("vars") or {}
        else:
            return _UNSET
        for part in rest.split("."):
            if not isinstance(box, dict) or part not in box:
                return _UNSET
            box = box[part]
        return box

    def handoff_problems(self, want: Any, state: dict[str, Any]) -> list[str]:
        hs = state.get("handoff") or {}
        current = hs.get("state", "bot")
        if want is None:
            if current in ("pending", "agent"):
                return [f"the handoff is {current} (queue {hs.get('queue')}), expected none"]
            return []
        if isinstance(want, str):
            return [] if current == want else [f"the handoff is {current}, expected {want}"]
        problems = []
        wanted_state = want.state
        if wanted_state is None and current not in ("pending", "agent"):
            problems.append(f"the handoff is {current}, expected pending or agent")
        elif wanted_state is not None and wanted_state != current:
            problems.append(f"the handoff is {current}, expected {wanted_state}")
        req = self.last_handoff
        if want.queue is not None and hs.get("queue") != want.queue:
            problems.append(f"the handoff queue is {_json(hs.get('queue'))}, expected {_json(want.queue)}")
        if want.priority is not None and (req is None or req.priority != want.priority):
            problems.append(
                f"the handoff priority is {_json(req and req.priority)}, expected {want.priority}"
            )
        if want.summary is not None and (req is None or req.summary != want.summary):
            problems.append(
                f"the handoff summary is {_json(req and req.summary)}, expected {_json(want.summary)}"
            )
        if want.summary_contains is not None and (req is None or want.summary_contains not in req.summary):
            problems.append(
                f"the handoff summary {_json(req and req.summary)} does not contain "
                f"{_json(want.summary_contains)}"
            )
        if want.tags is not None and (req is None or req.tags != want.tags):
            problems.append(f"the handoff tags are {_json(req and req.tags)}, expected {_json(want.tags)}")
        return problems

    def called_problems(self, called: dict[str, Any]) -> list[str]:
        problems = []
        for name, want in called.items():
            calls = [p for n, p in self.actions.calls if n == name]
            if want is True and not calls:
                problems.append(f"action '{name}' was not called")
            elif want is False and calls:
                problems.append(f"action '{name}' was called {len(calls)} time(s), expected never")
            elif isinstance(want, int) and not isinstance(want, bool) and len(calls) != want:
                problems.append(f"action '{name}' was called {len(calls)} time(s), expected {want}")
            elif isinstance(want, dict) and not any(subset(want, p) for p in calls):
                seen = ", ".join(_json(p) for p in calls) or "never called"
                problems.append(f"action '{name}' was not called with {_json(want)} ({seen})")
        return problems

    def http_problems(self, wanted: int | list[HttpRequestMatch]) -> list[str]:
        calls = self.http.calls
        if isinstance(wanted, int):
            return [] if len(calls) == wanted else [f"{len(calls)} HTTP call(s), expected {wanted}"]
        problems = []
        for w in wanted:
            if not any(request_matches(w, c) for c in calls):
                made = ", ".join(f"{c.method} {_full_url(c)}" for c in calls) or "none"
                shown = _json(w.model_dump(by_alias=True, exclude_none=True))
                problems.append(f"no HTTP call matched {shown} (calls: {made})")
        return problems


def user_event(value: Any) -> dict[str, Any]:
    """The canonical inbound payload of a `user:` item."""
    if isinstance(value, str):
        return {"type": "text", "text": value}
    if isinstance(value, PayloadInput):
        event: dict[str, Any] = {
            "type": "quick_reply" if value.quick_reply else "postback",
            "payload": value.payload,
        }
        if value.text is not None:
            event["text"] = value.text
        return event
    if isinstance(value, EventInput):
        return {"type": "event", "event": value.event, "data": copy.deepcopy(value.data)}
    att = value.attachment
    if isinstance(att, str):
        kind = "image" if re.search(r"\.(png|jpe?g|gif|webp)$", att, re.I) else "file"
        return {"type": kind, "url": att}
    out = {"type": att.type, "url": att.url}
    if att.title:
        out["title"] = att.title
    return out


def _as_turn(event: dict[str, Any]) -> dict[str, Any]:
    kind = event.get("type")
    if kind in ("postback", "quick_reply"):
        return {"type": "payload", "payload": event.get("payload"), "text": event.get("text")}
    if kind in ("image", "audio", "video", "file"):
        return {"type": "attachment", "url": event.get("url")}
    return event


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _same(want: Any, got: Any) -> bool:
    return json.loads(_json(want)) == json.loads(_json(got))


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


# ------------------------------------------------------------------ message assertions


def message_text(payload: dict[str, Any]) -> str | None:
    """The text a message shows (None for cards, images…)."""
    text = payload.get("text")
    return text if isinstance(text, str) else None


def _buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if payload.get("type") == "buttons":
        out = []
        for b in payload.get("buttons") or []:
            target = b.get("payload") or {}
            out.append({"title": b.get("label"), "payload": target.get("payload"), "url": target.get("url")})
        return out
    if payload.get("type") == "card":
        return [
            {"title": a.get("title"), "payload": a.get("payload"), "url": a.get("url")}
            for a in payload.get("actions") or []
        ]
    return []


def _quick(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("quick_replies") or payload.get("choices") or []
    return [{"title": c.get("title"), "payload": c.get("value"), "url": None} for c in items]


def _button_ok(want: Any, got: dict[str, Any]) -> bool:
    if isinstance(want, str):
        return got.get("title") == want
    return all(
        getattr(want, k) is None or getattr(want, k) == got.get(k) for k in ("title", "payload", "url")
    )


def _show_button(b: Any) -> str:
    if isinstance(b, str):
        return b
    if isinstance(b, ButtonExpect):
        b = b.model_dump(exclude_none=True)
    parts = [str(b.get("title"))]
    if b.get("payload"):
        parts.append(f"→ {b['payload']}")
    if b.get("url"):
        parts.append(f"→ {b['url']}")
    return " ".join(parts)


def _text_diff(expected: str, actual: str) -> str:
    lines = difflib.ndiff(expected.splitlines() or [""], actual.splitlines() or [""])
    return "\n".join(line.rstrip() for line in lines)


def msg_patterns(bot: BotVersion, message_id: str, locale: str | None) -> list[re.Pattern[str]]:
    """Regexes of the texts of every variant of a catalogue message (templates match anything)."""
    chain = [x for x in (locale, bot.default_locale) if x]
    entry = None
    for loc in chain:
        entry = bot.messages.get(loc, {}).get(message_id)
        if entry is not None:
            break
    if entry is None:
        return []
    variants = entry.variants if isinstance(entry, M.MessageVariants) else [entry]
    patterns = []
    for v in variants:
        text = v if isinstance(v, str) else v.text
        if text is None:
            continue
        pieces = re.split(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.DOTALL)
        patterns.append(re.compile(".*?".join(re.escape(p) for p in pieces), re.DOTALL))
    return patterns


def message_problems(
    want: BotMessage, got: dict[str, Any], bot: BotVersion, locale: str | None
) -> list[tuple[str, str]]:
    """(problem, diff) for each way a message differs from what is expected."""
    problems: list[tuple[str, str]] = []
    text = message_text(got)
    kind = got.get("type")
    if want.type is not None and kind != want.type:
        problems.append((f"its type is {kind}, expected {want.type}", ""))
    if want.text is not None:
        if text is None:
            problems.append((f"a {kind} message has no text", ""))
        elif text.strip() != want.text.strip():
            problems.append(("the text differs", _text_diff(want.text.strip(), text.strip())))
    if want.text_contains is not None and (text is None or want.text_contains not in text):
        problems.append((f"the text does not contain {_json(want.text_contains)}", ""))
    if want.text_matches is not None and (text is None or not re.search(want.text_matches, text)):
        problems.append((f"the text does not match /{want.text_matches}/", ""))
    if want.msg is not None:
        patterns = msg_patterns(bot, want.msg, locale)
        if not patterns:
            problems.append((f"the bot has no message 'msg.{want.msg}' with a text", ""))
        elif text is None or not any(p.fullmatch(text.strip()) for p in patterns):
            problems.append((f"the text is not one of msg.{want.msg}", ""))
    for key, actual in (("buttons", _buttons(got)), ("quick_replies", _quick(got))):
        wanted = getattr(want, key)
        if wanted is None:
            continue
        ok = len(wanted) == len(actual) and all(_button_ok(w, a) for w, a in zip(wanted, actual, strict=True))
        if not ok:
            exp = "[" + ", ".join(_show_button(w) for w in wanted) + "]"
            act = "[" + ", ".join(_show_button(a) for a in actual) + "]"
            problems.append((f"{key.replace('_', ' ')} are {act}, expected {exp}", ""))
    if want.cards is not None:
        cards = got.get("items") if kind == "carousel" else [got] if kind == "card" else []
        titles = [c.get("title") for c in cards or []]
        if want.cards.count is not None and len(titles) != want.cards.count:
            problems.append((f"{len(titles)} card(s), expected {want.cards.count}", ""))
        if want.cards.titles is not None and titles != want.cards.titles:
            problems.append((f"card titles are {_json(titles)}, expected {_json(want.cards.titles)}", ""))
    if want.account_link is not None:
        if kind != "account_linking":
            if want.account_link is not False:
                problems.append((f"a {kind} message is not an account link", ""))
        elif isinstance(want.account_link, LinkExpect):
            link = want.account_link
            url = got.get("url") or ""
            if link.url is not None and url != link.url:
                problems.append((f"the link is {url}, expected {link.url}", ""))
            if link.url_matches is not None and not re.search(link.url_matches, url):
                problems.append((f"the link {url} does not match /{link.url_matches}/", ""))
            if link.text is not None and (text or "").strip() != link.text.strip():
                problems.append(
                    ("the link text differs", _text_diff(link.text.strip(), (text or "").strip()))
                )
            if link.text_contains is not None and link.text_contains not in (text or ""):
                problems.append((f"the link text does not contain {_json(link.text_contains)}", ""))
    if want.image is not None and want.image is not False:
        if kind != "image":
            problems.append((f"a {kind} message is not an image", ""))
        else:
            url = got.get("image") or ""
            if isinstance(want.image, str) and url != want.image:
                problems.append((f"the image is {url}, expected {want.image}", ""))
            if isinstance(want.image, ImageExpect):
                if want.image.url is not None and url != want.image.url:
                    problems.append((f"the image is {url}, expected {want.image.url}", ""))
                if want.image.url_matches is not None and not re.search(want.image.url_matches, url):
                    problems.append((f"the image {url} does not match /{want.image.url_matches}/", ""))
    return problems


def describe_expected(want: BotMessage) -> str:
    parts = []
    for key, value in want.model_dump(exclude_none=True, by_alias=True).items():
        if key == "any":
            parts.append("any message")
        elif key in ("buttons", "quick_replies"):
            parts.append(f"{key} [" + ", ".join(_show_button(b) for b in getattr(want, key)) + "]")
        else:
            parts.append(f"{key} {_json(value)}")
    return ", ".join(parts)


# ------------------------------------------------------------------ the runner


class TestRunner:
    """Runs test files on their bots, accumulating coverage per bot."""

    __test__ = False

    def __init__(self, root: Path, *, allow_actions: bool = False, name_filter: str | None = None):
        self.root = root.resolve()
        self.allow_actions = allow_actions
        self.name_filter = name_filter
        self.checked: dict[Path, CheckResult] = {}
        self.real_actions: dict[str, ActionRegistry | None] = {}
        self.report = RunReport()

    # -- bots
    def check(self, bot_file: Path) -> CheckResult:
        key = bot_file.resolve()
        if key not in self.checked:
            self.checked[key] = check_bot(key, project_root(key.parent, self.root))
        return self.checked[key]

    def find_bot(self, loaded: LoadedTestFile) -> tuple[Path | None, str]:
        """The bot file of a test file, and a problem when there is none."""
        root = project_root(loaded.path.parent, self.root)
        bots_dir = root / "bots"
        assert loaded.model is not None
        wanted = loaded.model.bot
        if wanted is not None:
            for suffix in (".yaml", ".yml"):
                candidate = bots_dir / f"{wanted}{suffix}"
                if candidate.is_file():
                    return candidate, ""
            known = sorted(p.stem for p in bots_dir.glob("*.y*ml")) if bots_dir.is_dir() else []
            return (
                None,
                f"unknown bot '{wanted}'{did_you_mean(wanted, known)} (no {bots_dir.name}/{wanted}.yaml)",
            )
        folder = loaded.path.resolve().parent
        candidates = sorted(bots_dir.glob("*.y*ml")) if bots_dir.is_dir() else []
        for bot_file in candidates:
            result = self.check(bot_file)
            files = result.bot.sources if result.bot else {}
            if any((root / f).resolve().parent == folder for f in files):
                return bot_file, ""
        for bot_file in candidates:  # a broken bot: match its flows globs by folder
            text = bot_file.read_text(encoding="utf-8", errors="replace")
            rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else ""
            if rel and rel in text:
                return bot_file, ""
        return None, "cannot tell which bot this file tests: add `bot: <id>`"

    def actions_of(self, bot: BotVersion) -> ActionRegistry | None:
        if not self.allow_actions:
            return None
        if bot.id not in self.real_actions:
            self.real_actions[bot.id] = ActionRegistry.from_bot(bot)
        return self.real_actions[bot.id]

    # -- files
    def references(self, loaded: LoadedTestFile, bot: BotVersion) -> list[Diagnostic]:
        """E502/E503: flows, steps and actions a test names that the bot does not have."""
        assert loaded.model is not None
        out: list[Diagnostic] = []
        src = loaded.source
        flows = sorted(bot.flow_ids)
        actions = {s.model.do for s in bot.steps.values() if isinstance(s.model, M.DoStep)}
        with contextlib.suppress(Exception):  # an import error is the checker's E210
            actions.update(ActionRegistry.from_bot(bot).names())

        def err(path: tuple[Any, ...], code: str, msg: str) -> None:
            line, col = src.pos(path)
            out.append(Diagnostic(loaded.display, line, col, "error", code, msg))

        def check_action(name: str, path: tuple[Any, ...]) -> None:
            if name not in actions:
                hint = did_you_mean(name, sorted(actions))
                err(path, D.E_TEST_ACTION, f"the bot has no action '{name}'{hint}")

        for name in loaded.model.defaults.mocks.actions:
            check_action(name, ("defaults", "mocks", "actions", name))
        for i, case in enumerate(loaded.model.tests):
            base: tuple[Any, ...] = ("tests", i)
            if case.start_at is not None:
                sa = case.start_at
                if sa.flow not in bot.flows:
                    err(
                        (*base, "start_at", "flow"),
                        D.E_TEST_REF,
                        f"unknown flow '{sa.flow}'{did_you_mean(sa.flow, flows)}",
                    )
                elif sa.step is not None and bot.step(sa.flow, sa.step) is None:
                    steps = sorted(s.id for s in bot.steps.values() if s.flow == sa.flow and s.explicit_id)
                    err(
                        (*base, "start_at", "step"),
                        D.E_TEST_REF,
                        f"flow '{sa.flow}' has no step '{sa.step}'{did_you_mean(sa.step, steps)}",
                    )
            for name in case.mocks.actions:
                check_action(name, (*base, "mocks", "actions", name))
            for j, item in enumerate(case.conversation):
                if not isinstance(item, ExpectItem):
                    continue
                exp = item.expect
                ipath = (*base, "conversation", j, "expect")
                if exp.flow is not None and exp.flow not in bot.flows:
                    err(
                        (*ipath, "flow"),
                        D.E_TEST_REF,
                        f"unknown flow '{exp.flow}'{did_you_mean(exp.flow, flows)}",
                    )
                if exp.step is not None and not any(s.id == exp.step for s in bot.steps.values()):
                    ids = sorted({s.id for s in bot.steps.values() if s.explicit_id})
                    err(
                        (*ipath, "step"),
                        D.E_TEST_REF,
                        f"unknown step '{exp.step}'{did_you_mean(exp.step, ids)}",
                    )
                for name in exp.vars or {}:
                    if name.partition(".")[0] not in ("conv", "user", "flow") or "." not in name:
                        err(
                            (*ipath, "vars", name),
                            D.E_TEST_REF,
                            f"'{name}' is not a conv.*, user.* or flow.* variable",
                        )
                for name in exp.called or {}:
                    check_action(name, (*ipath, "called", name))
        return out

    async def run_file(self, path: Path) -> FileOutcome:
        loaded = load_test_file(path, self.root)
        outcome = FileOutcome(loaded.display, None, diagnostics=list(loaded.diagnostics))
        self.report.files.append(outcome)
        if loaded.model is None:
            return outcome
        bot_file, problem = self.find_bot(loaded)
        if bot_file is None:
            line, col = loaded.source.pos(("bot",))
            outcome.diagnostics.append(Diagnostic(loaded.display, line, col, "error", D.E_TEST_BOT, problem))
            return outcome
        checked = self.check(bot_file)
        if checked.bot is None:
            line, col = loaded.source.pos(("bot",))
            outcome.diagnostics.append(
                Diagnostic(
                    loaded.display,
                    line,
                    col,
                    "error",
                    D.E_TEST_BOT,
                    f"bot {checked.file} has errors (run `orchestrator check`):\n{checked.report()}",
                )
            )
            return outcome
        bot = checked.bot
        outcome.bot_id = bot.id
        outcome.diagnostics.extend(self.references(loaded, bot))
        if any(d.is_error for d in outcome.diagnostics):
            return outcome
        coverage = self.report.coverage.setdefault(bot.id, Coverage(bot))
        real = self.actions_of(bot)
        for i, case in enumerate(loaded.model.tests):
            line, col = loaded.source.pos(("tests", i))
            if self.name_filter and self.name_filter.lower() not in case.name.lower():
                continue
            if case.skip:
                reason = case.skip if isinstance(case.skip, str) else ""
                outcome.tests.append(
                    TestOutcome(case.name, loaded.display, (line, col), "skipped", message=reason)
                )
                continue
            started = time.perf_counter()
            runner = _Case(loaded, i, bot, real, self.allow_actions, coverage)
            try:
                turns = await runner.run()
            except _Failure as f:
                details = f.details
                if f.traces:
                    traces = "\n".join(format_trace(t, indent="  ") for t in f.traces)
                    details = (details + "\n" if details else "") + f"engine trace of the turn:\n{traces}"
                outcome.tests.append(
                    TestOutcome(
                        case.name,
                        loaded.display,
                        (line, col),
                        "failed",
                        time.perf_counter() - started,
                        f"{loaded.display}:{f.pos[0]}:{f.pos[1]}: {f.message}",
                        details,
                        runner.turns,
                    )
                )
                continue
            except ValueError as exc:  # e.g. a clock that does not parse
                outcome.tests.append(
                    TestOutcome(
                        case.name,
                        loaded.display,
                        (line, col),
                        "failed",
                        time.perf_counter() - started,
                        str(exc),
                    )
                )
                continue
            outcome.tests.append(
                TestOutcome(
                    case.name,
                    loaded.display,
                    (line, col),
                    "passed",
                    time.perf_counter() - started,
                    turns=turns,
                )
            )
        return outcome

    async def run(self, files: Sequence[Path]) -> RunReport:
        started = time.perf_counter()
        for path in files:
            await self.run_file(path)
        self.report.seconds = time.perf_counter() - started
        return self.report


# ------------------------------------------------------------------ output


def render_report(report: RunReport, *, coverage: bool = True, coverage_limit: int | None = None) -> str:
    """The text `orchestrator test` prints."""
    lines: list[str] = []
    for f in report.files:
        lines.append(f.display + (f"  (bot {f.bot_id})" if f.bot_id else ""))
        for d in f.diagnostics:
            lines.append(f"  {d}")
        for t in f.tests:
            if t.status == "passed":
                lines.append(f"  PASS  {t.name}  ({t.turns} turn{'s' if t.turns != 1 else ''})")
            elif t.status == "skipped":
                lines.append(f"  SKIP  {t.name}" + (f"  ({t.message})" if t.message else ""))
            else:
                lines.append(f"  FAIL  {t.name}")
                lines.append(f"    {t.message}")
                lines.extend(f"    {line}" for line in t.details.splitlines())
        lines.append("")
    if coverage:
        for cov in report.coverage.values():
            lines.append(cov.report(coverage_limit))
            lines.append("")
    counts = report.counts()
    broken = sum(1 for f in report.files if any(d.is_error for d in f.diagnostics))
    summary = f"{len(report.tests)} test{'s' if len(report.tests) != 1 else ''}: {counts['passed']} passed"
    summary += f", {counts['failed']} failed"
    if counts["skipped"]:
        summary += f", {counts['skipped']} skipped"
    if broken:
        summary += f", {broken} file{'s' if broken > 1 else ''} with errors"
    summary += f" ({report.seconds:.2f} s)"
    lines.append(summary)
    return "\n".join(lines)


def junit_xml(report: RunReport) -> bytes:
    """JUnit XML: a testsuite per file, a testcase per test (file errors as a failing case)."""
    counts = report.counts()
    suites = ET.Element(
        "testsuites",
        name="orchestrator test",
        tests=str(len(report.tests)),
        failures=str(counts["failed"]),
        skipped=str(counts["skipped"]),
        time=f"{report.seconds:.3f}",
    )
    for f in report.files:
        errors = [d for d in f.diagnostics if d.is_error]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f.display,
            tests=str(len(f.tests) + (1 if errors else 0)),
            failures=str(sum(1 for t in f.tests if t.status == "failed") + (1 if errors else 0)),
            skipped=str(sum(1 for t in f.tests if t.status == "skipped")),
            time=f"{sum(t.seconds for t in f.tests):.3f}",
        )
        cov = report.coverage.get(f.bot_id or "")
        if cov is not None:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="bot", value=cov.bot.id)
            ET.SubElement(props, "property", name="coverage.steps", value=f"{cov.step_ratio:.4f}")
            ET.SubElement(props, "property", name="coverage.branches", value=f"{cov.branch_ratio:.4f}")
        classname = f.display.removesuffix(".yaml").removesuffix(".yml").replace("/", ".")
        if errors:
            case = ET.SubElement(suite, "testcase", classname=classname, name="(test file)", time="0")
            failure = ET.SubElement(case, "failure", message=str(errors[0]), type="TestFileError")
            failure.text = "\n".join(str(d) for d in f.diagnostics)
        for t in f.tests:
            case = ET.SubElement(suite, "testcase", classname=classname, name=t.name, time=f"{t.seconds:.3f}")
            case.set("file", f.display)
            case.set("line", str(t.pos[0]))
            if t.status == "failed":
                failure = ET.SubElement(case, "failure", message=t.message, type="ConversationMismatch")
                failure.text = t.message + ("\n" + t.details if t.details else "")
            elif t.status == "skipped":
                ET.SubElement(case, "skipped", message=t.message)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
