"""The `orchestrator` command: serve, and the authoring tools (check, test, shell, graph, record…)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from .config import ConfigError, Settings, load_settings
from .engine import BotLoadError, Diagnostic
from .engine.checker import CheckResult
from .engine.coverage import Coverage
from .logs import setup_logging
from .store import StoreError

log = logging.getLogger("orchestrator")
COVERAGE_LIST = 20  # steps/branches never exercised listed by `orchestrator test`


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # `orchestrator explain --json | head`: the reader left, say no more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", type=Path, help="YAML config file (default: none)")
    serve.add_argument(
        "--clock",
        metavar="ISO",
        help="the bots' clock starts at this time and runs on (business hours, timers); for demos",
    )
    serve.set_defaults(run=_serve)

    check = commands.add_parser(
        "check",
        help="check bots: every problem at once, compiler style (exit 1 on errors)",
        description="Check bot files, their flows and their conversation tests. Prints "
        "`file:line:col: error|warning CODE message` lines; exit 1 on errors, 0 on warnings only.",
    )
    check.add_argument(
        "bots", nargs="*", metavar="BOT", help="a bot id or a bot file (default: every bot under ./bots)"
    )
    check.add_argument(
        "--bots-dir", type=Path, default=Path("bots"), help="where bot ids are looked up (default: ./bots)"
    )
    check.add_argument("--no-tests", action="store_true", help="do not check the bots' *.test.yaml files")
    check.set_defaults(run=_check)

    test = commands.add_parser(
        "test",
        help="run conversation tests (*.test.yaml) on the engine, with coverage",
        description="Run conversation tests in process on the production engine, with mocked HTTP "
        "and actions and a virtual clock. Exit 1 on any failure.",
    )
    test.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="test files or folders (default: every *.test.yaml under ./flows)",
    )
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML to FILE")
    test.add_argument(
        "--allow-actions", action="store_true", help="run the real action when a test does not mock it"
    )
    test.add_argument("-k", dest="name", metavar="TEXT", help="only tests whose name contains TEXT")
    test.add_argument(
        "--clock",
        metavar="ISO",
        help="the start time of tests that set no clock (default: Monday 2024-06-03 10:00 UTC)",
    )
    test.add_argument("--no-coverage", action="store_true", help="do not print the coverage report")
    test.add_argument(
        "--min-coverage",
        type=float,
        metavar="PCT",
        help="also fail when a bot's step coverage is below PCT percent",
    )
    test.add_argument(
        "--coverage-details",
        action="store_true",
        help=f"list every step and branch never exercised (default: the first {COVERAGE_LIST})",
    )
    test.set_defaults(run=_test)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of bot, flow and test files",
        description="Print one JSON Schema covering bot, flow and test files (their three kinds under "
        "$defs, any of them at the top). With -o DIR (an existing folder, or a path ending in /), write "
        "bot.schema.json, flow.schema.json and test.schema.json into it instead.",
    )
    schema.add_argument(
        "-o", "--output", metavar="FILE|DIR", help="write to FILE, or the three files into DIR"
    )
    schema.add_argument(
        "--kind", choices=("bot", "flow", "test"), help="only the schema of this kind of file"
    )
    schema.set_defaults(run=_schema)

    shell = commands.add_parser(
        "shell",
        help="talk to a bot in the terminal (no server): numbered options, /explain, /save …",
        description="Talk to a bot through the production engine, in memory. Type a message, or a "
        "number or a title to click an option; /help lists the commands (/explain, /reset, /clock, "
        "/wait, /event, /vars, /save FILE writes the session as a conversation test).",
    )
    shell.add_argument("bot", nargs="?", metavar="BOT", help="a bot id or file (default: the only bot)")
    shell.add_argument(
        "--config",
        type=Path,
        help="config whose bots.env the flows read (default: config.yaml, else config.example.yaml)",
    )
    shell.add_argument("--clock", metavar="ISO", help="start the clock at this time (the bot's timezone)")
    shell.add_argument("--channel", default="webchat", help="the channel the bot sees (default: webchat)")
    shell.add_argument("--locale", help="the user's locale (default: the bot's)")
    shell.add_argument("--bots-dir", type=Path, default=Path("bots"), help=argparse.SUPPRESS)
    shell.set_defaults(run=_shell)

    graph = commands.add_parser(
        "graph",
        help="draw a bot's flows (SVG, Mermaid or Graphviz DOT) from the engine's step graph",
        description="A picture of the flows: waiting steps rounded and bold, same-turn edges solid, "
        "edges after the user answers dashed, call/start edges bold, handlers as hexagons.",
    )
    graph.add_argument("bot", metavar="BOT", help="a bot id or a bot file")
    graph.add_argument("--flow", help="only this flow (the flows it runs appear as references)")
    graph.add_argument("--format", choices=("svg", "mermaid", "dot"), default="svg")
    graph.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    graph.add_argument("--bots-dir", type=Path, default=Path("bots"), help=argparse.SUPPRESS)
    graph.set_defaults(run=_graph)

    record = commands.add_parser(
        "record",
        help="write a stored conversation as a conversation test (*.test.yaml), mocks included",
        description="Read a conversation's turn traces and bot messages from the configured store "
        "and write them as a conversation test: the user's inputs, the replies as expectations, timers "
        "as waits, and mocks filled from what the HTTP steps and actions answered.",
    )
    record.add_argument("conversation", metavar="CONVERSATION_ID")
    record.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    record.add_argument("--name", help="the test's name")
    record.add_argument(
        "--config", type=Path, help="YAML config file (its storage.url and bots.env are read)"
    )
    record.set_defaults(run=_record)

    explain = commands.add_parser(
        "explain",
        help="print the bot's turn traces of a conversation (why did the bot say that?)",
        description="Read the turn traces stored with a conversation (the last bots.trace_turns turns) "
        "from the configured store and print them readably.",
    )
    explain.add_argument("conversation", metavar="CONVERSATION_ID")
    explain.add_argument(
        "--turn", type=int, metavar="N", help="only turn N (negative: from the end, -1 the last)"
    )
    explain.add_argument("--config", type=Path, help="YAML config file (its storage.url is read)")
    explain.add_argument("--json", action="store_true", help="print the stored JSON instead")
    explain.set_defaults(run=_explain)

    move = commands.add_parser(
        "migrate-store",
        help="copy a SQLite database into an empty PostgreSQL one (moving to several instances)",
        description="Copy every table (clients, tokens, conversations, messages, bot state, timers, "
        "pending webhook events…) from a SQLite database into an empty PostgreSQL database, then "
        "check that each table has as many rows on both sides. Stop the service first; keep the "
        "same storage.encryption_key.",
    )
    move.add_argument("--from", dest="source", required=True, metavar="sqlite:///PATH")
    move.add_argument("--to", dest="target", required=True, metavar="postgresql://…")
    move.set_defaults(run=_migrate_store)
    return parser


def _migrate_store(args: argparse.Namespace) -> int:
    from .store.move import move

    try:
        counts = asyncio.run(move(args.source, args.target))
    except (StoreError, OSError) as exc:
        print(f"orchestrator migrate-store: {exc}", file=sys.stderr)
        return 2
    print(f"copied {sum(counts.values())} rows in {len(counts)} tables; every count matches")
    return 0


def _settings(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


# ------------------------------------------------------------------ serve


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    setup_logging(settings.logging)
    # Many parked long-polls make full collections slow; collect less often.
    gc.set_threshold(50_000, 50, 100)
    from .app import CATALOG, create_app

    try:
        clock = _shifted_clock(args.clock) if args.clock else None
    except ValueError as exc:
        print(f"orchestrator: --clock: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(settings) if clock is None else create_app(settings, clock=clock)
        warnings = app[CATALOG].warnings
        if warnings:
            print("\n".join(str(d) for d in warnings), file=sys.stderr)
        log.info("serving on http://%s:%d", settings.server.host, settings.server.port)
        print(_banner(settings, app[CATALOG].ids()), file=sys.stderr, flush=True)
        web.run_app(
            app,
            host=settings.server.host,
            port=settings.server.port,
            access_log=logging.getLogger("aiohttp.access") if settings.server.access_log else None,
            handler_cancellation=True,
            print=None,
            loop=_event_loop(),
        )
    except BotLoadError as exc:
        print(str(exc), file=sys.stderr)
        print("orchestrator: refusing to start with a broken bot (run `orchestrator check`)", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        where = f"{settings.server.host}:{settings.server.port}"
        print(
            f"orchestrator: port {where} is already in use (stop the other server, or set "
            "server.port, e.g. ORCH_SERVER__PORT=3101)",
            file=sys.stderr,
        )
        return 2
    return 0


def _shifted_clock(text: str) -> Callable[[], datetime]:
    """A clock that starts at `text` (ISO; UTC without an offset) and runs at the real pace."""
    start = datetime.fromisoformat(text)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _banner(settings: Settings, bots: list[str]) -> str:
    """What a new user needs first: the bots, the URLs, and where the data lives."""
    base = f"http://{settings.server.host}:{settings.server.port}"
    site = settings.server.external_url.rstrip("/")
    url = settings.storage.url
    data = str(Path(url.removeprefix("sqlite:///")).resolve()) if url.startswith("sqlite:///") else url
    return "\n".join(
        [
            f"  bots:     {', '.join(bots) or '(none under ' + str(settings.bots.dir) + ')'}",
            f"  API:      {base}/api/v1   (OpenAPI document: {base}/api/v1/openapi.json)",
            f"  API docs: {base}/docs",
            f"  web chat: {site}/webchat/   studio: {site}/studio/",
            f"  data:     {data}",
        ]
    )


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# ------------------------------------------------------------------ check


def _bot_files(names: Sequence[str], bots_dir: Path) -> tuple[list[Path], list[str]]:
    """Bot files for ids or paths (every bot of `bots_dir` when none), and names not found."""
    if not names:
        if not bots_dir.is_dir():
            return [], []
        return sorted(p for p in bots_dir.glob("*.y*ml") if p.is_file()), []
    found, missing = [], []
    for name in names:
        path = Path(name)
        if path.is_file():
            found.append(path)
            continue
        for suffix in (".yaml", ".yml"):
            candidate = bots_dir / f"{name}{suffix}"
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(name)
    return found, missing


def _check(args: argparse.Namespace) -> int:
    from .engine.checker import check_bot
    from .engine.conversation_tests import project_root

    files, missing = _bot_files(args.bots, args.bots_dir)
    for name in missing:
        print(
            f"orchestrator: no bot '{name}' (neither a file nor {args.bots_dir}/{name}.yaml)", file=sys.stderr
        )
    if missing:
        return 2
    if not files:
        print(f"orchestrator: no bot files under {args.bots_dir}/", file=sys.stderr)
        return 2
    errors = warnings = 0
    summaries = []
    for path in files:
        root = project_root(path.resolve().parent, Path.cwd())
        result = check_bot(path, root)
        diagnostics = list(result.diagnostics)
        if not args.no_tests and result.bot is not None:
            diagnostics.extend(_check_tests(result, root))
        for d in diagnostics:
            print(d)
        e = sum(1 for d in diagnostics if d.is_error)
        w = len(diagnostics) - e
        errors, warnings = errors + e, warnings + w
        name = result.bot_id or result.file
        if result.bot is not None:
            steps = len(result.bot.steps)
            flows = len(result.bot.flow_ids)
            summaries.append(
                f"{name}: {_plural(e, 'error')}, {_plural(w, 'warning')} "
                f"({_plural(flows, 'flow')}, {_plural(steps, 'step')})"
            )
        else:
            summaries.append(f"{name}: {_plural(e, 'error')}, {_plural(w, 'warning')}")
    print("\n".join(summaries))
    return 1 if errors else 0


def _check_tests(result: CheckResult, root: Path) -> list[Diagnostic]:
    """Diagnostics of the test files next to a bot's flows (schema and references)."""
    from .engine.conversation_tests import TestRunner, find_test_files, load_test_file

    bot = result.bot
    assert bot is not None
    folders = sorted({(root / f).resolve().parent for f in bot.sources if f != bot.file})
    runner = TestRunner(root)
    found: list[Diagnostic] = []
    for path in find_test_files(folders):
        if path.parent.resolve() not in folders:
            continue
        loaded = load_test_file(path, root)
        found.extend(loaded.diagnostics)
        if loaded.model is None:
            continue
        if loaded.model.bot not in (None, bot.id):
            continue
        found.extend(runner.references(loaded, bot))
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------ test


