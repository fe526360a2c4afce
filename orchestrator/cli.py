"""The `orchestrator` command: serve (and, from the authoring tools, check, test, schema)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from .config import ConfigError, Settings, load_settings
from .engine import BotLoadError
from .logs import setup_logging
from .store import StoreError

log = logging.getLogger("orchestrator")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--config", type=Path, help="YAML config file (default: none)")
    serve.set_defaults(run=_serve)
    return parser


def _settings(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    setup_logging(settings.logging)
    # Many parked long-polls make full collections slow; collect less often.
    gc.set_threshold(50_000, 50, 100)
    from .app import create_app

    try:
        app = create_app(settings)
        log.info("serving on http://%s:%d", settings.server.host, settings.server.port)
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
        print("orchestrator: refusing to start with a broken bot", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"orchestrator: {exc}", file=sys.stderr)
        return 2
    return 0


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
