"""`TestRunner`: runs test files on the bots they test (found and checked once each), one
conversation after another, and gathers the outcomes and the coverage of every bot."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from .. import diagnostics as D
from ..actions import ActionRegistry
from ..checker import CheckResult, check_bot
from ..compiled import BotVersion
from ..coverage import Coverage
from ..diagnostics import Diagnostic, did_you_mean
from .conversation import CaseFailure, ConversationRun
from .loading import LoadedTestFile, load_test_file, project_root
from .references import reference_diagnostics
from .report import FileOutcome, RunReport, TestOutcome


class TestRunner:
    """Runs test files on their bots, accumulating coverage per bot."""

    __test__ = False

    def __init__(
        self,
        root: Path,
        *,
        allow_actions: bool = False,
        name_filter: str | None = None,
        clock: str | None = None,
    ) -> None:
        self.root = root.resolve()
        self.clock = clock  # the start of tests that set no clock (default: DEFAULT_CLOCK)
        self.allow_actions = allow_actions
        self.name_filter = name_filter
        self.checked: dict[Path, CheckResult] = {}
        self.real_actions: dict[str, ActionRegistry | None] = {}
        self.report = RunReport()

    # -- bots
    def check(self, bot_file: Path) -> CheckResult:
        """The result of `orchestrator check` on a bot file (checked once per runner)."""
        key = bot_file.resolve()
        if key not in self.checked:
            self.checked[key] = check_bot(key, project_root(key.parent, self.root))
        return self.checked[key]

    def find_bot(self, loaded: LoadedTestFile) -> tuple[Path | None, str]:
        """The bot file of a test file, and a problem when there is none."""
        root = project_root(loaded.path.parent, self.root)
        bots_dir = root / "bots"
        assert loaded.model is not None
        wanted = loaded.model.bot
        if wanted is not None:
            for suffix in (".yaml", ".yml"):
                candidate = bots_dir / f"{wanted}{suffix}"
                if candidate.is_file():
                    return candidate, ""
            known = sorted(p.stem for p in bots_dir.glob("*.y*ml")) if bots_dir.is_dir() else []
            return (
                None,
                f"unknown bot '{wanted}'{did_you_mean(wanted, known)} (no {bots_dir.name}/{wanted}.yaml)",
            )
        folder = loaded.path.resolve().parent
        candidates = sorted(bots_dir.glob("*.y*ml")) if bots_dir.is_dir() else []
        for bot_file in candidates:
            result = self.check(bot_file)
            files = result.bot.sources if result.bot else {}
            if any((root / f).resolve().parent == folder for f in files):
                return bot_file, ""
        for bot_file in candidates:  # a broken bot: match its flows globs by folder
            text = bot_file.read_text(encoding="utf-8", errors="replace")
            rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else ""
            if rel and rel in text:
                return bot_file, ""
        return None, "cannot tell which bot this file tests: add `bot: <id>`"

    def actions_of(self, bot: BotVersion) -> ActionRegistry | None:
        """The bot's real actions when `--allow-actions` is given (loaded once per bot)."""
        if not self.allow_actions:
            return None
        if bot.id not in self.real_actions:
            self.real_actions[bot.id] = ActionRegistry.from_bot(bot)
        return self.real_actions[bot.id]

    # -- files
    def references(self, loaded: LoadedTestFile, bot: BotVersion) -> list[Diagnostic]:
        """E502/E503: flows, steps and actions a test names that the bot does not have."""
        return reference_diagnostics(loaded, bot)

    async def run_file(self, path: Path) -> FileOutcome:
        """Load a test file and run its tests (those the name filter selects) on its bot."""
        loaded = load_test_file(path, self.root)
        outcome = FileOutcome(loaded.display, None, diagnostics=list(loaded.diagnostics))
        self.report.files.append(outcome)
        if loaded.model is None:
            return outcome
        bot = self.bot_of(loaded, outcome)
        if bot is None:
            return outcome
        outcome.bot_id = bot.id
        outcome.diagnostics.extend(self.references(loaded, bot))
        if any(d.is_error for d in outcome.diagnostics):
            return outcome
        coverage = self.report.coverage.setdefault(bot.id, Coverage(bot))
        real = self.actions_of(bot)
        for i, case in enumerate(loaded.model.tests):
            if self.name_filter and self.name_filter.lower() not in case.name.lower():
                continue
            outcome.tests.append(await self.run_test(loaded, i, bot, real, coverage))
        return outcome

    def bot_of(self, loaded: LoadedTestFile, outcome: FileOutcome) -> BotVersion | None:
        """The checked bot a test file runs on; None, with an E501 on the outcome, when there is none."""
        bot_file, problem = self.find_bot(loaded)
        line, col = loaded.source.pos(("bot",))
        if bot_file is None:
            outcome.diagnostics.append(Diagnostic(loaded.display, line, col, "error", D.E_TEST_BOT, problem))
            return None
        checked = self.check(bot_file)
        if checked.bot is None:
            problem = f"bot {checked.file} has errors (run `orchestrator check`):\n{checked.report()}"
            outcome.diagnostics.append(Diagnostic(loaded.display, line, col, "error", D.E_TEST_BOT, problem))
            return None
        return checked.bot

    async def run_test(
        self,
        loaded: LoadedTestFile,
        index: int,
        bot: BotVersion,
        real_actions: ActionRegistry | None,
        coverage: Coverage,
    ) -> TestOutcome:
        """Run one test of a file (or skip it)."""
        assert loaded.model is not None
        case = loaded.model.tests[index]
        pos = loaded.source.pos(("tests", index))
        if case.skip:
            reason = case.skip if isinstance(case.skip, str) else ""
            return TestOutcome(case.name, loaded.display, pos, "skipped", message=reason)
        started = time.perf_counter()
        try:
            run = ConversationRun(loaded, index, bot, real_actions, coverage, clock=self.clock)
        except ValueError as exc:  # e.g. a clock that does not parse
            return TestOutcome(case.name, loaded.display, pos, "failed", 0.0, str(exc))
        try:
            turns = await run.run()
        except CaseFailure as failure:
            line, col = failure.pos
            return TestOutcome(
                case.name,
                loaded.display,
                pos,
                "failed",
                time.perf_counter() - started,
                f"{loaded.display}:{line}:{col}: {failure.message}",
                failure.details_with_traces(),
                run.turns,
            )
        except ValueError as exc:  # e.g. a clock that does not parse
            return TestOutcome(
                case.name, loaded.display, pos, "failed", time.perf_counter() - started, str(exc)
            )
        return TestOutcome(
            case.name, loaded.display, pos, "passed", time.perf_counter() - started, turns=turns
        )

    async def run(self, files: Sequence[Path]) -> RunReport:
        """Run test files in order; the report of everything run so far by this runner."""
        started = time.perf_counter()
        for path in files:
            await self.run_file(path)
        self.report.seconds = time.perf_counter() - started
        return self.report
