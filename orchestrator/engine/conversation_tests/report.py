"""The results of `orchestrator test` (per test, per file, per run) and the text it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..coverage import Coverage
from ..diagnostics import Diagnostic


@dataclass
class TestOutcome:
    """The result of one test."""

    name: str
    file: str
    pos: tuple[int, int]
    status: Literal["passed", "failed", "skipped"]
    seconds: float = 0.0
    message: str = ""
    details: str = ""
    turns: int = 0
    __test__ = False


@dataclass
class FileOutcome:
    """The results of one test file (or its problems)."""

    display: str
    bot_id: str | None
    tests: list[TestOutcome] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether the file has errors or a test failed."""
        return any(d.is_error for d in self.diagnostics) or any(t.status == "failed" for t in self.tests)


@dataclass
class RunReport:
    """Everything `orchestrator test` found."""

    files: list[FileOutcome] = field(default_factory=list)
    coverage: dict[str, Coverage] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tests(self) -> list[TestOutcome]:
        """The outcomes of every test run, file after file."""
        return [t for f in self.files for t in f.tests]

    @property
    def ok(self) -> bool:
        """Whether no file has errors and no test failed."""
        return not any(f.failed for f in self.files)

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed and were skipped."""
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for t in self.tests:
            out[t.status] += 1
        return out


def render_report(report: RunReport, *, coverage: bool = True, coverage_limit: int | None = None) -> str:
    """The text `orchestrator test` prints."""
    lines: list[str] = []
    for f in report.files:
        lines.extend(_file_lines(f))
        lines.append("")
    if coverage:
        for cov in report.coverage.values():
            lines.append(cov.report(coverage_limit))
            lines.append("")
    lines.append(_summary(report))
    return "\n".join(lines)


def _file_lines(f: FileOutcome) -> list[str]:
    """A file's heading, its problems, and a line per test (with the failure under a FAIL)."""
    lines = [f.display + (f"  (bot {f.bot_id})" if f.bot_id else "")]
    for d in f.diagnostics:
        lines.append(f"  {d}")
    for t in f.tests:
        if t.status == "passed":
            lines.append(f"  PASS  {t.name}  ({t.turns} turn{'s' if t.turns != 1 else ''})")
        elif t.status == "skipped":
            lines.append(f"  SKIP  {t.name}" + (f"  ({t.message})" if t.message else ""))
        else:
            lines.append(f"  FAIL  {t.name}")
            lines.append(f"    {t.message}")
            lines.extend(f"    {line}" for line in t.details.splitlines())
    return lines


def _summary(report: RunReport) -> str:
    """The last line: `35 tests: 35 passed, 0 failed (0.33 s)`."""
    counts = report.counts()
    broken = sum(1 for f in report.files if any(d.is_error for d in f.diagnostics))
    summary = f"{len(report.tests)} test{'s' if len(report.tests) != 1 else ''}: {counts['passed']} passed"
    summary += f", {counts['failed']} failed"
    if counts["skipped"]:
        summary += f", {counts['skipped']} skipped"
    if broken:
        summary += f", {broken} file{'s' if broken > 1 else ''} with errors"
    summary += f" ({report.seconds:.2f} s)"
    return summary
