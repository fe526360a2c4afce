"""Every step kind's handlers, in one table keyed by the step's model class.

`Turn` (runtime.py) keeps frames, state, trace and scopes; what a step *does* lives here, one
module per kind (or family of kinds). To find every caller of a step, grep its function name:
the table below is the only place that names them for the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .. import models as M
from ..compiled import CompiledStep
from .ask import answer_ask, run_ask
from .base import StepKind
from .choose import answer_choose, run_choose
from .control import run_call, run_end, run_goto, run_if, run_return, run_set, run_start, run_switch
from .do import run_do
from .handoff import run_handoff
from .http import run_http
from .prompts import resume_prompt
from .say import run_say
from .wait import answer_wait, resume_wait, run_wait

STEPS: Mapping[type[M.StepBase], StepKind] = MappingProxyType(
    {
        M.SayStep: StepKind(run=run_say),
        M.AskStep: StepKind(run=run_ask, answer=answer_ask, resume=resume_prompt),
        M.ChooseStep: StepKind(run=run_choose, answer=answer_choose, resume=resume_prompt),
        M.WaitStep: StepKind(run=run_wait, answer=answer_wait, resume=resume_wait),
        M.SetStep: StepKind(run=run_set),
        M.IfStep: StepKind(run=run_if),
        M.SwitchStep: StepKind(run=run_switch),
        M.GotoStep: StepKind(run=run_goto),
        M.CallStep: StepKind(run=run_call),
        M.ReturnStep: StepKind(run=run_return),
        M.StartStep: StepKind(run=run_start),
        M.HttpStep: StepKind(run=run_http),
        M.DoStep: StepKind(run=run_do),
        M.HandoffStep: StepKind(run=run_handoff),
        M.EndStep: StepKind(run=run_end),
    }
)


def kind_of(step: CompiledStep) -> StepKind:
    """The handlers of a compiled step's kind."""
    return STEPS[type(step.model)]


__all__ = ["STEPS", "StepKind", "kind_of"]
