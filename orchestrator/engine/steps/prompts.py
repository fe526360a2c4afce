"""Prompts of the steps that wait for an answer (`ask`, `choose`): sending, the retry
ladder, and re-prompting after a digression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import models as M
from ..compiled import CompiledStep
from ..errors import FlowError
from ..replies import attach_options
from ..state import Frame

if TYPE_CHECKING:
    from ..runtime import Turn


def prompt_spec(step: CompiledStep) -> M.AskSpec | M.ChooseSpec:
    """The spec of an `ask` or `choose` step."""
    model = step.model
    if isinstance(model, M.AskStep):
        return model.ask
    if isinstance(model, M.ChooseStep):
        return model.choose
    raise TypeError(f"a {step.kind} step has no prompt")


def send_prompt(turn: Turn, frame: Frame, step: CompiledStep, message: Any, extra: dict[str, Any]) -> None:
    """Send a waiting step's prompt (or `message` instead), options attached for choose."""
    spec = prompt_spec(step)
    ctx = turn.ctx("reply", frame, extra)
    payloads = turn.builder.build(message if message is not None else spec.prompt, ctx)
    if isinstance(spec, M.ChooseSpec):
        render_str = turn.templates.render_str
        shown = [
            [i, render_str(o.payload, ctx), render_str(o.title, ctx)]
            for i, o in enumerate(spec.options)
            if o.when is None or turn.cond(o.when, frame)
        ]
        if not shown:
            raise FlowError("no option of this choose step can be shown", step)
        assert frame.wait is not None
        frame.wait.options = shown
        payloads = attach_options(payloads, [(str(t), str(p)) for _, p, t in shown], spec.style)
    turn.replies.extend(payloads)


def resume_prompt(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Re-enter an `ask`/`choose` after a digression: prompt again and re-arm its timer."""
    turn.attempt = frame.wait.attempt if frame.wait else 1
    send_prompt(turn, frame, step, None, {})
    turn.arm_timer(frame, prompt_spec(step).timeout)


async def retry(turn: Turn, frame: Frame, step: CompiledStep, failed: M.Check | None, value: Any) -> None:
    """The retry ladder: a failing check's own `invalid`, else `reprompts[n]`, else
    `invalid`, else the prompt again; after `max_attempts` (never when it is `unlimited`),
    `on_fail`, else the next step with the variable unset."""
    spec = prompt_spec(step)
    wait = frame.wait
    assert wait is not None
    if spec.max_attempts != "unlimited" and wait.attempt >= spec.max_attempts:
        entry: dict[str, Any] = {"flow": step.flow, "step": step.id, "failed": True}
        if "on_fail" in step.branches:
            entry["branch"] = "on_fail"
        turn.trace["steps"].append(entry)
        frame.wait = None
        frame.pc = step.branches.get("on_fail", step.next)
        await turn.run_frames()
        return
    wait.attempt += 1
    turn.attempt = wait.attempt
    reprompts = spec.reprompts if isinstance(spec, M.AskSpec) else []
    message: Any = None
    if failed is not None and failed.invalid is not None:
        message = failed.invalid
    elif reprompts:
        message = reprompts[min(wait.attempt - 2, len(reprompts) - 1)]
    elif spec.invalid is not None:
        message = spec.invalid
    send_prompt(turn, frame, step, message, {"value": value})
    turn.arm_timer(frame, spec.timeout)
