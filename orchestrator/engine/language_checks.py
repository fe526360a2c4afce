"""Checker rules for the language features of asks and triggers: `triggers_first` that can
change nothing (W227). Called by checker._Checker.run with the checker itself, whose `report`
and `pos` locate each diagnostic at `file:line:col`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import diagnostics as D
from . import models as M

if TYPE_CHECKING:
    from .checker import _Checker


def check_language(checker: _Checker) -> None:
    """Run every rule of this module."""
    triggers_first(checker)


def triggers_first(checker: _Checker) -> None:
    """W227: `triggers_first` on a flow without an ask step changes nothing."""
    bot = checker.bot
    asks = {fid for (fid, _), step in bot.steps.items() if isinstance(step.model, M.AskStep)}
    for file, ff in bot.flow_files.items():
        for fid, flow in ff.flows.items():
            if flow.triggers_first and fid not in asks:
                checker.report(
                    file,
                    checker.pos(file, ("flows", fid, "triggers_first"), key=True),
                    "warning",
                    D.W_TRIGGERS_FIRST,
                    f"'triggers_first' changes nothing: flow '{fid}' has no ask step "
                    "(it applies to free-text questions; remove it)",
                )
