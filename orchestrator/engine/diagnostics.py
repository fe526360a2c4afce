"""Diagnostics: positioned, coded problems found in bot files, printed compiler-style.

The codes are stable (tools and tests match on them) and all live here, so that the loader
and the full checker (`orchestrator check`) share one numbering:

- E1xx files, YAML and schema;
- E2xx references between flows, steps, messages, handlers and actions;
- E3xx variables and scopes;
- E4xx templates and expressions;
- E5xx conversation test files (`*.test.yaml`; their YAML and schema problems use E1xx);
- W… warnings with the same numbering.

E1xx, E2xx up to E211, E3xx up to E303 and E401-E402 come from the loader; the flow-graph, trigger,
variable and test-file rules (E220 and up, E310 and up, E403, E5xx) from the checker.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# ------------------------------------------------------------------ codes
# files, YAML, schema
E_FILE = "E100"  # a file cannot be read
E_YAML = "E101"  # YAML syntax error
E_DUPLICATE_KEY = "E102"  # a mapping has the same key twice
E_YAML_UNSUPPORTED = "E103"  # a YAML construct we do not accept (complex keys, unknown tags)
E_VERSION = "E104"  # missing or unsupported `version:`
W_GLOB_EMPTY = "W105"  # a `flows:` glob matched no file
E_UNKNOWN_KEY = "E110"  # a key the schema does not know
E_MISSING = "E111"  # a required key is missing
E_INVALID = "E112"  # a value of the wrong type or out of range
E_STEP_ACTION = "E113"  # a step with no action key, or several
E_DURATION = "E114"  # a duration that cannot be parsed ("5s", "2m", "1h30m", "800ms")
E_HOURS = "E115"  # business hours or timezone that cannot be parsed
E_REGEX = "E116"  # a trigger regex that does not compile
E_REGEX_GROUP = "E117"  # a regex group named like a built-in turn.* value (text, payload, …)

# references
E_UNKNOWN_STEP = "E201"
E_UNKNOWN_FLOW = "E202"
E_UNKNOWN_MESSAGE = "E203"
E_DUPLICATE_FLOW = "E204"
E_DUPLICATE_STEP = "E205"
E_DUPLICATE_MESSAGE = "E206"
E_HANDLER = "E207"  # a handler that can never run (custom name without triggers, …)
E_WAIT_NEEDS_ID = "E208"  # a waiting step without `id` (it could not be resumed)
E_UNKNOWN_ACTION = "E209"
E_ACTIONS_MODULE = "E210"  # the actions module cannot be imported
E_PARAMS = "E211"  # `with:` names a parameter the flow does not declare, or misses one
W_UNKNOWN_TRANSLATION = "W212"  # a translation for a message id that does not exist
# flow graph and triggers (checker)
E_LOOP = "E220"  # a loop with no waiting step and no way out: it would run until the step budget
W_LOOP = "W221"  # a loop with no waiting step, left only when a condition changes
W_UNREACHABLE_STEP = "W222"  # no path leads to this step
W_UNUSED_FLOW = "W223"  # a flow with no trigger that no handler, call or start uses
E_AMBIGUOUS_TRIGGER = "E224"  # the same payload/event/keywords start two flows or handlers
E_DUPLICATE_PAYLOAD = "E225"  # two options of one choose (or buttons of one reply) share a payload
W_UNHANDLED_PAYLOAD = "W226"  # a button payload that no trigger or waiting step handles
W_TRIGGERS_FIRST = "W227"  # `triggers_first` on a flow that has no ask step
W_OVERLAPPING_EXAMPLES = "W228"  # examples of two intents so alike that a message could start either
W_CORRECTABLE = "W229"  # a `correctable` ask in a flow that asks nothing else

# variables
E_READONLY_SCOPE = "E301"  # writing turn.*, sys.*, env.* or an unknown scope
E_USER_NOT_PERSISTED = "E302"  # writing user.x that is not declared `persist: true`
E_VARIABLE_DECL = "E303"  # a bad variable declaration
E_UNDECLARED = "E310"  # conv.x / user.x / flow.x read but never declared or set
E_UNKNOWN_NAME = "E311"  # turn.x / sys.x that does not exist, or a bare name that is not a scope
W_CONV_NOT_DECLARED = "W312"  # a conv.x written but not declared, when the bot declares its conv.*
E_TYPE_MISMATCH = "E313"  # a value (or an ask's answer) the declared variable's type cannot hold
W_TEXT_INTO_NUMBER = "W314"  # a text variable copied into an int/float one: stored only when numeric

# templates
E_TEMPLATE = "E401"  # Jinja syntax error in a template or an expression
E_ENV_IN_REPLY = "E402"  # env.* rendered into a reply
E_ENV_IN_VALUE = "E403"  # env.* read by a set, with, return or into value
W_RASA_SLOT = "W404"  # a Rasa-style {slot} in a reply: sent as it is

# conversation tests
E_TEST_BOT = "E501"  # the bot of a test file cannot be found or does not load
E_TEST_REF = "E502"  # a test names a flow, step or variable scope the bot does not have
E_TEST_ACTION = "E503"  # a test mocks or expects an action the bot does not have

CODES: dict[str, str] = {
    E_FILE: "file cannot be read",
    E_YAML: "YAML syntax error",
    E_DUPLICATE_KEY: "duplicate key",
    E_YAML_UNSUPPORTED: "unsupported YAML construct",
    E_VERSION: "missing or unsupported version",
    W_GLOB_EMPTY: "flows glob matched no file",
    E_UNKNOWN_KEY: "unknown key",
    E_MISSING: "missing required key",
    E_INVALID: "invalid value",
    E_STEP_ACTION: "step must have exactly one action key",
    E_DURATION: "invalid duration",
    E_HOURS: "invalid business hours or timezone",
    E_REGEX: "invalid regular expression",
    E_REGEX_GROUP: "regex group shadows a turn value",
    E_UNKNOWN_STEP: "unknown step",
    E_UNKNOWN_FLOW: "unknown flow",
    E_UNKNOWN_MESSAGE: "unknown message",
    E_DUPLICATE_FLOW: "duplicate flow id",
    E_DUPLICATE_STEP: "duplicate step id",
    E_DUPLICATE_MESSAGE: "duplicate message id",
    E_HANDLER: "invalid handler",
    E_WAIT_NEEDS_ID: "waiting step without id",
    E_UNKNOWN_ACTION: "unknown action",
    E_ACTIONS_MODULE: "actions module cannot be imported",
    E_PARAMS: "call parameters do not match the flow's params",
    W_UNKNOWN_TRANSLATION: "translation of an unknown message",
    E_LOOP: "loop with no waiting step and no way out",
    W_LOOP: "loop with no waiting step",
    W_UNREACHABLE_STEP: "unreachable step",
    W_UNUSED_FLOW: "flow never started",
    E_AMBIGUOUS_TRIGGER: "ambiguous trigger",
    E_DUPLICATE_PAYLOAD: "duplicate payload",
    W_UNHANDLED_PAYLOAD: "payload nothing handles",
    W_TRIGGERS_FIRST: "triggers_first changes nothing",
    W_OVERLAPPING_EXAMPLES: "overlapping intent examples",
    W_CORRECTABLE: "correctable changes nothing",
    E_READONLY_SCOPE: "variable scope is read-only or unknown",
    E_USER_NOT_PERSISTED: "user variable not declared persist: true",
    E_VARIABLE_DECL: "invalid variable declaration",
    E_UNDECLARED: "variable never declared or set",
    E_UNKNOWN_NAME: "unknown variable",
    W_CONV_NOT_DECLARED: "conv variable written but not declared",
    E_TYPE_MISMATCH: "value does not fit the declared type",
    W_TEXT_INTO_NUMBER: "text copied into a number variable",
    E_TEMPLATE: "template syntax error",
    E_ENV_IN_REPLY: "env.* used in a reply",
    E_ENV_IN_VALUE: "env.* used in a value",
    W_RASA_SLOT: "Rasa-style {slot} in a reply",
    E_TEST_BOT: "test file: unknown or broken bot",
    E_TEST_REF: "test file: unknown flow, step or variable",
    E_TEST_ACTION: "test file: unknown action",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at `file:line:col` (1-based; 0 when the position is unknown)."""

    file: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.col}"
        return f"{where}: {self.severity} {self.code} {self.message}"

    @property
    def is_error(self) -> bool:
        """True for errors (warnings do not stop a load)."""
        return self.severity == "error"


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    """Order diagnostics by file, position and code."""
    return (d.file, d.line, d.col, d.code)


class BotLoadError(Exception):
    """A bot could not be loaded; `.diagnostics` lists every problem found (errors first)."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics: list[Diagnostic] = sorted(diagnostics, key=sort_key)
        super().__init__(self.report())

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.diagnostics if d.is_error]

    def report(self) -> str:
        """All diagnostics, one per line, compiler style."""
        return "\n".join(str(d) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.report()


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a close candidate exists, else an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
