"""Trigger routing of a turn: which triggers are in scope, which one wins (and what the
trace and `turn.intent` say about it), and which handler runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import models as M
from .compiled import HandlerRef
from .matching import Candidate, CompiledTrigger, rank, suggestions
from .state import Frame

if TYPE_CHECKING:
    from .runtime import Turn


def flow_allowed(turn: Turn, c: Candidate) -> bool:
    """Whether the flow a candidate starts may start now (its `when`)."""
    if c.trigger.handler:
        return True
    flow = turn.bot.flows.get(c.trigger.target)
    if flow is None or flow.when is None:
        return flow is not None
    return turn.cond(flow.when, None)


def candidates(turn: Turn, triggers: list[CompiledTrigger], route: str) -> Candidate | None:
    """The winning candidate of these triggers, if any; the trace records all of them, and a
    winning intent or regex sets `turn.intent` or its `turn.*` groups."""
    found = [c for c in rank(triggers, turn.turn.probe()) if flow_allowed(turn, c)]
    if found and found[0].groups:
        turn.captures.update(found[0].groups)
    if found:
        described = [c.describe() for c in found]
        turn.trace["candidates"] = described
        turn.trace["winner"] = {**described[0], "reason": route}
        if found[0].trigger.kind == "examples":
            turn.intent = intent_of(found[0])
    return found[0] if found else None


def suggest(turn: Turn, triggers: list[CompiledTrigger]) -> None:
    """Intents the message came close to (`turn.did_you_mean`), when nothing matched."""
    near = [c for c in suggestions(triggers, turn.turn.probe()) if flow_allowed(turn, c)]
    turn.did_you_mean = [intent_of(c) for c in near]
    if near:
        turn.trace["did_you_mean"] = turn.did_you_mean


def handler_triggers(turn: Turn, *, always: bool | None) -> list[CompiledTrigger]:
    """Handler triggers in scope, flow-level ones (top frame first) shadowing globals."""
    seen: set[str] = set()
    found: list[CompiledTrigger] = []
    scopes = [
        turn.bot.flows[f.flow].handlers for f in reversed(turn.state.frames) if f.flow in turn.bot.flows
    ]
    for handlers in [*scopes, turn.bot.handlers]:
        for name, h in handlers.items():
            if name in seen:
                continue
            seen.add(name)
            if always is None or h.always == always:
                found.extend(h.triggers)
    return found


def flow_triggers(turn: Turn) -> list[CompiledTrigger]:
    """The triggers that start flows, as a new list."""
    return list(turn.bot.flow_triggers)


def find_handler(turn: Turn, name: str) -> HandlerRef | None:
    """The handler `name` in scope: the innermost flow's, else the bot's."""
    for f in reversed(turn.state.frames):
        flow = turn.bot.flows.get(f.flow)
        if flow is not None and name in flow.handlers:
            return flow.handlers[name]
    return turn.bot.handlers.get(name)


def handler_of(turn: Turn, c: Candidate) -> tuple[str, dict[str, Any]]:
    """The flow a winning candidate runs, with its params."""
    if not c.trigger.handler:
        return c.trigger.target, {}
    scope = turn.bot.flows.get(c.trigger.scope) if c.trigger.scope else None
    ref = (scope.handlers if scope else turn.bot.handlers)[c.trigger.target]
    return ref.flow, dict(ref.with_)


def interruption(turn: Turn, frame: Frame, spec: Any) -> Candidate | None:
    """A trigger that interrupts the waiting step: a payload always may (a button whose
    payload starts a flow is never invalid input); text only in interruptible flows."""
    triggers = flow_triggers(turn) + handler_triggers(turn, always=False)
    if turn.turn.type == "payload":
        return candidates(turn, [t for t in triggers if t.kind == "payload"], "interruption")
    flow = turn.bot.flows.get(frame.flow)
    interruptible = getattr(spec, "interruptible", None)
    if interruptible is None:
        interruptible = flow.interruptible if flow else True
    if not interruptible:
        return None
    return candidates(turn, triggers, "interruption")


def trigger_first(turn: Turn, frame: Frame, spec: M.AskSpec) -> Candidate | None:
    """With `triggers_first` (on the ask, else on its flow), a trigger that the text
    matches wins over the answer. Flows already running do not count (a flow never
    interrupts itself)."""
    first = spec.triggers_first
    if first is None:
        flow = turn.bot.flows.get(frame.flow)
        first = bool(flow and flow.model and flow.model.triggers_first)
    if not first or turn.turn.type != "text":
        return None
    running = {f.flow for f in turn.state.frames}
    triggers = flow_triggers(turn) + handler_triggers(turn, always=False)
    mine = [t for t in triggers if t.handler or t.target not in running]
    return candidates(turn, mine, "trigger before the answer (triggers_first)")


def intent_of(c: Candidate) -> dict[str, Any]:
    """An intent as flows see it: the flow (or handler) it starts, its score, the closest example."""
    return {"name": c.trigger.target, "score": round(c.score, 3), "example": c.matched}
