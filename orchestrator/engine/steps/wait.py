"""`wait`: pause for a duration, an event, or any message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from .. import models as M
from .. import routing
from ..compiled import CompiledStep
from ..state import Frame, Wait

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_wait(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Start waiting, with its duration or timeout timer."""
    spec = cast(M.WaitStep, step.model).wait
    frame.wait = Wait(step.id, "wait")
    if spec.duration is not None:
        turn.arm_timer(frame, spec.duration, "duration")
    else:
        turn.arm_timer(frame, spec.timeout)


async def answer_wait(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """A user message while waiting: taken by `any_message`, else an interruption,
    `on_other`, or a `no_match` digression (the step keeps waiting)."""
    spec = cast(M.WaitStep, step.model).wait
    if spec.event == "any_message":
        await consume_wait(turn, frame, step, spec, turn.turn.scope())
        return
    if c := routing.interruption(turn, frame, spec):
        await turn.interrupt(frame, c)
        return
    if "on_other" in step.branches:
        frame.wait = None
        frame.pc = step.branches["on_other"]
        turn.trace["steps"].append({"flow": step.flow, "step": step.id, "branch": "on_other"})
    else:
        # keep waiting; an unrelated message is a misunderstanding, answered aside
        handler = routing.find_handler(turn, "no_match")
        if handler is None:
            turn.say_default("no_match")
            return
        if frame.wait is not None:
            frame.wait.timer = None
        turn.push(handler.flow, "digression", dict(handler.with_), aside=True)
    await turn.run_frames()


async def consume_wait(turn: Turn, frame: Frame, step: CompiledStep, spec: M.WaitSpec, value: Any) -> None:
    """The awaited event (or message) arrived: store it `into` and go on."""
    if spec.into:
        turn.write(spec.into, value, frame)
    frame.wait = None
    frame.pc = step.next
    turn.trace["steps"].append({"flow": step.flow, "step": step.id, "received": spec.event})
    await turn.run_frames()


def resume_wait(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Re-enter after a digression: re-arm the timeout (a duration does not restart)."""
    turn.arm_timer(frame, cast(M.WaitStep, step.model).wait.timeout)
