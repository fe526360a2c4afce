"""`handoff`: queue the conversation for a person and wait until the desk releases it."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .. import models as M
from ..compiled import CompiledStep
from ..state import Frame, HandoffState, Wait
from ..turn_io import HandoffRequest

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_handoff(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Branch away when closed or without agents; otherwise request the handoff and wait."""
    spec = cast(M.HandoffStep, step.model).handoff
    entry = turn.entry if turn.entry is not None else {}
    if spec.check_hours and not turn.open:
        entry["handoff"] = "closed (outside business hours)"
        entry["branch"] = "when_closed"
        frame.pc = step.branches.get("when_closed", step.next)
        return
    if not turn.inp.agents_available:
        entry["handoff"] = "no agents available"
        entry["branch"] = "when_no_agents"
        frame.pc = step.branches.get("when_no_agents", step.next)
        return
    ctx = turn.ctx("reply", frame)
    render = turn.templates.render_str
    queue = render(spec.queue, ctx)
    turn.handoff = HandoffRequest(
        queue=queue,
        priority=spec.priority,
        summary=render(spec.summary, ctx) if spec.summary else "",
        tags=[render(t, ctx) for t in spec.tags],
    )
    turn.state.handoff = HandoffState("pending", queue, turn.now.isoformat())
    turn.state.session_timer = None
    frame.wait = Wait(step.id, "handoff")
    entry["handoff"] = f"pending in queue {queue}"
