"""The one place that uses aiosqlite's private API: run a function on a connection's thread.

aiosqlite runs every statement of a connection on one thread of its own, but its public methods
are one statement each (a round trip apiece). The SQLite store runs whole transactions (a batch
of writes and their commit) as one function on that thread, through `Connection._execute` and
`Connection._conn`, which aiosqlite does not promise to keep. `check()` says at start-up, and
`tests/test_sqlite_thread.py` in every test run, when a new aiosqlite changes them: then update
this module and the `aiosqlite` pin in pyproject.toml together.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


class PrivateApiChanged(RuntimeError):
    """The installed aiosqlite no longer has the private API this module relies on."""


def check() -> None:
    """Raise PrivateApiChanged naming what is missing (and the installed version)."""
    execute = getattr(aiosqlite.Connection, "_execute", None)
    problems = []
    if execute is None or not inspect.iscoroutinefunction(execute):
        problems.append("Connection._execute is not a coroutine function")
    else:
        parameters = list(inspect.signature(execute).parameters.values())
        kinds = [p.kind for p in parameters[1:]]
        if (
            kinds[:1] != [inspect.Parameter.POSITIONAL_OR_KEYWORD]
            or inspect.Parameter.VAR_POSITIONAL not in kinds
        ):
            problems.append("Connection._execute is no longer (fn, *args, **kwargs)")
    if not isinstance(getattr(aiosqlite.Connection, "_conn", None), property):
        problems.append("Connection._conn is not a property")
    if problems:
        version = getattr(aiosqlite, "__version__", "?")
        raise PrivateApiChanged(
            f"aiosqlite {version}: {'; '.join(problems)}: update orchestrator/store/sqlite_thread.py"
            " and the aiosqlite pin in pyproject.toml"
        )


async def run_on_thread(db: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """`fn(raw_connection, *args)` on the connection's own thread, in its statement order."""
    raw: sqlite3.Connection = db._conn
    result: T = await db._execute(fn, raw, *args)
    return result
