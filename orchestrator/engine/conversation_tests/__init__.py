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

Modules: `models` (the file format), `loading`, `references` (names the bot lacks), `runner`
(`TestRunner`), `conversation` (one test on the engine), `mocks`, `messages` and `expectations`
(the assertions), `values`, `report` and `junit`.
"""

from .conversation import MAX_TIMERS_PER_WAIT, user_event
from .junit import junit_xml
from .loading import TEST_SUFFIXES, LoadedTestFile, find_test_files, load_test_file, project_root
from .messages import describe_expected, message_problems, message_text, msg_patterns
from .mocks import MockActions, MockHttp, request_matches
from .models import (
    DEFAULT_CLOCK,
    ActionMock,
    ActionMocks,
    AttachmentInput,
    AttachmentSpec,
    BotItem,
    BotItemValue,
    BotMessage,
    ButtonExpect,
    ButtonItem,
    CalledValue,
    CardsExpect,
    ConversationTest,
    Defaults,
    EventInput,
    Expect,
    ExpectItem,
    Given,
    HandoffExpect,
    HttpMock,
    HttpRequestMatch,
    HttpResponseSpec,
    ImageExpect,
    Item,
    LinkExpect,
    Mocks,
    PayloadInput,
    StartAt,
    TestFileModel,
    UserInput,
    UserItem,
    WaitItem,
    test_file_schema,
)
from .report import FileOutcome, RunReport, TestOutcome, render_report
from .runner import TestRunner
from .values import subset

__all__ = [
    "DEFAULT_CLOCK",
    "MAX_TIMERS_PER_WAIT",
    "TEST_SUFFIXES",
    "ActionMock",
    "ActionMocks",
    "AttachmentInput",
    "AttachmentSpec",
    "BotItem",
    "BotItemValue",
    "BotMessage",
    "ButtonExpect",
    "ButtonItem",
    "CalledValue",
    "CardsExpect",
    "ConversationTest",
    "Defaults",
    "EventInput",
    "Expect",
    "ExpectItem",
    "FileOutcome",
    "Given",
    "HandoffExpect",
    "HttpMock",
    "HttpRequestMatch",
    "HttpResponseSpec",
    "ImageExpect",
    "Item",
    "LinkExpect",
    "LoadedTestFile",
    "MockActions",
    "MockHttp",
    "Mocks",
    "PayloadInput",
    "RunReport",
    "StartAt",
    "TestFileModel",
    "TestOutcome",
    "TestRunner",
    "UserInput",
    "UserItem",
    "WaitItem",
    "describe_expected",
    "find_test_files",
    "junit_xml",
    "load_test_file",
    "message_problems",
    "message_text",
    "msg_patterns",
    "project_root",
    "render_report",
    "request_matches",
    "subset",
    "test_file_schema",
    "user_event",
]
