"""Checker rules for the language features of asks and triggers: regex groups named like a
built-in `turn.*` value (E117), `triggers_first` that can change nothing (W227), values that
a declared variable's type cannot hold (E313, W314). Called by
checker._Checker.run with the checker itself, whose `report` and `pos` locate each
diagnostic at `file:line:col`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import diagnostics as D
from . import models as M
from .inputs import coerce_stored
from .templating import is_template, single_expression

if TYPE_CHECKING:
    from .checker import _Checker


def check_language(checker: _Checker) -> None:
    """Run every rule of this module."""
    regex_groups(checker)
    triggers_first(checker)
    typed_writes(checker)
    correctable(checker)


def correctable(checker: _Checker) -> None:
    """W229: a `correctable` ask that no other question of its flow follows: there is no later
    question at which the user could correct it."""
    bot = checker.bot
    for fid in bot.flows:
        steps = bot.flow_steps(fid)
        waiting = [s for s in steps if isinstance(s.model, M.AskStep | M.ChooseStep)]
        for step in steps:
            if isinstance(step.model, M.AskStep) and step.model.ask.correctable and len(waiting) < 2:
                checker.report(
                    step.pos.file,
                    checker.pos(step.pos.file, (*step.path, "ask", "correctable"), key=True),
                    "warning",
                    D.W_CORRECTABLE,
                    f"'correctable' changes nothing: flow '{fid}' asks no other question at which "
                    "the value could be corrected",
                )


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


# What an ask of each type stores (a sample value of it), to compare with the variable's type.
_ASK_SAMPLES: dict[str, Any] = {
    "str": "text",
    "int": 1,
    "float": 1.5,
    "bool": True,
    "email": "a@example.com",
    "phone": "+33612345678",
    "date": "2024-06-03",
    "attachment": "https://example.com/f.png",
}
_TEXT_TYPES = frozenset({"str", "email", "phone", "date", "enum"})
_VAR = re.compile(r"^\s*((?:conv|user)\.[A-Za-z_]\w*)\s*$")
_FIX = {
    "int": "write a number (4), or convert text with `| int` or `| extract_number`",
    "float": "write a number (40.5), or convert text with `| float` or `| extract_amount`",
    "bool": "write true or false",
    "enum": "write one of its values",
    "list": "write a list ([a, b])",
    "dict": "write a mapping ({k: v})",
}


def _fits(decl: M.VariableDecl, value: Any) -> bool:
    from .runtime import _type_ok

    return _type_ok(decl, coerce_stored(decl.type, value))


def typed_writes(checker: _Checker) -> None:
    """E313: a literal `set` value, or what an ask of another type stores, that the declared
    variable cannot hold (numeric text into int/float is converted, so it passes). W314: a
    template that copies a text variable into an int/float one (stored only when numeric)."""
    bot = checker.bot
    for step in bot.steps.values():
        model = step.model
        writes: list[tuple[str, Any, tuple[Any, ...]]] = []
        if isinstance(model, M.SetStep):
            writes = [(t, v, ("set", t)) for t, v in model.set.items()]
        elif isinstance(model, M.ChooseStep):
            for i, opt in enumerate(model.choose.options):
                writes += [(t, v, ("choose", "options", i, "set", t)) for t, v in (opt.set or {}).items()]
        elif isinstance(model, M.AskStep) and model.ask.type in _ASK_SAMPLES:
            decl = bot.variables.get(model.ask.into)
            if decl is not None and not _fits(decl, _ASK_SAMPLES[model.ask.type]):
                checker.report(
                    step.pos.file,
                    checker.pos(step.pos.file, (*step.path, "ask", "into")),
                    "error",
                    D.E_TYPE_MISMATCH,
                    f"'{model.ask.into}' is declared {decl.type}, but an ask of type "
                    f"{model.ask.type} stores {type(_ASK_SAMPLES[model.ask.type]).__name__} "
                    f"values: give the ask `type: {decl.type}` or change the declaration",
                )
        for target, value, path in writes:
            decl = bot.variables.get(target)
            if decl is None or decl.type == "any":
                continue
            where = checker.pos(step.pos.file, (*step.path, *path))
            if isinstance(value, str) and is_template(value):
                source = _VAR.match(single_expression(value) or "")
                src = bot.variables.get(source.group(1)) if source else None
                if source and src is not None and src.type in _TEXT_TYPES and decl.type in ("int", "float"):
                    checker.report(
                        step.pos.file,
                        where,
                        "warning",
                        D.W_TEXT_INTO_NUMBER,
                        f"'{source.group(1)}' is {src.type} and '{target}' {decl.type}: the value "
                        f"is stored only when it is a number; use `| extract_"
                        f"{'number' if decl.type == 'int' else 'amount'}` to find one in a sentence",
                    )
                continue
            if not _fits(decl, value):
                checker.report(
                    step.pos.file,
                    where,
                    "error",
                    D.E_TYPE_MISMATCH,
                    f"'{target}' is declared {decl.type}, it cannot hold {value!r}"
                    + (f": {_FIX[decl.type]}" if decl.type in _FIX else ""),
                )