def _test(args: argparse.Namespace) -> int:
    from .engine.conversation_tests import TestRunner, find_test_files, junit_xml, render_report

    paths = list(args.paths) or [Path("flows")]
    for p in paths:
        if not p.exists():
            print(f"orchestrator: {p} does not exist", file=sys.stderr)
            return 2
    files = find_test_files(paths)
    if not files:
        print(f"no *.test.yaml files under {', '.join(str(p) for p in paths)}")
        return 0
    if args.clock:
        from .engine.conversation_tests.conversation import parse_clock

        try:
            parse_clock(args.clock, "--clock")
        except ValueError as exc:
            print(f"orchestrator: {exc}", file=sys.stderr)
            return 2
    runner = TestRunner(Path.cwd(), allow_actions=args.allow_actions, name_filter=args.name, clock=args.clock)
    report = asyncio.run(runner.run(files))
    some = bool(args.paths) and all(p.is_file() for p in args.paths)
    if some:  # a few test files: the coverage of the flows they ran, not of the whole bot
        for cov in report.coverage.values():
            cov.restricted_to_entered()
    limit = None if args.coverage_details else COVERAGE_LIST
    print(render_report(report, coverage=not args.no_coverage, coverage_limit=limit))
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(report))
        print(f"JUnit XML written to {args.junit}")
    low = [
        f"{cov.bot.id}: {cov.step_ratio:.1%} of steps < {args.min_coverage:g}%"
        for cov in report.coverage.values()
        if args.min_coverage is not None and cov.step_ratio * 100 < args.min_coverage
    ]
    for line in low:
        print(f"coverage too low: {line}")
    if not some:  # the studio shows the coverage of whole runs
        _save_coverage(report.coverage.values())
    return 0 if report.ok and not low else 1


