"""A compiled, immutable bot version: flows flattened to steps indexed by (flow_id, step_id).

Every step (inline ones included) gets an id: its own, or a generated one starting with `~`
(`~3`, `~ask_email.on_fail.0`). Each compiled step knows where execution goes next and where
each of its branches starts, so the runtime only follows ids, and conversation state only
stores ids (a new bot version can continue wherever those ids still exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .diagnostics import Diagnostic
from .hours import Schedule
from .matching import CompiledTrigger, capture_names
from .models import BotFile, Flow, FlowFile, Limits, Matchers, ParamDecl, StepBase, VariableDecl
from .templating import Templates
from .yaml_loader import Path as DataPath
from .yaml_loader import SourceMap


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where something is written: `file:line:col`."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class CompiledStep:
    """One step: its model, where it goes next, and the entry of each of its branches.

    `next` is None at the end of a flow. `branches` maps a branch name (`then`, `else`,
    `on_fail`, `on_timeout`, `on_error`, `on_other`, `when_closed`, `when_no_agents`,
    `on_released`, `case:N`, `option:N`) to the first step to run, or None for "end of flow".
    """

    flow: str
    id: str
    kind: str
    model: StepBase
    next: str | None
    branches: Mapping[str, str | None]
    pos: SourcePos
    path: DataPath
    explicit_id: bool


@dataclass(frozen=True, slots=True)
class HandlerRef:
    """A handler, resolved: the flow it runs (a real flow, or one made of its inline steps)."""

    name: str
    flow: str
    with_: Mapping[str, Any]
    always: bool
    priority: int
    scope: str | None  # None for bot-level handlers, else the flow that declares it
    pos: SourcePos
    triggers: tuple[CompiledTrigger, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """A flow ready to run: its entry step, triggers, params and handlers."""

    id: str
    entry: str | None
    pos: SourcePos
    interruptible: bool
    priority: int = 0
    when: str | None = None
    params: Mapping[str, ParamDecl] = field(default_factory=dict)
    handlers: Mapping[str, HandlerRef] = field(default_factory=dict)
    triggers: tuple[CompiledTrigger, ...] = ()
    model: Flow | None = None  # None for flows made of a handler's inline steps


@dataclass(frozen=True, eq=False)
class BotVersion:
    """Everything needed to run a bot, immutable. `version` is a hash of all its files."""

    id: str
    version: str
    root: Path
    file: str
    spec: BotFile
    flow_files: Mapping[str, FlowFile]
    flows: Mapping[str, CompiledFlow]
    steps: Mapping[tuple[str, str], CompiledStep]
    messages: Mapping[str, Mapping[str, Any]]  # locale -> message id -> MessageEntry
    default_locale: str
    handlers: Mapping[str, HandlerRef]
    variables: Mapping[str, VariableDecl]
    business_hours: Schedule | None
    timezone: ZoneInfo
    limits: Limits
    matchers: Matchers
    triggers: tuple[CompiledTrigger, ...]  # flow triggers and bot-level handler triggers
    actions_module: str | None
    sources: Mapping[str, SourceMap]  # display path -> positions of every node
    warnings: tuple[Diagnostic, ...] = ()
    templates: Templates = field(default_factory=Templates, repr=False)

    def step(self, flow_id: str, step_id: str) -> CompiledStep | None:
        """The step `(flow_id, step_id)`, or None when this version does not have it."""
        return self.steps.get((flow_id, step_id))

    def position(self, flow_id: str, step_id: str) -> SourcePos | None:
        """Source position of a step, or None."""
        step = self.steps.get((flow_id, step_id))
        return step.pos if step else None

    @cached_property
    def _by_flow(self) -> dict[str, tuple[CompiledStep, ...]]:
        found: dict[str, list[CompiledStep]] = {}
        for (flow_id, _), step in self.steps.items():
            found.setdefault(flow_id, []).append(step)
        return {f: tuple(steps) for f, steps in found.items()}

    def flow_steps(self, flow_id: str) -> tuple[CompiledStep, ...]:
        """The steps of one flow (inline ones included), in the order they are written."""
        return self._by_flow.get(flow_id, ())

    @cached_property
    def captures(self) -> tuple[str, ...]:
        """The named groups of every regex trigger: the `turn.<name>` values they set."""
        scoped = [t for f in self.flows.values() for h in f.handlers.values() for t in h.triggers]
        return capture_names([*self.triggers, *scoped])

    @cached_property
    def flow_triggers(self) -> tuple[CompiledTrigger, ...]:
        """The triggers that start flows (not bot-level handlers), in declaration order."""
        return tuple(t for t in self.triggers if not t.handler)

    @cached_property
    def user_variables(self) -> tuple[tuple[str, Any, bool], ...]:
        """(name without `user.`, default, persist) of each declared `user.*` variable."""
        return tuple(
            (name[5:], decl.default, bool(decl.persist))
            for name, decl in self.variables.items()
            if name.startswith("user.")
        )

    @cached_property
    def persisted_user(self) -> frozenset[str]:
        """The `user.*` variables (without `user.`) kept from one conversation to the next."""
        return frozenset(name for name, _, persist in self.user_variables if persist)

    @cached_property
    def conv_variables(self) -> tuple[tuple[str, Any], ...]:
        """(name without `conv.`, default) of each declared `conv.*` variable."""
        return tuple(
            (name[5:], decl.default) for name, decl in self.variables.items() if name.startswith("conv.")
        )

    @property
    def flow_ids(self) -> list[str]:
        """Ids of the flows written in flow files (not handlers' inline flows)."""
        return [f for f, c in self.flows.items() if c.model is not None]
