"""Corrections: "sorry, I meant Joe" or "actually make it 40" at a later question of a flow
changes a value an earlier `correctable` ask stored, and the flow goes back to the steps after
that ask (a funds check runs again); asks whose variable is still set are skipped on the way,
until the flow is back at the question the user was at, so only what is missing is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from . import models as M
from .compiled import CompiledStep
from .inputs import TurnEvent, coerce
from .state import Frame

if TYPE_CHECKING:
    from .runtime import Turn

# "sorry, I meant Joe", "actually make it 40", "no wait, change it to 50 dollars", "I said Ann"
CUE = re.compile(
    r"(?i)^\s*(?:(?:no|nope|oops|sorry|wait|hmm|ah)\b[\s,.!]*)*"
    r"(?:(?:actually|i meant|i mean|i said|make it|make that|change it to|change that to|"
    r"it should be|should be|correction)\b[\s,:]*)+(?P<value>.+?)[\s.!]*$"
)


@dataclass(frozen=True, slots=True)
class Correction:
    """An earlier ask whose value the user corrects, with the new value."""

    step: CompiledStep
    value: Any


def find(turn: Turn, frame: Frame, current: CompiledStep) -> Correction | None:
    """The correction this text makes to an earlier, answered `correctable` ask of the
    frame's flow: asks with their own regex first, then typed asks (a number corrects the
    amount, not the name), then text asks; the latest in the flow first."""
    text = turn.turn.text or ""
    asks = [
        s
        for s in turn.bot.flow_steps(frame.flow)
        if isinstance(s.model, M.AskStep) and s.model.ask.correctable and s.id != current.id
    ]
    answered = [s for s in reversed(asks) if turn.read(cast(M.AskStep, s.model).ask.into, frame) is not None]
    ranked = sorted(answered, key=_rank)
    cue = CUE.match(text)
    for step in ranked:
        spec = cast(M.AskStep, step.model).ask
        if isinstance(spec.correctable, str):
            m = re.search(spec.correctable, text)
            raw = (m.groupdict().get("value") or m.group(0)) if m else None
        else:
            raw = cue.group("value") if cue else None
        if raw is None or (spec.type == "str" and spec.correctable is True and len(raw.split()) > 3):
            continue  # a text ask is corrected by a short value (a name), not a sentence
        ok, value = coerce(
            spec.type, TurnEvent("text", text=raw), values=spec.values, today=turn.local_now.date()
        )
        if ok and _valid(turn, spec, value, frame):
            return Correction(step, value)
    return None


def _rank(step: CompiledStep) -> int:
    spec = cast(M.AskStep, step.model).ask
    if isinstance(spec.correctable, str):
        return 0
    return 2 if spec.type in ("str", "any") else 1


def _valid(turn: Turn, spec: M.AskSpec, value: Any, frame: Frame) -> bool:
    from .steps.ask import failing_check

    return failing_check(turn, spec.validate_, value, frame) is None


async def apply(turn: Turn, frame: Frame, current: CompiledStep, fix: Correction) -> None:
    """Store the corrected value and run the flow again from the step after the corrected
    ask, skipping asks that still hold a value (see `skips`)."""
    spec = cast(M.AskStep, fix.step.model).ask
    old = turn.read(spec.into, frame)
    turn.trace["route"] = f"correction of {fix.step.flow}.{fix.step.id} at {current.id}"
    turn.trace["steps"].append(
        {"flow": fix.step.flow, "step": fix.step.id, "corrected": fix.value, "old": old, "at": current.id}
    )
    turn.consumed = True
    turn.write(spec.into, fix.value, frame)
    frame.wait = None
    frame.pc = fix.step.next
    frame.replay_to = current.id
    await turn.run_frames()


def skips(turn: Turn, frame: Frame, step: CompiledStep, spec: M.AskSpec) -> bool:
    """While a correction replays a flow (until it is back at the question the user was at),
    an ask whose variable is still set is not asked again; one without a value is asked (a
    funds check that failed again unset the amount) and the replay goes on after it."""
    if frame.replay_to is None:
        return False
    if step.id == frame.replay_to:
        frame.replay_to = None
        return False
    value = turn.read(spec.into, frame)
    if value is None:
        return False
    turn.trace["steps"].append({"flow": step.flow, "step": step.id, "kept": value})
    return True