COVERAGE_FILE = Path("data") / "coverage.json"  # the studio overlays it on the flow graphs


def _save_coverage(coverages: Iterable[Coverage]) -> None:
    """Keep the run's coverage for the studio (best effort: a read-only tree is fine)."""
    from datetime import UTC, datetime

    record = {
        "ranAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "bots": {cov.bot.id: cov.to_json() for cov in coverages},
    }
    try:
        COVERAGE_FILE.parent.mkdir(parents=True, exist_ok=True)
        COVERAGE_FILE.write_text(json.dumps(record, indent=1))
    except OSError as exc:
        print(f"orchestrator: coverage not saved to {COVERAGE_FILE}: {exc.strerror}", file=sys.stderr)


# ------------------------------------------------------------------ schema


def _schema(args: argparse.Namespace) -> int:
    from .engine import schema as S

    out = args.output
    if out and (out.endswith(("/", "\\")) or Path(out).is_dir()):
        if args.kind:
            path = Path(out) / f"{args.kind}.schema.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(S.dumps(S.file_schema(args.kind)), encoding="utf-8")
            written = [path]
        else:
            written = S.write_files(Path(out))
        for path in written:
            print(f"wrote {path}")
        return 0
    document = S.file_schema(args.kind) if args.kind else S.combined_schema()
    text = S.dumps(document)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ shell


