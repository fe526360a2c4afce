"""What a step kind provides: how it runs, and (for waiting kinds) how it takes an answer
and how it is re-entered after a digression."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..compiled import CompiledStep
from ..state import Frame

if TYPE_CHECKING:
    from ..runtime import Turn

StepFn = Callable[["Turn", Frame, CompiledStep], Awaitable[None]]
ResumeFn = Callable[["Turn", Frame, CompiledStep], None]


def no_timer(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Resume a waiting step that has no timeout of its own: its timer is dropped."""
    turn.arm_timer(frame, None)


@dataclass(frozen=True, slots=True)
class StepKind:
    """One step kind's handlers.

    `run` executes the step when the frame reaches it; `answer` consumes a user message while
    the step waits; `resume` re-enters the waiting step after a digression (re-prompt, re-arm
    its timer)."""

    run: StepFn
    answer: StepFn | None = None
    resume: ResumeFn = no_timer
