"""Three `orchestrator serve` processes on one PostgreSQL and one Redis: a collect crosses
instances, a `kill -9` under bounded load loses no acknowledged message and no webhook event
(duplicates are counted and reported), and a Redis restart is survived."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .backends import PrivateRedis, free_port, redis_prefix
from .receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
MESSAGES_PER_SENDER = 30


class Instance:
    """One `orchestrator serve` process."""

    def __init__(self, port: int, process: asyncio.subprocess.Process) -> None:
        self.port, self.process = port, process
        self.api = f"http://127.0.0.1:{port}/api/v1"


async def serve(tmp_path: Path, storage: str, bus: str) -> Instance:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ORCH_SERVER__PORT": str(port),
        "ORCH_STORAGE__URL": storage,
        "ORCH_BUS__URL": bus,
        "ORCH_BOTS__DIR": str(tmp_path / "no-bots"),
        "ORCH_BOTS__RELOAD": "false",
        "ORCH_CHANNELS__TEST_ON_SYNC": "false",
        "ORCH_WEBHOOKS__TIMEOUT": "1",  # a dead instance's claims come due again 6 s later
        "ORCH_WEBHOOKS__RETRY_BASE": "0.05",
        "ORCH_WEBHOOKS__RETRY_MAX": "0.2",
        "ORCH_LOGGING__LEVEL": "error",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        "serve",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    async with aiohttp.ClientSession() as http, asyncio.timeout(30):
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/status") as resp:
                    if resp.status == 200:
                        return Instance(port, process)
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)


@pytest.fixture
async def cluster(tmp_path: Path, pg_url: str, private_redis: PrivateRedis) -> AsyncIterator[list[Instance]]:
    bus = f"redis://127.0.0.1:{private_redis.port}/0?prefix={redis_prefix()}"
    instances = await asyncio.gather(*(serve(tmp_path, pg_url, bus) for _ in range(3)))
    yield list(instances)
    for instance in instances:
        if instance.process.returncode is None:
            instance.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(instance.process.wait(), 20)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis.or_skip(tmp_path)
    yield server
    server.stop()


async def cross_collect(
    http: aiohttp.ClientSession, held: Instance, answering: Instance, ctx: dict[str, Any]
) -> str:
    """A collect held on one instance, answered from another; the reply's text."""
    headers, receiver = ctx["headers"], ctx["receiver"]
    body = {
        "conversationId": ctx["conversation"],
        "authorId": ctx["user"],
        "payload": {"type": "text", "text": "ping"},
        "timeout": 2_000,
    }
    collect = asyncio.create_task(http.post(f"{held.api}/messages/collect", json=body, headers=headers))
    while True:
        event = await receiver.next(timeout=10, type_="message.new")
        data = event.body["data"]
        if data.get("collect"):
            incoming = data["message"]["id"]
            break
    reply = {
        "conversationId": ctx["conversation"],
        "payload": {"type": "text", "text": "pong"},
        "incomingId": incoming,
    }
    async with http.post(f"{answering.api}/messages", json=reply, headers=headers) as resp:
        assert resp.status == 201
    async with http.post(f"{answering.api}/messages/turn/{incoming}", headers=headers) as resp:
        assert resp.status == 200
    async with await asyncio.wait_for(collect, 10) as resp:
        responses = (await resp.json())["responses"]
    return responses[0]["payload"]["text"] if responses else ""


async def test_three_instances_cross_collect_survive_kill_9_and_a_redis_restart(
    cluster: list[Instance], private_redis: PrivateRedis
) -> None:
    first, second, third = cluster
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{first.api}/admin/clients") as resp:
                created = await resp.json()
            headers = {
                "x-bp-messaging-client-id": created["id"],
                "x-bp-messaging-client-token": created["token"],
            }
            sync = {"webhooks": [{"url": receiver.url, "events": ["message.new"]}]}
            async with http.post(f"{first.api}/sync", json=sync, headers=headers) as resp:
                assert resp.status == 200
            async with http.post(f"{second.api}/users", headers=headers) as resp:
                user = (await resp.json())["id"]
            conversations = []
            for _ in range(4):
                async with http.post(
                    f"{third.api}/conversations", json={"userId": user}, headers=headers
                ) as resp:
                    conversations.append((await resp.json())["id"])
            ctx = {"headers": headers, "receiver": receiver, "conversation": conversations[0], "user": user}

            # 1. A collect held on the first instance, answered from the second.
            assert await cross_collect(http, first, second, ctx) == "pong"

            # 2. Bounded load on all three; the third is killed (-9) halfway.
            acknowledged: list[str] = []
            halfway = asyncio.Event()

            async def sender(instance: Instance, n_sender: int) -> None:
                for n in range(MESSAGES_PER_SENDER):
                    if n == MESSAGES_PER_SENDER // 2 and n_sender == 0:
                        halfway.set()
                    body = {
                        "conversationId": conversations[n % len(conversations)],
                        "authorId": user,
                        "payload": {"type": "text", "text": f"{n_sender}-{n}"},
                    }
                    try:
                        async with http.post(f"{instance.api}/messages", json=body, headers=headers) as resp:
                            if resp.status == 201:
                                acknowledged.append((await resp.json())["id"])
                    except aiohttp.ClientError:
                        return  # the instance is gone: nothing more is acknowledged by it

            async def killer() -> None:
                await halfway.wait()
                third.process.kill()

            await asyncio.gather(sender(first, 0), sender(second, 1), sender(third, 2), killer())
            await third.process.wait()
            stored = set()
            for conversation in conversations:
                url = f"{first.api}/messages/conversation/{conversation}?limit=0"
                async with http.get(url, headers=headers) as resp:
                    stored |= {m["id"] for m in await resp.json()}
            assert set(acknowledged) <= stored  # every acknowledged message is stored

            # Every stored message's event arrives at least once (the killed instance's
            # claims come due again after their lease); duplicates are counted.
            async with asyncio.timeout(20):
                while not stored <= {
                    r.body["data"]["message"]["id"] for r in receiver.of_type("message.new")
                }:
                    await receiver.next(timeout=20)
            event_ids = Counter(r.headers["x-bp-messaging-event-id"] for r in receiver.of_type("message.new"))
            duplicates = sum(count - 1 for count in event_ids.values())
            print(
                f"kill -9 under load: {len(acknowledged)} acknowledged, {len(stored)} stored,"
                f" {sum(event_ids.values())} deliveries, {duplicates} duplicates (same event id)"
            )

            # 3. Redis restarts: collects cross instances again once the bus has reconnected.
            private_redis.stop()
            private_redis.start()
            async with asyncio.timeout(15):
                while await cross_collect(http, second, first, ctx) != "pong":
                    pass  # a reply lost while the bus reconnected: the collect timed out; again
    finally:
        await receiver.stop()
