"""`do`: call a registered Python action; failures are flow data (`on_error`)."""

from __future__ import annotations

import copy
import json
import time
from typing import TYPE_CHECKING, Any, cast

from .. import models as M
from ..actions import ActionContext
from ..compiled import CompiledStep
from ..errors import FlowError, describe_exception
from ..http import redact
from ..state import Frame
from ..templating import plain
from .http import TRACED_BODY

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_do(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Call the action with copies of the scopes, trace it, store its result `into`."""
    spec = cast(M.DoStep, step.model)
    params = turn.templates.render(dict(spec.with_), turn.ctx("value", frame))
    actx = ActionContext(
        bot_id=turn.bot.id,
        conversation_id=turn.inp.conversation_id,
        user_id=turn.inp.user_id,
        channel=turn.inp.channel,
        locale=turn.locale,
        now=turn.local_now,
        env=turn.e.env,
        conv=copy.deepcopy(turn.state.conv),
        user=copy.deepcopy(turn.user),
        turn=turn.turn.scope(),
    )
    actions = turn.e.actions
    started = time.perf_counter()
    call: dict[str, Any] = {"type": "action", "name": spec.do, "step": step.id, "with": plain(params)}
    try:
        if spec.do not in actions:
            raise LookupError(f"unknown action '{spec.do}'")
        result = plain(await actions.call(spec.do, actx, params))
    except Exception as exc:  # action failures are flow data (on_error)
        call["error"] = redact(describe_exception(exc), turn.e.secrets)
        call["ms"] = round((time.perf_counter() - started) * 1000, 3)
        turn.trace["calls"].append(call)
        if "on_error" not in step.branches:
            raise FlowError(f"action '{spec.do}' failed: {call['error']}", step) from exc
        turn.last_error = call["error"]
        turn.took("on_error")
        frame.pc = step.branches["on_error"]
        return
    call["ms"] = round((time.perf_counter() - started) * 1000, 3)
    if len(json.dumps(result, default=str)) <= TRACED_BODY:
        call["result"] = result  # what `orchestrator record` turns into a mock
    turn.trace["calls"].append(call)
    if spec.into:
        turn.write(spec.into, result, frame)
    frame.pc = step.next