def _shell(args: argparse.Namespace) -> int:
    from .engine import ActionRegistry
    from .engine.checker import check_bot
    from .engine.conversation_tests import project_root
    from .engine_http import AiohttpHttpPort
    from .shell import Shell, parse_clock
    from .shell.session import RecordingActions, RecordingHttp, Session

    files, missing = _bot_files([args.bot] if args.bot else [], args.bots_dir)
    if missing or not files:
        print(f"orchestrator: no bot {args.bot or 'under ' + str(args.bots_dir)}", file=sys.stderr)
        return 2
    if len(files) > 1:
        names = ", ".join(p.stem for p in files)
        print(
            f"orchestrator: several bots ({names}): name one, e.g. orchestrator shell {files[0].stem}",
            file=sys.stderr,
        )
        return 2
    path = files[0]
    result = check_bot(path, project_root(path.resolve().parent, Path.cwd()))
    for d in result.diagnostics:
        print(d, file=sys.stderr)
    if result.bot is None:
        print("orchestrator: the bot has errors (run `orchestrator check`)", file=sys.stderr)
        return 2
    bot = result.bot
    config = args.config or next(
        (p for p in (Path("config.yaml"), Path("config.example.yaml")) if p.is_file()), None
    )
    env = dict(_settings(config).bots.env)
    try:
        clock = parse_clock(args.clock, bot.timezone) if args.clock else None
    except ValueError as exc:
        print(f"orchestrator: --clock: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(ImportError):  # line editing and history for input(), where there is one
        import readline  # noqa: F401
    loop = asyncio.new_event_loop()
    http = AiohttpHttpPort()
    session = Session(
        bot,
        RecordingHttp(http),
        RecordingActions(ActionRegistry.from_bot(bot)),
        env,
        clock=clock,
        channel=args.channel,
        locale=args.locale,
    )
    shell = Shell(session)
    print(f"{bot.id} ({len(bot.flow_ids)} flows) — type a message; /help for commands, Ctrl-D to leave")
    try:
        while not shell.done:
            try:
                line = input("you> ")
            except EOFError:
                print()
                break
            except KeyboardInterrupt:
                print()
                continue
            for out in loop.run_until_complete(shell.handle(line)):
                print(out)
    finally:
        loop.run_until_complete(http.close())
        loop.close()
    return 0


# ------------------------------------------------------------------ graph


def _graph(args: argparse.Namespace) -> int:
    from .engine.checker import check_bot
    from .engine.conversation_tests import project_root
    from .pictures import PictureError, draw

    files, missing = _bot_files([args.bot], args.bots_dir)
    if missing or not files:
        where = f"neither a file nor {args.bots_dir}/{args.bot}.yaml"
        print(f"orchestrator: no bot '{args.bot}' ({where})", file=sys.stderr)
        return 2
    result = check_bot(files[0], project_root(files[0].resolve().parent, Path.cwd()))
    if result.bot is None:
        print("\n".join(str(d) for d in result.diagnostics if d.is_error), file=sys.stderr)
        print("orchestrator: the bot has errors (run `orchestrator check`)", file=sys.stderr)
        return 2
    try:
        text, how = draw(result.bot, args.format, args.flow)
    except PictureError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    return _write_output(args.output, text, f" ({args.format}, {how})")


def _write_output(output: Path | None, text: str, what: str) -> int:
    """Write `text` to stdout, or to `output` and say so (`wrote PATH<what>`)."""
    if output is None:
        sys.stdout.write(text)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}{what}")
    return 0


