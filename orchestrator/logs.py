"""Logging set-up: plain lines or one JSON object per line."""

from __future__ import annotations

import logging
import sys

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
