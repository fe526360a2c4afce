"""The steps that only move the flow or its variables: `set`, `if`, `switch`, `goto`,
`call`, `return`, `start` and `end`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .. import models as M
from ..compiled import CompiledStep
from ..state import Frame
from ..templating import plain

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_set(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Write (or unset) variables."""
    model = cast(M.SetStep, step.model)
    ctx = turn.ctx("value", frame)
    for target, value in model.set.items():
        turn.write(target, turn.templates.render(value, ctx), frame)
    for target in model.unset:
        turn.unset(target, frame)
    frame.pc = step.next


async def run_if(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Branch to `then` or `else`."""
    value = turn.cond(cast(M.IfStep, step.model).if_, frame)
    name = "then" if value else "else"
    turn.took(name)
    frame.pc = step.branches.get(name, step.next)


async def run_switch(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Branch to the first case whose `when` holds, else to `else`."""
    for i, case in enumerate(cast(M.SwitchStep, step.model).switch):
        if case.when is not None and turn.cond(case.when, frame):
            turn.took(f"case:{i}")
            frame.pc = step.branches[f"case:{i}"]
            return
    turn.took("else")
    frame.pc = step.branches.get("else", step.next)


async def run_goto(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Jump (the compiled `next` is the target)."""
    frame.pc = step.next


async def run_call(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Run another flow as a subroutine; its `return` value goes `into` a variable."""
    model = cast(M.CallStep, step.model)
    params = turn.templates.render(dict(model.with_), turn.ctx("value", frame))
    turn.push(model.call, "call", params)


async def run_return(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Leave the flow with a value."""
    value = turn.templates.render(cast(M.ReturnStep, step.model).return_, turn.ctx("value", frame))
    await turn.pop(plain(value))


async def run_start(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Drop every frame and start another flow at the root."""
    model = cast(M.StartStep, step.model)
    params = turn.templates.render(dict(model.with_), turn.ctx("value", frame))
    turn.state.frames.clear()
    turn.push(model.start, "root", params)


async def run_end(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """End the conversation with its outcome."""
    turn.end_conversation(cast(M.EndStep, step.model).end or "resolved")
