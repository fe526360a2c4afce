"""Running one conversation test on the production `Engine`, item by item: user turns, waits on
the virtual clock (due timers fire in order), and the `bot:` and `expect:` assertions; a
mismatch raises `CaseFailure` with what the bot sent and the engine traces of the turn."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import models as M
from ..actions import ActionRegistry
from ..compiled import BotVersion
from ..coverage import Coverage
from ..runtime import Engine, HandoffRequest, TimerRequest, TurnInput, TurnResult
from ..state import ConvState, Frame, Wait
from ..trace_format import describe_input, describe_reply, format_trace
from .expectations import Observed, expect_problems
from .loading import LoadedTestFile
from .messages import describe_expected, message_problems
from .mocks import MockActions, MockHttp
from .models import (
    DEFAULT_CLOCK,
    BotItem,
    BotItemValue,
    BotMessage,
    EventInput,
    Expect,
    PayloadInput,
    UserInput,
    UserItem,
    WaitItem,
)

MAX_TIMERS_PER_WAIT = 50

Position = tuple[int, int]  # line, column in the test file


class CaseFailure(Exception):
    """A test failed: why, where in the test file, what the bot sent, and the turn's traces."""

    def __init__(
        self, message: str, pos: Position, details: str = "", traces: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.details = details
        self.traces = traces or []

    def details_with_traces(self) -> str:
        """The details followed by the engine traces of the turn, as failure output shows them."""
        if not self.traces:
            return self.details
        traces = "\n".join(format_trace(t, indent="  ") for t in self.traces)
        return (self.details + "\n" if self.details else "") + f"engine trace of the turn:\n{traces}"


def parse_clock(value: str | None, where: str) -> datetime:
    """The start time of a test (UTC when no offset is given); ValueError when it does not parse."""
    text = value or DEFAULT_CLOCK
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}: clock {text!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ConversationRun:
    """One test, run turn by turn."""

    def __init__(
        self,
        loaded: LoadedTestFile,
        index: int,
        bot: BotVersion,
        real_actions: ActionRegistry | None,
        coverage: Coverage,
        *,
        clock: str | None = None,
    ) -> None:
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
        self.now = parse_clock(given.clock or self.defaults.clock or clock, self.where(()))
        self.problems: list[str] = []  # unmocked calls seen during a turn
        http_mocks = [*self.case.mocks.http, *self.defaults.mocks.http]
        action_mocks = {**self.defaults.mocks.actions, **self.case.mocks.actions}
        self.http = MockHttp(http_mocks, self.problems)
        names = [s.model.do for s in bot.steps.values() if isinstance(s.model, M.DoStep)]
        self.actions = MockActions(action_mocks, names, real_actions, self.problems)
        self.engine = Engine(bot, http=self.http, actions=self.actions.registry, env=self.env)
        self.state: dict[str, Any] | None = None
        self.user_vars: dict[str, Any] = {**self.defaults.user, **given.user}
        self.timers: list[TimerRequest] = []
        self.turns = 0
        # the current bot turn
        self.pending: list[dict[str, Any]] = []
        self.pointer = 0
        self.turn_traces: list[dict[str, Any]] = []
        self.turn_label = "the start"
        self.last_ended: str | None = None
        self.last_handoff: HandoffRequest | None = None
        self.pending_error: tuple[str, Position] | None = None

    # -- positions
    def path(self, *rest: Any) -> tuple[Any, ...]:
        """The data path of a node of this test."""
        return ("tests", self.index, *rest)

    def pos(self, *rest: Any) -> Position:
        """The position of a node of this test."""
        return self.file.source.pos(self.path(*rest))

    def where(self, rest: tuple[Any, ...]) -> str:
        """`file:line:col` of a node of this test."""
        line, col = self.pos(*rest)
        return f"{self.file.display}:{line}:{col}"

    # -- running
    async def run(self) -> int:
        """Run the test; the number of turns (CaseFailure when something does not match)."""
        given = self.case.given
        if given.conv or self.case.start_at is not None or given.version_gone:
            st = ConvState(self.bot.id, self.bot.version, session=True)
            for name, decl in self.bot.variables.items():
                if name.startswith("conv."):
                    st.conv[name[5:]] = copy.deepcopy(decl.default)
            st.conv.update(copy.deepcopy(given.conv))
            if given.version_gone:  # waiting at a step an older version had
                st.version = "an-older-version"
                flow = next(iter(self.bot.flow_ids), "")
                st.frames.append(Frame(flow, None, {}, "root", Wait("~step-of-an-older-version", "ask")))
            self.state = json.loads(json.dumps(st.to_json()))
        self.seed = dict(given.flow) if given.flow and self.case.start_at is None else None
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
                inp = self.turn_input(event)
                if self.seed is not None and not (self.state or {}).get("frames"):
                    inp.flow_vars, self.seed = self.seed, None
                self.absorb(await self.engine.run_turn(inp), pos)
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
        """The engine input of an event, with the conversation as stored."""
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
        """Start collecting the replies to a new input (`label` says which, in failure output)."""
        self.pending, self.pointer, self.turn_traces, self.turn_label = [], 0, [], label

    def absorb(self, result: TurnResult, pos: Position) -> None:
        """Take in the result of an engine turn."""
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
            raise CaseFailure("; ".join(problems), pos, traces=list(self.turn_traces))
        if result.error:
            self.pending_error = (result.error, pos)

    def check_error(self) -> None:
        """Fail on an error of the last turn that no `expect: {error: …}` accepted."""
        if self.pending_error is not None:
            error, pos = self.pending_error
            raise CaseFailure(
                f"the flow failed: {error} (add `expect: {{error: …}}` after the turn if that is intended)",
                pos,
                traces=list(self.turn_traces),
            )

    async def wait(self, seconds: float, pos: Position) -> None:
        """Move the virtual clock on by `seconds`, firing the timers that fall due, in order."""
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
            raise CaseFailure(f"more than {MAX_TIMERS_PER_WAIT} timers fired in one wait", pos)
        self.now = target

    # -- assertions
    def check_bot(self, value: BotItemValue, i: int) -> None:
        """Check the next message(s) of the current bot turn against a `bot:` item."""
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

    def check_expect(self, exp: Expect, i: int) -> None:
        """Check the conversation's state against an `expect:` item (an expected error is consumed)."""
        problems = expect_problems(exp, self.observed())
        if "error" in exp.model_fields_set:
            self.pending_error = None
        if problems:
            raise self.fail("; ".join(problems), self.pos("conversation", i, "expect"))

    def observed(self) -> Observed:
        """What `expect:` items read: the conversation as stored and the calls made so far."""
        return Observed(
            state=self.state or {},
            user_vars=self.user_vars,
            ended=self.last_ended,
            handoff=self.last_handoff,
            error=self.pending_error[0] if self.pending_error else None,
            action_calls=self.actions.calls,
            http_calls=self.http.calls,
            traces=self.turn_traces,
        )

    def fail(
        self,
        message: str,
        pos: Position,
        *,
        expected: str | None = None,
        actual: str | None = None,
        diffs: list[str] | None = None,
    ) -> CaseFailure:
        """A failure showing what was expected, the diffs, and everything the bot sent in the turn."""
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
        return CaseFailure(message, pos, "\n".join(lines), list(self.turn_traces))


def user_event(value: UserInput) -> dict[str, Any]:
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
    """An inbound payload in the shape of a trace's input, for `describe_input`."""
    kind = event.get("type")
    if kind in ("postback", "quick_reply"):
        return {"type": "payload", "payload": event.get("payload"), "text": event.get("text")}
    if kind in ("image", "audio", "video", "file"):
        return {"type": "attachment", "url": event.get("url")}
    return event


def _duration(seconds: float) -> str:
    """A wait as failure output names it: `11m`, `90s`."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
