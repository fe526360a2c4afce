"""The SQLite store under concurrent writes: each write is committed on its own terms."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from orchestrator.store import Conflict, StoreError
from orchestrator.store.sqlite import SQLiteStore


async def test_a_failing_write_does_not_take_concurrent_writes_down(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    await store.create_client("taken", "t0", "d0")
    ids = [f"client-{n}" for n in range(30)]
    results = await asyncio.gather(
        *(store.create_client(client_id, f"t-{client_id}", "d") for client_id in ids),
        store.create_client("taken", "t-again", "d"),  # fails in the middle of the batch
        return_exceptions=True,
    )
    assert results[:-1] == [None] * 30
    assert isinstance(results[-1], Conflict)
    await store.close()

    reopened = SQLiteStore(str(tmp_path / "db.sqlite"))
    await reopened.open()
    assert all([await reopened.get_client(client_id) for client_id in ids])
    assert await reopened.get_client_token("t-again") is None  # the failed write left nothing
    await reopened.close()


async def test_a_write_whose_caller_gave_up_is_still_committed(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    write = asyncio.create_task(store.create_client("c", "t", "d"))
    await asyncio.sleep(0)  # the write is queued…
    write.cancel()  # …and its caller goes away
    with pytest.raises(asyncio.CancelledError):
        await write
    await store.close()  # closing waits for accepted writes
    reopened = SQLiteStore(str(tmp_path / "db.sqlite"))
    await reopened.open()
    assert await reopened.get_client("c") is not None
    await reopened.close()


async def test_sqlite_urls_relative_absolute_and_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SQLiteStore.from_url("sqlite:///data/rel.db")
    await relative.open()
    await relative.close()
    assert (tmp_path / "data" / "rel.db").exists()
    absolute = SQLiteStore.from_url(f"sqlite:///{tmp_path}/abs.db")  # sqlite:////abs/path.db
    await absolute.open()
    await absolute.close()
    assert (tmp_path / "abs.db").exists()


async def test_a_path_that_is_no_database_is_one_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    (tmp_path / "not-sqlite.db").write_bytes(b"this is not a database file" * 100)
    for path in ("a-directory.db", "not-sqlite.db"):
        with pytest.raises(StoreError, match="cannot open SQLite database"):
            await SQLiteStore(str(tmp_path / path)).open()


async def test_a_write_whose_commit_fails_leaves_the_connection_ready_for_the_next(
    tmp_path: Path,
) -> None:
    """A lone write that fails at COMMIT (here a deferred foreign key) is rolled back: the
    next write starts its own transaction instead of failing inside the open one."""
    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()

    def orphan_conversation(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA defer_foreign_keys=ON")  # the violation shows at COMMIT
        db.execute(
            "INSERT INTO conversations (id, client_id, user_id, created_on) VALUES ('c', 'x', 'y', '')"
        )

    with pytest.raises(sqlite3.IntegrityError):
        await store._write(orphan_conversation)
    await store.create_client("after", "t", "d")
    assert await store.get_client("after") is not None
    await store.close()
