"""Logging set-up: plain lines or one JSON object per line."""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import HttpProcessingError

from . import jsonutil
from .config import LoggingSettings


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return jsonutil.dumps(entry)


class MalformedRequests(logging.Filter):
    """aiohttp logs a request its parser refused (a NUL in a header…) as an error with a
    traceback that quotes the raw header line, a token included. The client is at fault and
    already has its 400: one warning line, without the bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and exc.code == 400:
            reason = str(exc.message).strip().splitlines()[0].rstrip(":") if exc.message else "bad request"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed HTTP request refused (400): %s", (reason,)
            record.exc_info, record.exc_text = None, None
        return True


def setup_logging(settings: LoggingSettings) -> None:
    """Configure the root logger once, from settings."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.json_:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in server.filters):
        server.addFilter(MalformedRequests())
