"""PostgreSQL and Redis restarts: requests meanwhile end by their deadline (a `503` naming the
fault, or a collect's clean timeout), and turns resume once the server is back.

Each test restarts a server of its own (a private PostgreSQL cluster in a temporary directory,
a private redis-server), both on ephemeral ports: the machine's shared servers, which other test
runs use at the same time, are never touched."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.app import create_app
from tests.backends import PrivateRedis, free_port, redis_prefix
from tests.conftest import ApiClient, make_settings, new_client
from tests.engine.support import write_files

ASK = """\
version: 1
flows:
  name:
    triggers: [{keywords: [name]}]
    steps:
      - id: ask_name
        ask: {prompt: "Your name?", into: conv.name}
      - say: "Hello {{ conv.name }}"
"""
HEADER = "version: 1\nbot:\n  id: test\nflows: [flows/test/*.yaml]\n"


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory), on an
    ephemeral port, that can be stopped and started. Run as `postgres` when we are root."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.pg_ctl, self.port = pg_ctl, free_port()
        self.root = Path(tempfile.mkdtemp(prefix="orch-pg-"))
        self.data = self.root / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self._run([initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        subprocess.run([*self.as_user, *argv], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"]
        )

    def stop(self) -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("no initdb/pg_ctl to run a PostgreSQL of the test's own")
    try:
        server = PrivatePostgres(initdb, pg_ctl)
        server.start()
    except (subprocess.SubprocessError, OSError, LookupError) as exc:
        pytest.skip(f"cannot run a private PostgreSQL cluster: {exc}")
    yield server
    server.remove()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary to restart (apt-get install redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _body(conversation: str, user: str, text: str, timeout_ms: int = 3000) -> dict[str, Any]:
    payload = {"type": "text", "text": text}
    return {"conversationId": conversation, "authorId": user, "payload": payload, "timeout": timeout_ms}


async def test_a_postgresql_restart(
    aiohttp_client: Callable[..., Any], tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    write_files(tmp_path, {"bots/test.yaml": HEADER, "flows/test/main.yaml": ASK})
    settings = make_settings(
        tmp_path, storage={"url": private_pg.url, "timeout": 2.0}, bots={"dir": str(tmp_path / "bots")}
    )
    client = await new_client(await aiohttp_client(create_app(settings)))
    await client.post("/sync", {"bot": "test"}, status=200)
    user, conversation = await client.conversation()
    first = await client.post("/messages/collect", _body(conversation, user, "name"), status=201)
    assert [r["payload"]["text"] for r in first["responses"]] == ["Your name?"]

    private_pg.stop()
    for method, path, body in (
        ("POST", "/messages/collect", _body(conversation, user, "Ann")),
        ("GET", f"/messages/conversation/{conversation}", None),
    ):
        started = time.monotonic()
        resp = await client.http.request(method, f"/api/v1{path}", json=body, headers=client.headers)
        waited = time.monotonic() - started
        text = await resp.text()
        assert resp.status == 503 and "storage unavailable" in text, (path, resp.status, text)
        assert resp.headers["Retry-After"]
        assert waited < 2.0 + 1.0 + 1.0, f"{path} hung {waited:.1f} s with PostgreSQL down"

    private_pg.start()
    started = time.monotonic()
    async with asyncio.timeout(15):  # the pool reconnects; the conversation goes on where it was
        while True:
            resp = await client.http.post(
                "/api/v1/messages/collect", json=_body(conversation, user, "Ann"), headers=client.headers
            )
            if resp.status == 201:
                break
            assert resp.status == 503, await resp.text()
            await asyncio.sleep(0.1)
    assert [r["payload"]["text"] for r in (await resp.json())["responses"]] == ["Hello Ann"]
    history = await client.get(f"/messages/conversation/{conversation}?limit=0")
    assert [m["payload"]["text"] for m in reversed(history)] == ["name", "Your name?", "Ann", "Hello Ann"]
    print(f"postgresql restart: hung 0, lost 0, recovered {time.monotonic() - started:.2f} s after the start")


async def test_a_redis_restart(
    aiohttp_client: Callable[..., Any], tmp_path: Path, pg_url: str, private_redis: PrivateRedis
) -> None:
    bus_url = f"redis://127.0.0.1:{private_redis.port}/0?prefix={redis_prefix()}"
    a, b = [
        await aiohttp_client(
            create_app(make_settings(tmp_path / n, storage={"url": pg_url}, bus={"url": bus_url}))
        )
        for n in "ab"
    ]
    on_a = await new_client(a)
    on_b = ApiClient(b, on_a.id, on_a.token)
    user, conversation = await on_a.conversation()

    async def collect_answered_from_b(text: str, timeout_ms: int) -> tuple[list[str], float]:
        """A collect on A; its reply and turn end posted through B (as a webhook consumer)."""
        started = time.monotonic()
        collect = asyncio.create_task(
            on_a.post("/messages/collect", _body(conversation, user, text, timeout_ms), status=201)
        )
        async with asyncio.timeout(5):
            while not (listed := await on_b.get(f"/messages/conversation/{conversation}?limit=1")) or (
                listed[0]["payload"]["text"] != text
            ):
                await asyncio.sleep(0.02)
        incoming = listed[0]["id"]
        reply = {
            "conversationId": conversation,
            "payload": {"type": "text", "text": f"re {text}"},
            "incomingId": incoming,
        }
        await on_b.post("/messages", reply, status=201)
        await on_b.post(f"/messages/turn/{incoming}", status=200)
        answer = await asyncio.wait_for(collect, timeout_ms / 1000 + 5)
        return [r["payload"]["text"] for r in answer["responses"]], time.monotonic() - started

    assert (await collect_answered_from_b("one", 5000))[0] == ["re one"]
    private_redis.stop()
    # Redis down: B's reply cannot reach A; A's collect ends at its own timeout, no later.
    responses, took = await collect_answered_from_b("two", 1500)
    assert responses == [] and took < 1.5 + 1.5, f"the collect hung {took:.1f} s"
    private_redis.start()
    started = time.monotonic()
    async with asyncio.timeout(15):  # both instances resubscribe; collects cross again
        while (await collect_answered_from_b("three", 1000))[0] != ["re three"]:
            pass
    print(f"redis restart: hung 0, lost 0, recovered {time.monotonic() - started:.2f} s after the start")
