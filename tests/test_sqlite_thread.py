"""aiosqlite's private API, which the SQLite store relies on, is still what it was.

If this fails after an aiosqlite upgrade, update orchestrator/store/sqlite_thread.py and the
aiosqlite pin in pyproject.toml together.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from orchestrator.store import sqlite_thread


def test_the_private_api_is_still_there() -> None:
    sqlite_thread.check()


async def test_a_function_runs_on_the_connections_own_thread(tmp_path: Path) -> None:
    db = await aiosqlite.connect(tmp_path / "t.sqlite", isolation_level=None)
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute("INSERT INTO t VALUES (1)")

        def batch(raw: sqlite3.Connection, n: int) -> tuple[int, int, int]:
            raw.execute("INSERT INTO t VALUES (?)", (n,))
            total = raw.execute("SELECT count(*), sum(n) FROM t").fetchone()
            return threading.get_ident(), *total

        thread, count, total = await sqlite_thread.run_on_thread(db, batch, 2)
        assert (count, total) == (2, 3)  # the same connection as the public methods
        assert thread != threading.get_ident()
        assert thread == (await sqlite_thread.run_on_thread(db, lambda _: threading.get_ident()))
    finally:
        await db.close()


def test_a_changed_api_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aiosqlite.Connection, "_execute")
    with pytest.raises(sqlite_thread.PrivateApiChanged, match=r"_execute.*sqlite_thread\.py"):
        sqlite_thread.check()
