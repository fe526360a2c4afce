"""`say`: send replies."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .. import models as M
from ..compiled import CompiledStep
from ..state import Frame

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_say(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Render the step's replies and go on."""
    turn.replies.extend(turn.builder.build(cast(M.SayStep, step.model).say, turn.ctx("reply", frame)))
    frame.pc = step.next
