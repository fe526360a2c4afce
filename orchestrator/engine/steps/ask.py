"""`ask`: prompt for a typed value, validate it, store it `into` a variable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from .. import corrections, routing
from .. import models as M
from ..compiled import CompiledStep
from ..inputs import coerce
from ..state import Frame, Wait
from .prompts import retry, send_prompt

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_ask(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Prompt and wait, unless `skip_if_set` finds a valid value already stored."""
    spec = cast(M.AskStep, step.model).ask
    if corrections.skips(turn, frame, step, spec):
        frame.pc = step.next
        return
    frame.wait = Wait(step.id, "ask")
    turn.attempt = 1
    if spec.skip_if_set:
        current = turn.read(spec.into, frame)
        if current is not None and failing_check(turn, spec.validate_, current, frame) is None:
            frame.wait = None
            frame.pc = step.next
            return
    if spec.prefill and prefill(turn, frame, step, spec):
        return
    send_prompt(turn, frame, step, None, {})
    turn.arm_timer(frame, spec.timeout)


_NOT_PREFILLED = frozenset({"str", "any", "attachment"})


def prefill(turn: Turn, frame: Frame, step: CompiledStep, spec: M.AskSpec) -> bool:
    """`prefill: true`: the user's message of this turn, unless a question already took it as
    its answer, holds a valid value of the ask's type ("table for 4 with greek food" fills a
    number of people and a cuisine): store it and go on without asking."""
    if turn.consumed or turn.turn.type != "text" or spec.type in _NOT_PREFILLED:
        return False
    ok, value = coerce(spec.type, turn.turn, values=spec.values, today=turn.local_now.date())
    if not ok or failing_check(turn, spec.validate_, value, frame) is not None:
        return False
    turn.trace["steps"].append({"flow": step.flow, "step": step.id, "prefilled": value})
    turn.write(spec.into, value, frame)
    frame.wait = None
    frame.pc = step.next
    return True


async def answer_ask(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Take a user message as the answer: store it and go on, or interrupt, or retry."""
    spec = cast(M.AskStep, step.model).ask
    if turn.turn.type == "payload" and (c := routing.interruption(turn, frame, spec)):
        await turn.interrupt(frame, c)
        return
    if c := routing.trigger_first(turn, frame, spec):
        await turn.interrupt(frame, c)
        return
    ok, value = coerce(spec.type, turn.turn, values=spec.values, today=turn.local_now.date())
    failed = failing_check(turn, spec.validate_, value, frame) if ok else None
    turn.trace["steps"].append(
        {"flow": step.flow, "step": step.id, "answer": value, "valid": ok and not failed}
    )
    if ok and failed is None:
        turn.consumed = True
        turn.write(spec.into, value, frame)
        frame.wait = None
        frame.pc = step.next
        await turn.run_frames()
        return
    if turn.turn.type != "payload" and (c := routing.interruption(turn, frame, spec)):
        await turn.interrupt(frame, c)
        return
    await retry(turn, frame, step, failed, value)


def failing_check(turn: Turn, checks: list[M.Check], value: Any, frame: Frame) -> M.Check | None:
    """The first `validate` check the value fails, or None."""
    ctx = turn.ctx("condition", frame, {"value": value})
    for check in checks:
        if not turn.templates.truthy(check.check, ctx):
            return check
    return None
