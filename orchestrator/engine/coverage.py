"""Coverage of a bot by conversation tests: which steps ran and which branches were taken,
read from the engine's turn traces (so it measures what production would have done)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .compiled import BotVersion, CompiledStep
from .graph import branch_names

Key = tuple[str, str]


@dataclass
class Coverage:
    """Steps run and branches taken, accumulated over the turns of many tests of one bot."""

    bot: BotVersion
    steps: set[Key] = field(default_factory=set)
    branches: set[tuple[str, str, str]] = field(default_factory=set)
    entered: set[str] = field(default_factory=set)  # the flows the tests ran
    only: frozenset[str] | None = None  # count only these flows (a run of some test files)

    def add_trace(self, trace: dict[str, Any]) -> None:
        """Record what one turn ran."""
        for entry in trace.get("steps") or []:
            if isinstance(entry.get("enter"), str):
                self.entered.add(entry["enter"])
            flow, step = entry.get("flow"), entry.get("step")
            if not isinstance(flow, str) or not isinstance(step, str):
                continue
            if "kind" in entry and not entry.get("skipped"):
                self.steps.add((flow, step))
            if entry.get("branch"):
                self.branches.add((flow, step, entry["branch"]))

    def to_json(self) -> dict[str, Any]:
        """What the studio overlays on the flow graph (`data/coverage.json`, per bot)."""
        return {
            "version": self.bot.version,
            "steps": sorted([f, s] for f, s in self.steps if (f, s) in self.bot.steps),
            "branches": sorted([f, s, b] for f, s, b in self.branches),
            "stepRatio": round(self.step_ratio, 4),
            "branchRatio": round(self.branch_ratio, 4),
        }

    def restricted_to_entered(self) -> None:
        """Count only the flows these tests ran (`orchestrator test one.test.yaml`)."""
        self.only = frozenset(self.entered)

    # ------------------------------------------------------------ figures
    def counted(self) -> dict[Key, CompiledStep]:
        """The steps that count: every step of the bot, or those of the flows in `only`."""
        if self.only is None:
            return dict(self.bot.steps)
        return {k: s for k, s in self.bot.steps.items() if k[0] in self.only}

    def all_branches(self) -> list[tuple[CompiledStep, str]]:
        return [(s, b) for s in _ordered(self.counted().values()) for b in branch_names(s)]

    def missed_steps(self) -> list[CompiledStep]:
        return [s for s in _ordered(self.counted().values()) if (s.flow, s.id) not in self.steps]

    def missed_branches(self) -> list[tuple[CompiledStep, str]]:
        return [(s, b) for s, b in self.all_branches() if (s.flow, s.id, b) not in self.branches]

    @property
    def step_total(self) -> int:
        return len(self.counted())

    @property
    def step_count(self) -> int:
        return sum(1 for key in self.counted() if key in self.steps)

    @property
    def branch_total(self) -> int:
        return len(self.all_branches())

    @property
    def branch_count(self) -> int:
        return self.branch_total - len(self.missed_branches())

    @property
    def step_ratio(self) -> float:
        return self.step_count / self.step_total if self.step_total else 1.0

    @property
    def branch_ratio(self) -> float:
        return self.branch_count / self.branch_total if self.branch_total else 1.0

    def summary(self) -> str:
        scope = f"{self.bot.id} ({self.bot.file})"
        if self.only is not None:
            flows = sorted(f if not f.startswith("@") else "handler " + f[1:] for f in self.only)
            scope = f"{self.bot.id} in the flows these tests ran ({', '.join(flows) or 'none'})"
        return (
            f"coverage of {scope}: {self.step_ratio:.1%} of steps "
            f"({self.step_count}/{self.step_total}), {self.branch_ratio:.1%} of branches "
            f"({self.branch_count}/{self.branch_total})"
        )

    def report(self, limit: int | None = None) -> str:
        """The summary line, then the steps never run and the branches never taken (at most
        `limit` of each, all by default)."""
        lines = [self.summary()]
        missed = self.missed_steps()
        if missed:
            lines.append("  steps never run:")
            width = max(len(str(s.pos)) for s in missed)
            for s in missed[:limit]:
                lines.append(f"    {s.pos!s:<{width}}  {step_label(s)}")
            lines.extend(_more(len(missed), limit))
        branches = self.missed_branches()
        if branches:
            lines.append("  branches never taken:")
            width = max(len(str(s.pos)) for s, _ in branches)
            for s, b in branches[:limit]:
                lines.append(f"    {s.pos!s:<{width}}  {step_label(s)} → {b}")
            lines.extend(_more(len(branches), limit))
        return "\n".join(lines)


def _more(count: int, limit: int | None) -> list[str]:
    if limit is None or count <= limit:
        return []
    return [f"    … and {count - limit} more (--coverage-details lists them all)"]


def step_label(step: CompiledStep) -> str:
    """`contact_form.ask_email (ask)`, `handler version_gone: say`…"""
    flow = step.flow
    if flow.startswith("@"):
        flow = "handler " + flow[1:]
    name = step.id if step.explicit_id else f"{step.kind} step"
    return f"{flow}: {name}" + (f" ({step.kind})" if step.explicit_id else "")


def _ordered(steps: Iterable[CompiledStep]) -> list[CompiledStep]:
    return sorted(steps, key=lambda s: (s.pos.file, s.pos.line, s.pos.col))
