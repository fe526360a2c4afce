"""The step table covers every step kind the language has, and only those."""

from orchestrator.engine import models as M
from orchestrator.engine.steps import STEPS


def test_every_step_model_has_handlers():
    assert set(STEPS) == set(M.STEP_MODELS.values())


def test_waiting_kinds_take_answers_except_handoff():
    answering = {model.KIND for model, kind in STEPS.items() if kind.answer is not None}
    assert answering == M.WAITING_KINDS - {"handoff"}
