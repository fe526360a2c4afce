"""The flow runtime: one turn = (bot version, state, inbound event) → (state, replies, requests).

Pure: the clock (`TurnInput.now`), HTTP (`HttpPort`), actions and configuration (`env`) are
injected; nothing here stores, sleeps or opens sockets. Per turn, in order:

1. a timer event fires the timer it names (stale ids are ignored);
2. while a human has the conversation (`pending`/`agent`) user messages get no reply and
   desk events (`agent_joined`, `agent_released`, `closed`) move the handoff state;
3. if the top frame waits: always-on handlers first, then the waiting step consumes the
   input; a button payload that matches a trigger, or (in interruptible flows) any trigger,
   interrupts it with a digression that re-prompts the step when it ends; otherwise the
   step's retry ladder runs;
4. otherwise triggers are ranked (payload > regex > keywords, then flow priority); with no
   match, `session_start` (first message of a session) or `no_match` runs;
5. steps run until a waiting step, `end`, or the per-turn step budget.

A flow error never escapes `run_turn`: the `error` handler runs and `TurnResult.error` says
what happened and at which `file:line:col`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from . import corrections, routing, turn_trace
from . import models as M
from .actions import ActionRegistry
from .compiled import BotVersion, CompiledStep
from .errors import FlowError, describe_exception
from .http import HttpPort, redact
from .inputs import TurnEvent, coerce_stored, normalise_event
from .matching import Candidate
from .replies import ReplyBuilder, attach_options
from .state import ConvState, Frame, FrameKind, HandoffState, TimerState, copy_json
from .steps import kind_of
from .steps.choose import typed_option_as_click
from .steps.wait import consume_wait
from .templating import EnvScope, Scope, plain
from .text import normalise
from .turn_io import HandoffRequest, TimerRequest, TurnInput, TurnResult

DESK_EVENTS = frozenset({"agent_joined", "agent_released", "closed"})
MAX_DEPTH = 32  # nested flows (calls and digressions) per conversation
DEFAULT_TEXTS = {
    "no_match": "Sorry, I didn't understand that.",
    "error": "Sorry, something went wrong on my side. Please try again later.",
    "version_gone": "Sorry, I was updated and lost track of our conversation. Let's start again.",
    "resume": "Shall we go back to where we were?",
}
RESUME_YES, RESUME_NO = "RESUME_YES", "RESUME_NO"  # the quick replies of after_interruption: ask
_YES = frozenset({"yes", "y", "yeah", "yep", "sure", "ok", "okay", "oui", "1"})
_NO = frozenset({"no", "n", "nope", "no thanks", "non", "2"})
_CHOICE_TYPES = frozenset({"buttons", "single-choice", "carousel", "card"})
_PURPOSES = {
    "reply": "a reply",
    "value": "a set, with, return or into value",
    "condition": "a condition",
    "http": "an http step",
}


__all__ = ["Engine", "FlowError", "HandoffRequest", "TimerRequest", "Turn", "TurnInput", "TurnResult"]


class Engine:
    """Runs turns of one bot version."""

    def __init__(self, bot: BotVersion, *, http: HttpPort, actions: ActionRegistry, env: Mapping[str, str]):
        self.bot = bot
        self.http = http
        self.actions = actions
        self.env = dict(env)
        # values that must never show in traces (short ones would mask too much)
        self.secrets = tuple(v for v in self.env.values() if isinstance(v, str) and len(v) >= 4)
        # each secret as it reads inside a JSON string (escaping is per character)
        self.secret_needles = tuple(orjson.dumps(s).decode()[1:-1] for s in self.secrets)

    async def run_turn(self, inp: TurnInput) -> TurnResult:
        """Run one turn. Never raises for flow errors (see `TurnResult.error`)."""
        return await Turn(self, inp).run()

    async def run_from(
        self, inp: TurnInput, flow: str, step: str | None = None, params: Mapping[str, Any] | None = None
    ) -> TurnResult:
        """Run `flow` from `step` (its entry by default) without an inbound message, until it
        waits or ends, as if the conversation had got there: how `orchestrator test` starts
        mid-flow (`start_at`). `inp.event` is ignored; `inp.conv_state` gives the state."""
        return await Turn(self, inp).run_from(flow, step, dict(params or {}))


# ------------------------------------------------------------------ one turn


class Turn:
    """One turn in progress: frames, state, trace and scopes. What each step kind does lives
    in `steps/` (one table, `steps.STEPS`)."""

    def __init__(self, engine: Engine, inp: TurnInput):
        self.e = engine
        self.bot = engine.bot
        self.inp = inp
        self.templates = engine.bot.templates
        now = inp.now if inp.now.tzinfo else inp.now.replace(tzinfo=UTC)
        self.now = now
        self.local_now = now.astimezone(self.bot.timezone)
        self.locale = inp.locale or self.bot.default_locale
        self.replies: list[dict[str, Any]] = []
        self.marks: dict[int, int] = {}  # id(frame) -> replies sent before it was pushed this turn
        self.seeded = False  # inp.flow_vars given to a flow already
        self.intent: dict[str, Any] | None = None  # turn.intent: the examples trigger that matched
        self.did_you_mean: list[dict[str, Any]] = []  # turn.did_you_mean: intents it came close to
        self.handoff: HandoffRequest | None = None
        self.ended: str | None = None
        self.error: str | None = None
        self.last_error: str | None = None
        self.attempt = 0
        self.steps_run = 0
        self.budget = self.bot.limits.max_steps_per_turn
        self.current: CompiledStep | None = None
        self.entry: dict[str, Any] | None = None  # trace entry of the step being run
        self.trace = turn_trace.new(now, self.bot)
        self.state = ConvState(self.bot.id, self.bot.version)
        self.user: dict[str, Any] = {}
        self.turn = TurnEvent("event", event="none")
        self.captures: dict[str, str | None] = {}  # a winning regex's named groups (turn.*)
        self.consumed = False  # a question took this turn's input as its answer (no prefill)
        hours = self.bot.business_hours
        self.open = hours.is_open(now, self.bot.timezone) if hours else True

    # ------------------------------------------------------------ entry
    async def run(self) -> TurnResult:
        started = time.perf_counter()
        self.state = self.load_state()
        self.user = self.load_user()
        try:
            self.turn = normalise_event(self.inp.event)
        except ValueError as exc:
            self.error = str(exc)
            return self.result(started)
        self.trace["input"] = {k: v for k, v in self.turn.scope().items() if k != "raw"}
        self.trace["state_in"] = turn_trace.position(self.state)
        self.builder = ReplyBuilder(self.bot, self.templates, self.locale, self.state.rotation)
        try:
            await self.dispatch()
        except FlowError as exc:
            await self.fail(exc)
        except Exception as exc:  # an engine bug must not take the service down
            await self.fail(FlowError(f"internal error: {exc!r}", self.current))
        return self.result(started)

    async def run_from(self, flow_id: str, step_id: str | None, params: dict[str, Any]) -> TurnResult:
        started = time.perf_counter()
        self.state = self.load_state()
        self.user = self.load_user()
        self.turn = TurnEvent("event", event="start_at", data={"flow": flow_id, "step": step_id})
        self.trace["input"] = {k: v for k, v in self.turn.scope().items() if k != "raw"}
        self.trace["state_in"] = turn_trace.position(self.state)
        self.trace["route"] = f"start at {flow_id}" + (f".{step_id}" if step_id else "")
        self.builder = ReplyBuilder(self.bot, self.templates, self.locale, self.state.rotation)
        try:
            self.ensure_session()
            self.state.frames.clear()
            self.push(flow_id, "root", params)
            if step_id is not None:
                if self.bot.step(flow_id, step_id) is None:
                    raise FlowError(f"step '{step_id}' does not exist in flow '{flow_id}'")
                self.state.frames[-1].pc = step_id
            await self.run_frames()
        except FlowError as exc:
            await self.fail(exc)
        return self.result(started)

    def load_state(self) -> ConvState:
        data = self.inp.conv_state
        if data:
            try:
                return ConvState.from_json(copy_json(data))
            except (KeyError, TypeError, ValueError) as exc:
                self.trace["state_error"] = f"unreadable state, starting over: {exc!r}"
        return ConvState(self.bot.id, self.bot.version)

    def load_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {}
        stored_vars = self.inp.user_vars
        for key, default, persist in self.bot.user_variables:
            stored = stored_vars.get(key) if persist else None
            user[key] = own_copy(default) if stored is None else stored
        return user

    def result(self, started: float) -> TurnResult:
        st = self.state
        for f in st.frames:  # an interruption still running when the turn ends is a new topic
            if f.kind == "digression" and not f.aside:
                f.topic = True
        timers = [
            TimerRequest(t.id, datetime.fromisoformat(t.due), {"timer_id": t.id, "kind": t.kind})
            for t in st.timers()
        ]
        persisted = self.bot.persisted_user
        self.trace = turn_trace.finish(
            self.trace,
            st,
            self.replies,
            self.error,
            time.perf_counter() - started,
            self.e.secret_needles,
            self.e.secrets,
        )
        return TurnResult(
            conv_state=st.to_json(),
            user_vars={
                **self.inp.user_vars,
                **{k: v for k, v in self.user.items() if k in persisted},
            },
            replies=self.replies,
            timers=timers,
            handoff=self.handoff,
            handoff_state=st.handoff.state,
            ended=self.ended,
            waiting=bool(st.frames and st.frames[-1].wait),
            error=self.error,
            trace=self.trace,
        )

    # ------------------------------------------------------------ routing
    async def dispatch(self) -> None:
        t, st = self.turn, self.state
        if st.session:
            self.ensure_session()  # variables declared by a newer bot version get defaults
        if t.event == "timer":
            await self.on_timer()
            return
        if st.handoff.state in ("pending", "agent"):
            await self.on_desk()
            return
        if st.handoff.state == "released":
            st.handoff.state = "bot"
        if t.event == "closed":
            self.close()
            return
        if t.event in DESK_EVENTS:
            self.trace["route"] = f"ignored: {t.event} while the bot has the conversation"
            return
        if st.handoff.state == "closed":
            st.handoff = HandoffState()
        if not await self.check_version():
            return
        if t.is_user_message:
            st.turns += 1
            self.touch_session()
        top = st.frames[-1] if st.frames else None
        if top is not None and (top.wait is None or top.wait.kind == "handoff"):
            # a state saved mid-run, or a handoff the desk no longer has: start clean
            st.frames.clear()
            top = None
        if top is not None:
            await self.on_answer(top)
        else:
            await self.on_free()

    async def check_version(self) -> bool:
        """Continue on a new bot version when every frame's step still exists; otherwise run
        `version_gone`. False when the input has been consumed."""
        st, bot = self.state, self.bot
        if st.version == bot.version and st.bot_id == bot.id:
            return True
        same = st.bot_id == bot.id
        ok = same
        for f in st.frames if same else []:
            for sid in (f.pc, f.wait.step if f.wait else None):
                if sid is None:
                    continue
                step = bot.step(f.flow, sid)
                # generated ids (~3) only mean something within the version that made them
                if step is None or not step.explicit_id or (f.wait and f.wait.kind != step.kind):
                    ok = False
        st.bot_id, st.version = bot.id, bot.version
        if ok or not st.frames:
            return True
        self.trace["route"] = "version_gone"
        st.frames.clear()
        handler = routing.find_handler(self, "version_gone")
        if handler is not None:
            self.push(handler.flow, "root", dict(handler.with_))
            await self.run_frames()
            return False
        self.say_text(DEFAULT_TEXTS["version_gone"])
        st.session = False
        return True

    def touch_session(self) -> None:
        timeout = self.bot.limits.session_timeout
        if timeout:
            due = (self.now + timedelta(seconds=timeout)).isoformat()
            self.state.session_timer = TimerState(self.state.next_id("s"), due, "session")

    def ensure_session(self) -> bool:
        """Start a session if none is running; True when one was just started."""
        st = self.state
        fresh = not st.session
        if fresh:
            st.session = True
            st.conv = {}
        conv = st.conv
        for name, default in self.bot.conv_variables:
            if name not in conv:  # copy only what is missing
                conv[name] = own_copy(default)
        return fresh

    # ------------------------------------------------------------ timers and desk
    async def on_timer(self) -> None:
        st = self.state
        tid = self.turn.data.get("timer_id")
        if st.session_timer and st.session_timer.id == tid:
            self.trace["route"] = "session timeout"
            if st.session:
                self.end_conversation("abandoned")
            st.session_timer = None
            return
        top = st.frames[-1] if st.frames else None
        if top is None or top.wait is None or top.wait.timer is None or top.wait.timer.id != tid:
            self.trace["route"] = f"stale timer {tid}"
            return
        if not await self.check_version():
            return
        kind = top.wait.timer.kind
        top.wait.timer = None
        step = self.waiting_step(top)
        self.trace["route"] = f"timer {kind} at {step.id}"
        if kind == "duration":
            top.wait = None
            top.pc = step.next
        elif "on_timeout" in step.branches:
            top.wait = None
            top.pc = step.branches["on_timeout"]
            self.trace["steps"].append({"flow": step.flow, "step": step.id, "branch": "on_timeout"})
        else:
            handler = routing.find_handler(self, "timeout")
            if handler is None:
                return  # keep waiting, silently
            self.push(handler.flow, "digression", dict(handler.with_), aside=True)
        await self.run_frames()

    async def on_desk(self) -> None:
        t, hs = self.turn, self.state.handoff
        if t.is_user_message:
            self.trace["route"] = f"desk: forwarded to the agent ({hs.state}), no bot reply"
            return
        self.trace["route"] = f"desk: {t.event}"
        if t.event == "agent_joined":
            hs.state = "agent"
        elif t.event == "agent_released":
            await self.release()
        elif t.event == "closed":
            self.close()

    async def release(self) -> None:
        st = self.state
        st.handoff.state = "released"
        top = st.frames[-1] if st.frames else None
        step = self.bot.step(top.flow, top.wait.step) if top and top.wait else None
        if top is not None and top.wait is not None and step is not None:
            top.wait = None
            if "on_released" in step.branches:
                top.pc = step.branches["on_released"]
                self.trace["steps"].append({"flow": step.flow, "step": step.id, "branch": "on_released"})
                await self.run_frames()
                return
            top.pc = step.next
        else:
            st.frames.clear()
        handler = routing.find_handler(self, "agent_released")
        if handler is not None:
            self.push(handler.flow, "handler" if st.frames else "root", dict(handler.with_))
        await self.run_frames()

    def close(self) -> None:
        st = self.state
        active = st.handoff.state in ("pending", "agent")
        running = st.session or bool(st.frames)
        st.handoff.state = "closed"
        self.trace["route"] = self.trace["route"] or "closed"
        if running:
            self.end_conversation("handed_off" if active else "abandoned")

    # ------------------------------------------------------------ free input
    async def on_free(self) -> None:
        t = self.turn
        triggers = routing.flow_triggers(self) + routing.handler_triggers(self, always=None)
        winner = routing.candidates(self, triggers, "trigger")
        if winner is not None:
            self.ensure_session()
            flow, params = routing.handler_of(self, winner)
            self.trace["route"] = f"trigger → {flow}"
            self.push(flow, "root", params)
        elif not t.is_user_message:
            self.trace["route"] = f"ignored event {t.event}"
            return
        else:
            routing.suggest(self, triggers)
            fresh = self.ensure_session()
            handler = routing.find_handler(self, "session_start") if fresh else None
            if handler is None:
                handler = routing.find_handler(self, "no_match")
                self.trace["route"] = "no_match"
            else:
                self.trace["route"] = "session_start"
            if handler is None:
                self.say_text(DEFAULT_TEXTS["no_match"])
                return
            self.push(handler.flow, "root", dict(handler.with_))
        await self.run_frames()

    # ------------------------------------------------------------ answers to waiting steps
    async def on_answer(self, frame: Frame) -> None:
        assert frame.wait is not None
        step = self.waiting_step(frame)
        self.current = step
        self.attempt = frame.wait.attempt
        self.trace["route"] = f"answer to {step.flow}.{step.id}"
        if frame.wait.confirm:
            await self.on_resume_answer(frame)
            return
        if isinstance(step.model, M.ChooseStep) and self.turn.type == "text":
            typed_option_as_click(self, frame, step)
        winner = routing.candidates(self, routing.handler_triggers(self, always=True), "always-on handler")
        if winner is not None:
            await self.interrupt(frame, winner)
            return
        with self.at(step):
            if not self.turn.is_user_message:
                await self.event_while_waiting(frame, step)
                return
            if self.turn.type == "text" and (fix := corrections.find(self, frame, step)):
                await corrections.apply(self, frame, step, fix)
                return
            answer = kind_of(step).answer
            if answer is None:
                raise FlowError(f"a {step.kind} step takes no answer", step)
            await answer(self, frame, step)

    async def interrupt(self, frame: Frame, winner: Candidate) -> None:
        if frame.wait is not None:
            frame.wait.timer = None
        flow, params = routing.handler_of(self, winner)
        self.trace["route"] = f"interruption → {flow}"
        self.push(flow, "digression", params)
        await self.run_frames()

    async def event_while_waiting(self, frame: Frame, step: CompiledStep) -> None:
        spec = step.model.wait if isinstance(step.model, M.WaitStep) else None
        if spec is not None and spec.event == self.turn.event:
            await consume_wait(self, frame, step, spec, self.turn.data)
            return
        winner = routing.candidates(
            self, [t for t in routing.flow_triggers(self) if t.kind == "event"], "event"
        )
        if winner is not None:
            await self.interrupt(frame, winner)
        else:
            self.trace["route"] = f"ignored event {self.turn.event} while waiting at {step.id}"

    # ------------------------------------------------------------ the step loop
    @contextmanager
    def at(self, step: CompiledStep) -> Iterator[None]:
        """Turn any exception raised while handling `step` into a located FlowError."""
        previous, self.current = self.current, step
        try:
            yield
        except FlowError:
            raise
        except Exception as exc:
            raise FlowError(describe_exception(exc), step) from exc
        finally:
            self.current = previous

    async def run_frames(self) -> None:
        frames = self.state.frames
        while frames:
            frame = frames[-1]
            if frame.wait is not None:
                return
            if frame.pc is None:
                await self.pop(None)
                continue
            step = self.bot.step(frame.flow, frame.pc)
            if step is None:
                raise FlowError(f"step '{frame.pc}' does not exist in flow '{frame.flow}'")
            self.steps_run += 1
            if self.steps_run > self.budget:
                raise FlowError(
                    f"step budget exceeded: more than {self.budget} steps in one turn "
                    "(a loop without a waiting step?)",
                    step,
                )
            entry: dict[str, Any] = {
                "flow": step.flow,
                "step": step.id,
                "kind": step.kind,
                "at": str(step.pos),
            }
            self.trace["steps"].append(entry)
            self.entry = entry
            with self.at(step):
                if step.model.when is not None:
                    ok = self.cond(step.model.when, frame)
                    if not ok:
                        entry["skipped"] = True
                        frame.pc = step.next
                        continue
                await kind_of(step).run(self, frame, step)

    def push(self, flow_id: str, kind: FrameKind, params: dict[str, Any], *, aside: bool = False) -> None:
        flow = self.bot.flows.get(flow_id)
        if flow is None:
            raise FlowError(f"unknown flow '{flow_id}'", self.current)
        if len(self.state.frames) >= MAX_DEPTH:
            raise FlowError(
                f"more than {MAX_DEPTH} nested flows (endless calls or interruptions?)",
                self.current,
            )
        variables: dict[str, Any] = {}
        for name, decl in flow.params.items():
            if name in params:
                variables[name] = plain(params[name])
            elif decl.default is not None:
                variables[name] = own_copy(decl.default)
            elif decl.is_required:
                raise FlowError(f"flow '{flow_id}' needs param '{name}'", self.current)
            else:
                variables[name] = None
        for name, value in params.items():
            variables.setdefault(name, plain(value))
        if self.inp.flow_vars and not self.seeded:  # a test's given.flow, for the first flow started
            self.seeded = True
            variables.update(plain(self.inp.flow_vars))
        frame = Frame(flow_id, flow.entry, variables, kind, aside=aside)
        self.state.frames.append(frame)
        self.marks[id(frame)] = len(self.replies)
        self.trace["steps"].append({"enter": flow_id, "as": kind})

    async def pop(self, value: Any) -> None:
        frames = self.state.frames
        frame = frames.pop()
        self.trace["steps"].append({"exit": frame.flow})
        if not frames:
            return
        parent = frames[-1]
        if frame.kind == "call":
            call = self.bot.step(parent.flow, parent.pc) if parent.pc else None
            if call is not None and isinstance(call.model, M.CallStep) and call.model.into:
                self.write(call.model.into, value, parent)
            parent.pc = call.next if call is not None else None
        elif frame.kind == "digression" and parent.wait is not None:
            if frame.aside or not self.started_topic(frame):
                await self.resume(parent)
            else:
                await self.after_topic(parent)

    def started_topic(self, frame: Frame) -> bool:
        """Whether an interruption started a new topic: it outlived its turn, or offered choices
        (buttons, quick replies, cards). A short aside (an answer, then nothing) did not."""
        if frame.topic or id(frame) not in self.marks:
            return True
        return any(_offers_choices(r) for r in self.replies[self.marks[id(frame)] :])

    async def after_topic(self, frame: Frame) -> None:
        """A new topic interrupted `frame`'s question and has ended: its flow's policy."""
        assert frame.wait is not None
        flow = self.bot.flows.get(frame.flow)
        policy = flow.model.after_interruption if flow and flow.model else "drop"
        self.trace["steps"].append({"interrupted": frame.wait.step, "flow": frame.flow, "then": policy})
        if policy == "resume":
            await self.resume(frame)
        elif policy == "ask":
            prompt = flow.model.resume_prompt if flow and flow.model else None
            ctx = self.ctx("reply", frame)
            payloads = self.builder.build(prompt if prompt is not None else DEFAULT_TEXTS["resume"], ctx)
            options = [("Yes", RESUME_YES), ("No", RESUME_NO)]
            self.replies.extend(attach_options(payloads, options, "quick_replies"))
            frame.wait.confirm = True
            frame.wait.timer = None
        else:
            self.state.frames.clear()

    async def on_resume_answer(self, frame: Frame) -> None:
        """The answer to "shall we go back?": yes asks the question again; no drops the flow;
        anything else drops it and is handled as a new message."""
        assert frame.wait is not None
        frame.wait.confirm = False
        t = self.turn
        said = normalise(t.text or "")
        if t.payload == RESUME_YES or (t.type == "text" and said in _YES):
            self.trace["route"] = f"back to {frame.flow}.{frame.wait.step}"
            await self.resume(frame)
            return
        self.state.frames.clear()
        if t.payload == RESUME_NO or (t.type == "text" and said in _NO):
            self.trace["route"] = f"not back to {frame.flow}"
            return
        await self.on_free()

    async def resume(self, frame: Frame) -> None:
        """Re-enter a waiting step after a digression: re-prompt and re-arm its timer."""
        step = self.waiting_step(frame)
        self.trace["steps"].append({"resume": step.id, "flow": step.flow})
        with self.at(step):
            kind_of(step).resume(self, frame, step)

    def waiting_step(self, frame: Frame) -> CompiledStep:
        assert frame.wait is not None
        step = self.bot.step(frame.flow, frame.wait.step)
        if step is None:
            raise FlowError(f"step '{frame.wait.step}' does not exist in flow '{frame.flow}'")
        return step

    # ------------------------------------------------------------ timers
    def arm_timer(self, frame: Frame, seconds: float | None, kind: str = "timeout") -> None:
        """Arm (or, with no seconds, drop) the waiting frame's timer."""
        if frame.wait is None:
            return
        if not seconds:
            frame.wait.timer = None
            return
        due = (self.now + timedelta(seconds=seconds)).isoformat()
        frame.wait.timer = TimerState(self.state.next_id("t"), due, kind)  # type: ignore[arg-type]

    # ------------------------------------------------------------ errors and ending
    def end_conversation(self, outcome: str) -> None:
        st = self.state
        self.ended = outcome
        st.frames.clear()
        st.session = False
        st.session_timer = None
        st.conv = {}
        self.trace["steps"].append({"end": outcome})

    async def fail(self, exc: FlowError) -> None:
        # Error text can quote the values a failing expression read (env.* included): it is
        # redacted before it reaches sys.error, replies, stored messages, logs and traces.
        self.error = redact(exc.describe(), self.e.secrets)
        self.last_error = redact(exc.message, self.e.secrets)
        self.trace["error"] = self.error
        handler = routing.find_handler(self, "error")
        self.state.frames.clear()
        if handler is None:
            self.say_text(DEFAULT_TEXTS["error"])
            return
        self.steps_run = 0  # the error handler gets a budget of its own
        try:
            self.push(handler.flow, "root", dict(handler.with_))
            await self.run_frames()
        except Exception as again:  # the error handler failed too: stop here
            described = again.describe() if isinstance(again, FlowError) else describe_exception(again)
            self.trace["error_handler_error"] = redact(described, self.e.secrets)
            self.state.frames.clear()
            self.say_text(DEFAULT_TEXTS["error"])

    def took(self, branch: str) -> None:
        """Record in the trace which branch the running step took."""
        if self.entry is not None:
            self.entry["branch"] = branch

    def say_text(self, text: str) -> None:
        self.replies.append({"type": "text", "text": text})

    def say_default(self, name: str) -> None:
        """Say the built-in text for `no_match`, `error` or `version_gone`."""
        self.say_text(DEFAULT_TEXTS[name])

    # ------------------------------------------------------------ variables and templates
    def ctx(self, purpose: str, frame: Frame | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        st = self.state
        top = frame or (st.frames[-1] if st.frames else None)
        sys_values = {
            "now": self.local_now,
            "today": self.local_now.date().isoformat(),
            "locale": self.locale,
            "channel": self.inp.channel,
            "attempt": self.attempt,
            "handoff": {"state": st.handoff.state, "queue": st.handoff.queue},
            "conversation_id": self.inp.conversation_id,
            "user_id": self.inp.user_id,
            "bot": {"id": self.bot.id, "version": self.bot.version},
            "flow": top.flow if top else None,
            "step": top.pc if top else None,
            "agents_available": self.inp.agents_available,
            "open": self.open,
            "error": self.last_error,
            "turns": st.turns,
        }
        ctx = {
            "turn": Scope("turn", self.turn_scope()),
            "flow": Scope("flow", frame.vars if frame else {}),
            "conv": Scope("conv", st.conv),
            "user": Scope("user", self.user),
            "sys": Scope("sys", sys_values),
            "env": EnvScope(self.e.env, allowed=purpose in ("http", "condition"), purpose=_PURPOSES[purpose]),
        }
        if extra:
            ctx.update(extra)
        return ctx

    def turn_scope(self) -> dict[str, Any]:
        """`turn.*`: the input, the intent matched (or the ones it came close to), and the named
        groups of regex triggers (None unless the winning trigger of this turn captured them;
        built-in names win over groups)."""
        scope = {**self.turn.scope(), "intent": self.intent, "did_you_mean": self.did_you_mean}
        if not self.bot.captures:
            return scope
        groups = dict.fromkeys(self.bot.captures)
        groups.update(self.captures)
        return {**groups, **scope}

    def cond(self, expression: str, frame: Frame | None) -> bool:
        value = self.templates.truthy(expression, self.ctx("condition", frame))
        record = {"expr": expression, "value": value}
        if self.entry is not None:
            self.entry.setdefault("conditions", []).append(record)
        else:
            self.trace["steps"].append({"condition": record})
        return value

    def container(self, scope: str, frame: Frame) -> dict[str, Any]:
        if scope == "flow":
            return frame.vars
        if scope == "conv":
            return self.state.conv
        if scope == "user":
            return self.user
        raise FlowError(f"cannot write the read-only scope '{scope}'", self.current)

    def read(self, target: str, frame: Frame) -> Any:
        scope, *parts = target.split(".")
        value: Any = self.container(scope, frame)
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    def write(self, target: str, value: Any, frame: Frame) -> None:
        scope, *parts = target.split(".")
        value = plain(value)
        if scope in ("conv", "user"):
            decl = self.bot.variables.get(f"{scope}.{parts[0]}")
            if scope == "user" and (decl is None or not decl.persist):
                raise FlowError(f"'{target}' is not a declared persistent user variable", self.current)
            if decl is not None and len(parts) == 1:
                value = coerce_stored(decl.type, value)
            if decl is not None and len(parts) == 1 and not _type_ok(decl, value):
                raise FlowError(
                    f"'{target}' is declared {decl.type}, cannot store {value!r}"
                    + _TYPE_HINTS.get(decl.type, ""),
                    self.current,
                )
        box = self.container(scope, frame)
        for part in parts[:-1]:
            nxt = box.get(part)
            if not isinstance(nxt, dict):
                nxt = box[part] = {}
            box = nxt
        old = box.get(parts[-1])
        box[parts[-1]] = value
        if old != value:
            self.trace["vars"].append({"var": target, "old": old, "new": value})

    def unset(self, target: str, frame: Frame) -> None:
        scope, *parts = target.split(".")
        decl = self.bot.variables.get(f"{scope}.{parts[0]}") if len(parts) == 1 else None
        if decl is not None:
            self.write(target, own_copy(decl.default), frame)
            return
        box: Any = self.container(scope, frame)
        for part in parts[:-1]:
            box = box.get(part) if isinstance(box, dict) else None
        if isinstance(box, dict) and parts[-1] in box:
            old = box.pop(parts[-1])
            self.trace["vars"].append({"var": target, "old": old, "new": None})


_IMMUTABLE = (str, int, float, bool, type(None))


def own_copy(default: Any) -> Any:
    """A variable's own copy of its declared default (immutable ones are shared)."""
    return default if type(default) in _IMMUTABLE else copy.deepcopy(default)


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "email": (str,),
    "phone": (str,),
    "date": (str,),
    "enum": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


_TYPE_HINTS = {
    "int": " (numeric text is converted; to find a number in a sentence use `| extract_number`)",
    "float": " (numeric text is converted; to find an amount in a sentence use `| extract_amount`)",
    "email": " (to find an address in a sentence use `| extract_email`)",
    "date": " (to find a date in a sentence use `| extract_date`)",
    "enum": " (to find one of the values in a sentence use `| extract_choice([...])`)",
}


def _type_ok(decl: M.VariableDecl, value: Any) -> bool:
    """Whether a value fits a declared variable type (None always fits: "not set")."""
    if value is None or decl.type == "any":
        return True
    types = _TYPES[decl.type]
    if isinstance(value, bool) and bool not in types:
        return False
    if not isinstance(value, types):
        return False
    return decl.type != "enum" or not decl.values or value in decl.values


def _offers_choices(reply: dict[str, Any]) -> bool:
    """Whether a reply offers the user something to pick (buttons, quick replies, cards)."""
    return reply.get("type") in _CHOICE_TYPES or bool(reply.get("quick_replies"))
