"""Checker rules for the language features of asks and triggers: regex groups named like a
built-in `turn.*` value (E117), `triggers_first` that can change nothing (W227). Called by
checker._Checker.run with the checker itself, whose `report` and `pos` locate each
diagnostic at `file:line:col`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import diagnostics as D
from . import models as M

if TYPE_CHECKING:
    from .checker import _Checker


def check_language(checker: _Checker) -> None:
    """Run every rule of this module."""
    regex_groups(checker)
    triggers_first(checker)


def regex_groups(checker: _Checker) -> None:
    """E117: a named group lands in `turn.<name>`; a built-in name would hide it."""
    from .checker import TURN_NAMES, _split_where

    bot = checker.bot
    scoped = [t for f in bot.flows.values() for h in f.handlers.values() for t in h.triggers]
    for t in dict.fromkeys([*bot.triggers, *scoped]):
        if t.kind != "regex" or t.regex is None:
            continue
        for name in t.regex.groupindex:
            if name in TURN_NAMES:
                file, line, col = _split_where(t.where)
                checker.report(
                    file,
                    (line, col),
                    "error",
                    D.E_REGEX_GROUP,
                    f"the regex group '{name}' would land in turn.{name}, which is the input's "
                    f"own value: rename the group (e.g. (?P<{name}_value>…))",
                )


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
