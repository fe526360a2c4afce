"""`choose`: offer options (buttons, quick replies or a numbered list) and branch on the pick."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

from .. import models as M
from .. import routing
from ..compiled import CompiledStep
from ..state import Frame, Wait
from ..text import normalise
from .prompts import retry, send_prompt

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_choose(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Show the options and wait."""
    if frame.replay_to == step.id:
        frame.replay_to = None  # a correction's replay is back where the user was
    frame.wait = Wait(step.id, "choose")
    turn.attempt = 1
    send_prompt(turn, frame, step, None, {})
    turn.arm_timer(frame, cast(M.ChooseStep, step.model).choose.timeout)


async def answer_choose(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Take a user message as a pick: follow the option, or interrupt, `on_other`, or retry."""
    spec = cast(M.ChooseStep, step.model).choose
    index = match_option(turn, frame, spec)
    if index is None and (c := routing.interruption(turn, frame, spec)):
        await turn.interrupt(frame, c)
        return
    if index is None:
        turn.trace["steps"].append({"flow": step.flow, "step": step.id, "option": None})
        if "on_other" in step.branches:
            turn.trace["steps"][-1]["branch"] = "on_other"
            frame.wait = None
            frame.pc = step.branches["on_other"]
            await turn.run_frames()
        else:
            await retry(turn, frame, step, None, turn.turn.text)
        return
    option = spec.options[index]
    turn.consumed = True
    turn.trace["steps"].append(
        {"flow": step.flow, "step": step.id, "option": option.payload, "branch": f"option:{index}"}
    )
    ctx = turn.ctx("value", frame)
    for target, value in (option.set or {}).items():
        turn.write(target, turn.templates.render(value, ctx), frame)
    if spec.into:
        turn.write(spec.into, option.payload, frame)
    frame.wait = None
    frame.pc = step.branches.get(f"option:{index}", step.next)
    await turn.run_frames()


def typed_option_as_click(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Typing an option (its number, title or a keyword) is clicking it: the turn becomes
    that option's payload, so handlers and triggers see it exactly as a button press."""
    index = match_option(turn, frame, cast(M.ChooseStep, step.model).choose)
    shown = (frame.wait.options if frame.wait else None) or []
    payload = next((p for i, p, _ in shown if i == index), None)
    if payload is not None:
        turn.turn = dataclasses.replace(turn.turn, type="payload", payload=payload)


def match_option(turn: Turn, frame: Frame, spec: M.ChooseSpec) -> int | None:
    """The index of the shown option the input picks: by payload, number, title or keyword."""
    t = turn.turn
    shown = (frame.wait.options if frame.wait else None) or []
    if t.type == "payload":
        return next((i for i, p, _ in shown if p == t.payload), None)
    if not t.text:
        return None
    text = normalise(t.text)
    tokens = text.split()
    for position, (i, payload, title) in enumerate(shown, 1):
        if text in (normalise(title), normalise(payload), str(position)):
            return i
    for i, _, _ in shown:
        for kw in spec.options[i].keywords:
            words = normalise(kw).split()
            n = len(words)
            if n and any(tokens[k : k + n] == words for k in range(len(tokens) - n + 1)):
                return i
    return None
