"""Names a test file uses that its bot does not have (E502 flows, steps and variables; E503
actions), found before anything runs; `orchestrator check` reports them too."""

from __future__ import annotations

import contextlib
from typing import Any

from .. import diagnostics as D
from .. import models as M
from ..actions import ActionRegistry
from ..compiled import BotVersion
from ..diagnostics import Diagnostic, did_you_mean
from .loading import LoadedTestFile
from .models import Expect, ExpectItem, StartAt

DataPath = tuple[Any, ...]


def reference_diagnostics(loaded: LoadedTestFile, bot: BotVersion) -> list[Diagnostic]:
    """E502/E503: flows, steps and actions a test names that the bot does not have."""
    assert loaded.model is not None
    check = _ReferenceCheck(loaded, bot)
    for name in loaded.model.defaults.mocks.actions:
        check.action(name, ("defaults", "mocks", "actions", name))
    for i, case in enumerate(loaded.model.tests):
        base: DataPath = ("tests", i)
        if case.start_at is not None:
            check.start_at(case.start_at, (*base, "start_at"))
        for name in case.mocks.actions:
            check.action(name, (*base, "mocks", "actions", name))
        for j, item in enumerate(case.conversation):
            if isinstance(item, ExpectItem):
                check.expect(item.expect, (*base, "conversation", j, "expect"))
    return check.found


class _ReferenceCheck:
    """The bot's names, and the diagnostics found so far."""

    def __init__(self, loaded: LoadedTestFile, bot: BotVersion) -> None:
        self.loaded = loaded
        self.bot = bot
        self.flows = sorted(bot.flow_ids)
        self.actions = {s.model.do for s in bot.steps.values() if isinstance(s.model, M.DoStep)}
        with contextlib.suppress(Exception):  # an import error is the checker's E210
            self.actions.update(ActionRegistry.from_bot(bot).names())
        self.found: list[Diagnostic] = []

    def error(self, path: DataPath, code: str, msg: str) -> None:
        """Record an error at the node `path` of the test file."""
        line, col = self.loaded.source.pos(path)
        self.found.append(Diagnostic(self.loaded.display, line, col, "error", code, msg))

    def action(self, name: str, path: DataPath) -> None:
        """E503 when the bot has no action `name`."""
        if name not in self.actions:
            hint = did_you_mean(name, sorted(self.actions))
            self.error(path, D.E_TEST_ACTION, f"the bot has no action '{name}'{hint}")

    def start_at(self, sa: StartAt, path: DataPath) -> None:
        """E502 when `start_at` names a flow or a step the bot does not have."""
        bot = self.bot
        if sa.flow not in bot.flows:
            self.error(
                (*path, "flow"), D.E_TEST_REF, f"unknown flow '{sa.flow}'{did_you_mean(sa.flow, self.flows)}"
            )
        elif sa.step is not None and bot.step(sa.flow, sa.step) is None:
            steps = sorted(s.id for s in bot.steps.values() if s.flow == sa.flow and s.explicit_id)
            self.error(
                (*path, "step"),
                D.E_TEST_REF,
                f"flow '{sa.flow}' has no step '{sa.step}'{did_you_mean(sa.step, steps)}",
            )

    def expect(self, exp: Expect, path: DataPath) -> None:
        """E502/E503 for the flow, step, variables and actions an `expect:` item names."""
        bot = self.bot
        if exp.flow is not None and exp.flow not in bot.flows:
            self.error(
                (*path, "flow"),
                D.E_TEST_REF,
                f"unknown flow '{exp.flow}'{did_you_mean(exp.flow, self.flows)}",
            )
        if exp.intent is not None:
            intents = sorted({t.target for t in bot.triggers if t.kind == "examples"})
            if exp.intent not in intents:
                self.error(
                    (*path, "intent"),
                    D.E_TEST_REF,
                    f"no examples trigger starts '{exp.intent}'{did_you_mean(exp.intent, intents)}"
                    + ("" if intents else " (the bot has no examples triggers)"),
                )
        if exp.step is not None and not any(s.id == exp.step for s in bot.steps.values()):
            ids = sorted({s.id for s in bot.steps.values() if s.explicit_id})
            self.error(
                (*path, "step"), D.E_TEST_REF, f"unknown step '{exp.step}'{did_you_mean(exp.step, ids)}"
            )
        for name in exp.vars or {}:
            if name.partition(".")[0] not in ("conv", "user", "flow") or "." not in name:
                self.error(
                    (*path, "vars", name),
                    D.E_TEST_REF,
                    f"'{name}' is not a conv.*, user.* or flow.* variable",
                )
        for name in exp.called or {}:
            self.action(name, (*path, "called", name))
