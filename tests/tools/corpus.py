"""The broken-file corpus: each file of `broken/` is one mistake, with the diagnostics it must
produce written in its header:

    # file: flow                 (bot | flow | base | test: which file of project/ it is)
    # expect: E201 9:20 unknown step 'ask_emial'   (code, line:col, text the message contains)
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine import Diagnostic
from orchestrator.engine.checker import check_bot
from orchestrator.engine.conversation_tests import TestRunner

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
PROJECT = HERE / "project"
TARGETS = {
    "bot": "bots/b.yaml",
    "flow": "flows/b/main.yaml",
    "base": "flows/b/base.yaml",
    "test": "flows/b/main.test.yaml",
}
_EXPECT = re.compile(r"^# expect: (?P<code>[EW]\d{3}) (?P<line>\d+):(?P<col>\d+)(?: (?P<text>.*))?$")


@dataclass(frozen=True)
class Expected:
    code: str
    line: int
    col: int
    text: str


def header(path: Path) -> tuple[str, list[Expected]]:
    kind, expected = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# file: "):
            kind = line.removeprefix("# file: ").strip()
        elif m := _EXPECT.match(line):
            expected.append(Expected(m["code"], int(m["line"]), int(m["col"]), (m["text"] or "").strip()))
    return kind, expected


def make_project(case: Path, tmp: Path) -> tuple[Path, str]:
    """A copy of the corpus project with `case` in place; returns (root, file the case became)."""
    root = tmp / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", "README.md"))
    kind, _ = header(case)
    target = TARGETS[kind]
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case, root / target)
    return root, target


def run_case(case: Path, tmp: Path) -> tuple[str, list[Diagnostic]]:
    """Every diagnostic the checker (or, for test files, the test runner) reports."""
    root, target = make_project(case, tmp)
    result = check_bot(root / "bots" / "b.yaml", root)
    if not target.endswith(".test.yaml"):
        return target, result.diagnostics
    assert result.ok, result.report()
    runner = TestRunner(root)
    import asyncio

    report = asyncio.run(runner.run([root / target]))
    return target, [d for f in report.files for d in f.diagnostics]