# ------------------------------------------------------------------ record


def _record(args: argparse.Namespace) -> int:
    from .record import RecordError, record_yaml
    from .store import open_store

    settings = _settings(args.config)
    database = _sqlite_file(settings.storage.url)
    if database is not None and not database.exists():
        print(
            f"orchestrator: no database at {database} (storage.url {settings.storage.url})", file=sys.stderr
        )
        return 2

    async def read() -> tuple[list[dict], list[dict]]:
        store = open_store(settings.storage.url, settings.storage.encryption_key)
        await store.open()
        try:
            traces = await store.list_traces(args.conversation)
            messages = await store.list_messages(args.conversation, 10_000, None)
        finally:
            await store.close()
        ordered = sorted(reversed(messages), key=lambda m: m.sent_on)  # the store lists newest first
        return traces, [m.payload for m in ordered if m.author_id is None]

    try:
        traces, bot_messages = asyncio.run(read())
        text = record_yaml(args.conversation, traces, bot_messages, dict(settings.bots.env), args.name)
    except (StoreError, RecordError) as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 1
    return _write_output(args.output, text, f": run it with `orchestrator test {args.output}`")


# ------------------------------------------------------------------ explain


def _explain(args: argparse.Namespace) -> int:
    from .engine.trace_format import format_trace
    from .store import open_store

    settings = _settings(args.config)
    database = _sqlite_file(settings.storage.url)
    if database is not None and not database.exists():
        print(
            f"orchestrator: no database at {database} (storage.url {settings.storage.url} is relative to "
            "the folder serve runs in)",
            file=sys.stderr,
        )
        return 2

    async def read() -> list[dict]:
        store = open_store(settings.storage.url, settings.storage.encryption_key)
        await store.open()
        try:
            return await store.list_traces(args.conversation)
        finally:
            await store.close()

    try:
        traces = asyncio.run(read())
    except StoreError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    if not traces:
        print(
            f"orchestrator: no turn traces for conversation {args.conversation} in {settings.storage.url} "
            "(is it a conversation with a built-in bot, and bots.trace_turns > 0?)",
            file=sys.stderr,
        )
        return 1
    if args.turn is not None:
        if args.turn < 0:
            selected = traces[args.turn :][:1] if -args.turn <= len(traces) else []
        else:
            selected = [t for t in traces if t.get("turn") == args.turn]
        if not selected:
            kept = ", ".join(str(t.get("turn")) for t in traces)
            print(f"orchestrator: no turn {args.turn} (kept turns: {kept})", file=sys.stderr)
            return 1
        traces = selected
    if args.json:
        print(json.dumps(traces, indent=2, ensure_ascii=False, default=str))
    else:
        print(f"conversation {args.conversation}: {len(traces)} turn{'s' if len(traces) != 1 else ''}\n")
        print("\n\n".join(format_trace(t) for t in traces))
    return 0


def _sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite://` storage URL (as SQLiteStore.from_url reads it), else None."""
    if not url.startswith("sqlite://"):
        return None
    path = url.removeprefix("sqlite://")
    if path.startswith("/"):
        path = path[1:]
    return None if path in ("", ":memory:") else Path(path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
