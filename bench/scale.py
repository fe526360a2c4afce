"""Benchmark of the scale-out backends, in one run, as ratios to one instance on SQLite.

    .venv/bin/python bench/scale.py [--seconds 5] [--concurrency 32] [--samples 200] [--tiny]

1. `POST /messages` (no bot) under closed-loop load: one instance on SQLite, one on PostgreSQL,
   and two on PostgreSQL + Redis sharing the same load (half the connections each). Servers are
   pinned to CPU 0 and the load to CPU 1 (as bench/collect.py does), PostgreSQL and Redis run
   where the kernel puts them: on a two-core machine the two-instance figure shows what the
   cluster costs, not the capacity a second machine adds. SQLite runs with
   `synchronous=NORMAL` (WAL: no fsync per commit), PostgreSQL by default flushes its WAL on
   every commit; `?synchronous_commit=off` in `storage.url` is the comparable setting (a crash
   of the machine may lose the last commits, never corrupts), measured as a fourth figure.
2. A collect held on instance A, answered from instance B: a webhook consumer in this process
   hears `message.new`, posts the reply and ends the turn on B; the time from sending the end
   of turn to B until A's collect answers (one Redis hop plus two HTTP answers), p50 and p99.

Needs PostgreSQL and Redis (`ORCH_TEST_PG_URL`, `ORCH_TEST_REDIS_URL` as the tests use); makes
a database of its own and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from aiohttp import web
from collect import Server, free_port, load, message_body, setup_client

PG_URL = os.environ.get("ORCH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def instance(storage_url: str, bus_url: str = "memory://") -> Server:
    """`orchestrator serve` on one storage and bus."""
    port = free_port()
    env = {
        "ORCH_SERVER__PORT": str(port),
        "ORCH_STORAGE__URL": storage_url,
        "ORCH_BUS__URL": bus_url,
        "ORCH_LOGGING__LEVEL": "error",
        "ORCH_BOTS__RELOAD": "false",
    }
    return Server(
        [sys.executable, "-m", "orchestrator", "serve", "--config", "config.example.yaml"], port, env
    )


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def database_url(name: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def throughput(servers: list[Server], seconds: float, concurrency: int) -> dict[str, Any]:
    """`POST /messages` req/s summed over the servers, and the worst p50/p99, sharing the load."""
    headers, pairs = await setup_client(servers[0].base, None, concurrency)
    bodies = [message_body(p, f"m{i}") for i, p in enumerate(pairs)]
    share = max(1, concurrency // len(servers))
    results = await asyncio.gather(
        *(load(s, "/api/v1/messages", bodies, share, seconds, headers=headers, status=201) for s in servers)
    )
    return {
        "rps": sum(r["rps"] for r in results),
        "p50": max(r["p50"] for r in results),
        "p99": max(r["p99"] for r in results),
    }


async def cross_collect(a: Server, b: Server, samples: int) -> list[float]:
    """Milliseconds from sending the end of turn to B until A's collect answers."""
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "message.new" and body["data"].get("collect"):
            heard.put_nowait(body["data"]["message"]["id"])
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    timings = []
    try:
        headers, [(user_id, conversation_id)] = await setup_client(a.base, None, 1)
        async with aiohttp.ClientSession(headers=headers) as session:
            sync = {"webhooks": [{"url": f"http://127.0.0.1:{port}/hook", "events": ["message.new"]}]}
            async with session.post(f"{a.base}/api/v1/sync", json=sync) as resp:
                assert resp.status == 200, await resp.text()
            for n in range(samples):
                body = {
                    "conversationId": conversation_id,
                    "authorId": user_id,
                    "payload": {"type": "text", "text": f"q{n}"},
                    "timeout": 10_000,
                }
                collect = asyncio.create_task(session.post(f"{a.base}/api/v1/messages/collect", json=body))
                incoming = await asyncio.wait_for(heard.get(), 10)
                reply = {
                    "conversationId": conversation_id,
                    "payload": {"type": "text", "text": f"a{n}"},
                    "incomingId": incoming,
                }
                async with session.post(f"{b.base}/api/v1/messages", json=reply) as resp:
                    assert resp.status == 201, await resp.text()
                started = time.perf_counter()
                async with session.post(f"{b.base}/api/v1/messages/turn/{incoming}") as resp:
                    assert resp.status == 200, await resp.text()
                answered = await asyncio.wait_for(collect, 10)
                got = await answered.json()
                timings.append((time.perf_counter() - started) * 1000)
                assert [r["payload"]["text"] for r in got["responses"]] == [f"a{n}"], got
    finally:
        await runner.cleanup()
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--tiny", action="store_true", help="tiny counts (checks that it runs)")
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.concurrency, args.samples = 0.5, 4, 5
    name = f"orch_bench_{secrets.token_hex(4)}"
    await admin(f'CREATE DATABASE "{name}"')
    pg = database_url(name)
    bus = f"{REDIS_URL}?prefix=bench-{secrets.token_hex(4)}:"
    figures: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with instance(f"sqlite:///{Path(tmp) / 'bench.db'}") as server:
                figures["1 x SQLite"] = await throughput([server], args.seconds, args.concurrency)
            async with instance(f"{pg}?schema=public") as server:
                figures["1 x PostgreSQL"] = await throughput([server], args.seconds, args.concurrency)
            async with instance(f"{pg}?synchronous_commit=off") as server:
                figures["1 x PG, sync commit off"] = await throughput(
                    [server], args.seconds, args.concurrency
                )
            async with instance(pg, bus) as a, instance(pg, bus) as b:
                figures["2 x PostgreSQL + Redis"] = await throughput([a, b], args.seconds, args.concurrency)
                timings = await cross_collect(a, b, args.samples)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = figures["1 x SQLite"]["rps"]
    print(f"POST /messages, c={args.concurrency}, {args.seconds:g} s each:")
    for label, figure in figures.items():
        print(
            f"  {label:24} {figure['rps']:8,.0f} req/s  ({figure['rps'] / base:.2f} x SQLite)"
            f"  p50 {figure['p50']:.1f} ms  p99 {figure['p99']:.1f} ms"
        )
    p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
    verdict = "ok" if p50 < 5 else "over the 5 ms goal"
    print(
        f"collect across instances (end of turn on B -> answer on A), {len(timings)} samples:"
        f" p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {statistics.fmean(timings):.2f} ms"
        f" (goal p50 < 5 ms: {verdict})"
    )


if __name__ == "__main__":
    asyncio.run(main())
