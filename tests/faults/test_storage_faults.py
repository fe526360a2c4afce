"""Storage faults on purpose: a full disk, a database locked by another process, a slow commit.

Each answers `503` naming the fault with `Retry-After`, reads keep working, the operator gets
one log line without a traceback and the clients a `health.new` per episode, and the service
recovers by itself, with every acknowledged message kept and `integrity_check` ok.

The full disk is a real 3 MB tmpfs when the test may mount one (root); otherwise SQLite's own
`max_page_count` makes SQLite raise SQLITE_FULL, the same error a full disk gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client
from tests.receiver import Receiver

FILLER = "x" * 20_000


@contextlib.contextmanager
def small_filesystem(where: Path) -> Iterator[bool]:
    """A 3 MB tmpfs at `where` (True), or just the directory when mounting is refused (False)."""
    where.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


async def _app(aiohttp_client: Callable[..., Any], tmp_path: Path, db: Path, **storage: Any) -> TestClient:
    settings = make_settings(tmp_path, storage={"url": f"sqlite:///{db}", **storage})
    return await aiohttp_client(create_app(settings))


async def _send(client: ApiClient, conversation: str, user: str, text: str = "hi") -> Any:
    body = {"conversationId": conversation, "authorId": user, "payload": {"type": "text", "text": text}}
    return await client.http.post("/api/v1/messages", json=body, headers=client.headers)


def _stored_ids(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in conn.execute("SELECT id FROM messages")}


async def test_disk_full(aiohttp_client: Callable[..., Any], tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    receiver = await Receiver().start()
    with small_filesystem(tmp_path / "disk") as mounted:
        db = tmp_path / "disk" / "orchestrator.db"
        api = await _app(aiohttp_client, tmp_path, db)
        client = await new_client(api)
        await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
        user, conversation = await client.conversation()
        filler = tmp_path / "disk" / "filler"
        if mounted:  # fill the filesystem to the last byte
            with contextlib.suppress(OSError), filler.open("wb") as out:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
        else:  # SQLite refuses to grow the file: SQLITE_FULL from SQLite itself
            store = api.app[SERVICES].store
            pages = (await store._one("PRAGMA page_count"))[0]  # type: ignore[attr-defined]
            await store._conn.execute(f"PRAGMA max_page_count={pages + 2}")  # type: ignore[attr-defined]

        acknowledged, refused = [], None
        for n in range(300):  # until the disk is full (the WAL may have room at first)
            resp = await _send(client, conversation, user, f"{n} {FILLER}")
            if resp.status == 201:
                acknowledged.append((await resp.json())["id"])
                continue
            refused = resp
            break
        assert refused is not None, "the disk never filled"
        assert refused.status == 503, await refused.text()
        assert "storage full" in await refused.text()
        assert int(refused.headers["Retry-After"]) > 0

        # Reads keep working, and /health says what is wrong.
        listed = await client.get(f"/messages/conversation/{conversation}?limit=0")
        assert len(listed) == len(acknowledged)
        health = await client.get("/health")
        assert health["channels"]["storage"]["status"] == "storage full"

        # One log line for the episode, no traceback, no 500 anywhere.
        faults = [r for r in caplog.records if "storage full" in r.getMessage()]
        assert len(faults) == 1 and faults[0].exc_info is None
        assert not [r for r in caplog.records if r.exc_info]

        # Space comes back: the next write works, without a restart.
        if mounted:
            filler.unlink()
        else:
            await store._conn.execute("PRAGMA max_page_count=1073741823")  # type: ignore[attr-defined]
        started = time.monotonic()
        resp = await _send(client, conversation, user, "after")
        assert resp.status == 201, await resp.text()
        acknowledged.append((await resp.json())["id"])
        recovered_in = time.monotonic() - started

        fault = await receiver.next(10, type_="health.new")
        assert fault.body["data"]["event"]["type"] == "storage-fault"
        assert fault.body["data"]["event"]["data"]["fault"] == "storage full"
        recovery = await receiver.next(10, type_="health.new")
        assert recovery.body["data"]["event"]["type"] == "storage-recovered"
        assert recovery.body["data"]["event"]["data"]["refused"] >= 1
        await api.close()
        assert set(acknowledged) <= _stored_ids(db), "an acknowledged message was lost"
        print(
            f"disk full ({'tmpfs' if mounted else 'max_page_count'}):"
            f" lost 0, recovered in {recovered_in:.3f} s"
        )
    await receiver.stop()


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


async def test_database_locked_by_another_process(
    aiohttp_client: Callable[..., Any], tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    db = tmp_path / "orchestrator.db"
    api = await _app(aiohttp_client, tmp_path, db, timeout=1.0)
    client = await new_client(api)
    user, conversation = await client.conversation()
    first = await _send(client, conversation, user)
    assert first.status == 201
    locker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCKER, str(db), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert locker.stdout is not None and locker.stdin is not None
        assert await asyncio.wait_for(locker.stdout.readline(), 10) == b"locked\n"
        started = time.monotonic()
        writes = await asyncio.gather(*(_send(client, conversation, user) for _ in range(5)))
        waited = time.monotonic() - started
        for resp in writes:
            assert resp.status == 503, await resp.text()
            assert "storage busy" in await resp.text()
            assert resp.headers["Retry-After"]
        assert waited < 1.0 + 1.0 + 2.0, f"writes hung {waited:.1f} s past a 1 s deadline"
        started = time.monotonic()
        assert len(await client.get(f"/messages/conversation/{conversation}")) == 1
        assert time.monotonic() - started < 1.0, "a read waited for the writer's lock"
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        if locker.stdin is not None:
            locker.stdin.close()
        await asyncio.wait_for(locker.wait(), 10)
    started = time.monotonic()
    resp = await _send(client, conversation, user)
    assert resp.status == 201, await resp.text()
    print(f"database locked: hung 0 (waited {waited:.2f} s), recovered in {time.monotonic() - started:.3f} s")
    await api.close()
    assert len(_stored_ids(db)) == 2


async def test_slow_commit_is_answered_by_its_deadline(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    db = tmp_path / "orchestrator.db"
    api = await _app(aiohttp_client, tmp_path, db, timeout=1.0)
    client = await new_client(api)
    user, conversation = await client.conversation()
    store = api.app[SERVICES].store
    conn = store._conn  # type: ignore[attr-defined]

    def slow_fsync(statement: str) -> None:  # runs on the connection's thread, before COMMIT
        if statement == "COMMIT":
            time.sleep(3)

    await conn._execute(conn._conn.set_trace_callback, slow_fsync)
    started = time.monotonic()
    resp = await _send(client, conversation, user)
    waited = time.monotonic() - started
    text = await resp.text()
    assert resp.status == 503, text
    # Slow itself, or queued behind a slow write (the webhook worker's claim may come first).
    assert "storage slow" in text or "storage busy" in text
    assert waited < 1.0 + 1.0 + 1.0, f"hung {waited:.1f} s"
    print(f"slow commit: 503 after {waited:.2f} s (storage.timeout 1 s)")
    await conn._execute(conn._conn.set_trace_callback, None)
    await asyncio.sleep(0)  # (the slow commit itself completes in the background)
    for _ in range(50):
        resp = await _send(client, conversation, user)
        if resp.status == 201:
            break
        await asyncio.sleep(0.2)
    assert resp.status == 201
