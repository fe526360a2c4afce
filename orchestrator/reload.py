"""Hot reload of bots while `serve` runs (`bots.reload: true`).

`watchfiles.awatch` watches the bots folder, the folders of every bot's flow files (and of
its `flows:` globs) and of its actions module. When files change, each affected bot is
checked again with the full checker, off the event loop; a bot without errors is swapped in
atomically (`BotCatalog.put`), a bot with errors keeps its running version and the
diagnostics are logged. Conversations pick the new version up on their next turn: they
continue at the step ids they were at, or run the `version_gone` handler when their step
disappeared (the engine's rule, see docs/flow-language.md).

Every reload attempt is published as a `ReloadResult`: kept in `results`, passed to
listeners, and awaitable with `next_result()` (tests wait on it instead of sleeping).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from .bots import BotCatalog
from .engine import Diagnostic

log = logging.getLogger("orchestrator.reload")

WATCHED_SUFFIXES = (".yaml", ".yml", ".py")


@dataclass(frozen=True)
class ReloadResult:
    """One reload attempt of one bot file."""

    file: str
    bot_id: str | None
    ok: bool
    version: str | None  # the version now running (the previous one when refused)
    previous_version: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: str = ""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


Listener = Callable[[ReloadResult], None]


class BotReloader:
    """Watches a catalog's files and reloads the bots they belong to."""

    def __init__(
        self,
        catalog: BotCatalog,
        *,
        debounce_ms: int = 400,
        step_ms: int = 50,
        tick_ms: int = 1000,
        force_polling: bool | None = None,
    ) -> None:
        self.catalog = catalog
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.tick_ms = tick_ms  # how often the watcher thread wakes up when nothing changes
        self.force_polling = force_polling
        self.results: list[ReloadResult] = []
        self.listeners: list[Listener] = []
        self.ready = asyncio.Event()  # set once the file watcher runs
        self._queue: asyncio.Queue[ReloadResult] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._refused: set[Path] = set()  # bot files whose last reload was refused

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="bot-reload")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def next_result(self) -> ReloadResult:
        """The next reload result (including ones published before the call, in order)."""
        return await self._queue.get()

    # ------------------------------------------------------------ watching
    def watch_paths(self) -> tuple[str, ...]:
        """Existing folders to watch: the bots folder and those of every bot's files."""
        catalog = self.catalog
        root = catalog.root
        folders: set[Path] = {catalog.bots_dir.resolve()}
        for bot_id in catalog.ids():
            bot = catalog.get(bot_id)
            if bot is None:
                continue
            folders.update((bot.root / f).resolve().parent for f in bot.sources)
            for pattern in bot.spec.flows:
                folders.add((root / _static_prefix(pattern)).resolve())
            if bot.actions_module and (bot.actions_module.endswith(".py") or "/" in bot.actions_module):
                folders.add((root / bot.actions_module).resolve().parent)
        kept = sorted(f for f in folders if f.is_dir())
        # a folder inside another watched one is already covered (watching is recursive)
        return tuple(str(f) for f in kept if not any(f != o and f.is_relative_to(o) for o in kept))

    async def _run(self) -> None:
        while not self._stop.is_set():
            paths = self.watch_paths()
            try:
                async for changes in awatch(
                    *paths,
                    watch_filter=_interesting,
                    debounce=self.debounce_ms,
                    step=self.step_ms,
                    stop_event=self._stop,
                    rust_timeout=self.tick_ms,
                    yield_on_timeout=True,
                    force_polling=self.force_polling,
                ):
                    self.ready.set()
                    if not changes:
                        continue
                    await self.handle({Path(p).resolve() for _, p in changes})
                    if self.watch_paths() != paths:
                        break  # a new folder to watch (a new bot, a new flows glob)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("file watching failed; retrying")
                await asyncio.sleep(1)

    # ------------------------------------------------------------ reloading
    def affected(self, changed: set[Path]) -> list[Path]:
        """Bot files to reload for a set of changed files."""
        catalog = self.catalog
        root = catalog.root
        found: dict[Path, None] = {}
        known: set[Path] = set()
        for bot_id in catalog.ids():
            bot = catalog.get(bot_id)
            path = catalog.file_of(bot_id) or (root / bot.file if bot else None)
            if bot is None or path is None:
                continue
            path = path.resolve()
            known.add(path)
            files = {(bot.root / f).resolve() for f in bot.sources}
            if bot.actions_module and (bot.actions_module.endswith(".py") or "/" in bot.actions_module):
                files.add((root / bot.actions_module).resolve())
            for p in changed:
                rel = _relative(p, root)
                if p == path or p in files or (rel and any(_glob_match(rel, g) for g in bot.spec.flows)):
                    found[path] = None
        bots_dir = catalog.bots_dir.resolve()
        for p in sorted(changed):
            if p.parent == bots_dir and p.suffix in (".yaml", ".yml") and p not in known and p.exists():
                found[p] = None  # a new bot
        return list(found)

    async def handle(self, changed: set[Path]) -> list[ReloadResult]:
        """Reload the bots that own `changed` files; return what happened."""
        done = []
        for path in self.affected(changed):
            done.append(await self.reload(path))
        return done

    async def reload(self, path: Path) -> ReloadResult:
        """Check one bot file and install it when it has no errors."""
        catalog = self.catalog
        display = _relative(path, catalog.root) or str(path)
        current_id = next(
            (b for b in catalog.ids() if (catalog.file_of(b) or Path()).resolve() == path), None
        )
        current = catalog.get(current_id) if current_id else None
        previous_version = current.version if current else None
        if not path.exists():
            result = ReloadResult(
                display,
                current_id,
                False,
                previous_version,
                previous_version,
                message=f"{display} was removed; bot {current_id} keeps running (restart to unload it)",
            )
            log.warning("%s", result.message)
            return self._publish(result)
        checked = await asyncio.to_thread(catalog.check, path)
        if checked.ok:
            assert checked.bot is not None
            bot = checked.bot
            running = catalog.get(bot.id)
            if running is not None and running.version == bot.version:
                # unchanged; worth saying only when it fixes a refused edit
                fixed = path in self._refused
                self._refused.discard(path)
                message = f"bot {bot.id}: " + ("fixed, back to the running version" if fixed else "unchanged")
                diags = checked.diagnostics
                result = ReloadResult(display, bot.id, True, bot.version, bot.version, diags, message)
                (log.info if fixed else log.debug)("%s", message)
                return self._publish(result, quiet=not fixed)
            self._refused.discard(path)
            catalog.put(bot, path, checked.warnings)
            old = running.version if running is not None else None
            message = f"bot {bot.id} reloaded: version {old or '(new)'} → {bot.version}"
            if checked.warnings:
                message += "\n" + checked.report()
            log.info("%s", message)
            return self._publish(
                ReloadResult(display, bot.id, True, bot.version, old, checked.diagnostics, message)
            )
        self._refused.add(path)
        bot_id = checked.bot_id or current_id
        keeping = f"keeping version {previous_version} running" if previous_version else "not loaded"
        message = f"bot {bot_id or display}: reload refused, {keeping}:\n{checked.report()}"
        log.error("%s", message)
        return self._publish(
            ReloadResult(
                display, bot_id, False, previous_version, previous_version, checked.diagnostics, message
            )
        )

    def _publish(self, result: ReloadResult, *, quiet: bool = False) -> ReloadResult:
        if quiet:
            return result
        self.results.append(result)
        self._queue.put_nowait(result)
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                log.exception("reload listener failed")
        return result


def _interesting(change: Change, path: str) -> bool:
    name = Path(path).name
    return name.endswith(WATCHED_SUFFIXES) and not name.startswith((".", "~")) and "__pycache__" not in path


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (`flows/support-desk/*.yaml` →
    `flows/support-desk`)."""
    parts = []
    for part in Path(pattern).parts[:-1]:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return "/".join(parts) or "."


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


def _glob_match(rel: str, pattern: str) -> bool:
    if rel.endswith((".test.yaml", ".test.yml")):
        return False
    return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, pattern.replace("**/", ""))
