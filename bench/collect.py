"""Benchmark of the hot paths, as ratios to a bare aiohttp JSON handler measured in the same run.

    .venv/bin/python bench/collect.py [--seconds 5] [--open-collects 10000] [--bot support-desk]

Each server runs in its own process (the load generator is this process):
1. baseline: a bare aiohttp handler that parses a JSON POST and answers JSON (uvloop, orjson);
2. `POST /api/v1/messages` on the orchestrator (SQLite, a commit per message);
3. `POST /api/v1/messages/collect` with an in-process bot that answers at once: the real flow
   engine running bots/support-desk.yaml (`--bot support-desk`, the default once the engine is
   there) or a stub that replies and ends the turn (`--bot stub`);
at concurrency 1 and 64, printing requests/s, p50 and p99 and the ratio to the baseline. Then it
holds N open collects (no bot) and prints the server's added memory per waiting collect.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
Request = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def wait_up(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.1)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def load(request: Request, concurrency: int, seconds: float) -> dict[str, float]:
    """Run `concurrency` workers for `seconds`; requests/s and latency percentiles (ms)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(n: int) -> None:
            i = 0
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await request(session, n * 1_000_000 + i)
                latencies.append(time.perf_counter() - started)
                i += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


class Server:
    """A server process started from a Python snippet or the CLI."""

    def __init__(self, args: list[str], health_url: str, env: dict[str, str] | None = None) -> None:
        self.args, self.health_url, self.env = args, health_url, env
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env={**os.environ, **(self.env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_up(self.health_url)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)


BASELINE = """
import orjson, uvloop
from aiohttp import web
async def handle(request):
    body = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps(dict(id="x", payload=body)), content_type="application/json")
app = web.Application()
app.router.add_post("/echo", handle)
app.router.add_get("/status", lambda r: web.Response(text="OK"))
web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None, loop=uvloop.new_event_loop())
"""


PARKED_BASELINE = """
import asyncio, gc, orjson, uvloop
from aiohttp import web
gc.set_threshold(50_000, 50, 100)
forever = None
async def handle(request):
    body = orjson.loads(await request.read())
    await forever
    return web.json_response(body)
async def start(app):
    global forever
    forever = asyncio.get_running_loop().create_future()
app = web.Application()
app.on_startup.append(start)
app.router.add_post("/park", handle)
app.router.add_get("/status", lambda r: web.Response(text="OK"))
web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None,
            handler_cancellation=True, loop=uvloop.new_event_loop())
"""


async def parked_rss(
    server: Server, url: str, bodies: Callable[[int], dict], headers: dict, count: int
) -> float:
    """KB of server RSS added per request parked on `url`."""
    assert server.proc is not None
    before = rss_kb(server.proc.pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def park(i: int) -> None:
            async with session.post(url, json=bodies(i), headers=headers) as resp:
                await resp.read()

        tasks = [asyncio.create_task(park(i)) for i in range(count)]
        await asyncio.sleep(min(40, 5 + count / 500))  # let them all park (no event to wait on)
        during = rss_kb(server.proc.pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return (during - before) / count


async def setup_client(base: str, bot: str | None) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A client (with the bot attached) and 64 user+conversation pairs."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v1/admin/clients") as resp:
            created = await resp.json()
        headers = {"x-bp-messaging-client-id": created["id"], "x-bp-messaging-client-token": created["token"]}
        if bot:
            async with session.post(f"{base}/api/v1/sync", json={"bot": bot}, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        pairs = []
        for _ in range(64):
            async with session.post(f"{base}/api/v1/users", headers=headers) as resp:
                user = (await resp.json())["id"]
            async with session.post(
                f"{base}/api/v1/conversations", json={"userId": user}, headers=headers
            ) as resp:
                pairs.append((user, (await resp.json())["id"]))
    return headers, pairs


def orchestrator_server(port: int, db: Path, extra_env: dict[str, str] | None = None) -> Server:
    env = {
        "ORCH_SERVER__PORT": str(port),
        "ORCH_STORAGE__URL": f"sqlite:///{db}",
        "ORCH_LOGGING__LEVEL": "error",
        "ORCH_BOTS__RELOAD": "false",
        **(extra_env or {}),
    }
    return Server(
        [sys.executable, "-m", "orchestrator", "serve", "--config", "config.example.yaml"],
        f"http://127.0.0.1:{port}/status",
        env,
    )


def stub_bot_server(port: int, db: Path) -> Server:
    code = f"""
import asyncio, logging, uvloop
from aiohttp import web
from orchestrator.app import create_app
from orchestrator.api import SERVICES
from orchestrator.config import load_settings
settings = load_settings(None, {{"ORCH_STORAGE__URL": "sqlite:///{db}", "ORCH_LOGGING__LEVEL": "error"}})
app = create_app(settings)
services = app[SERVICES]
def on_message(event):
    if event.message.author_id is None:
        return
    async def answer():
        await services.messages.create(event.client_id, event.conversation.id,
                                       {{"type": "text", "text": "hello"}},
                                       incoming_id=event.message.id)
        await services.messages.announce_turn_end(event.message.id)
    asyncio.get_running_loop().create_task(answer())
services.bus.subscribe("message.created", on_message)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None,
            handler_cancellation=True, loop=uvloop.new_event_loop())
"""
    return Server([sys.executable, "-c", code], f"http://127.0.0.1:{port}/status")


def report(name: str, result: dict[str, float], baseline: dict[str, float]) -> None:
    ratio = result["rps"] / baseline["rps"]
    print(
        f"  {name:<34} {result['rps']:>9.0f} req/s   p50 {result['p50']:>7.2f} ms   "
        f"p99 {result['p99']:>7.2f} ms   {ratio:>6.1%} of baseline"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--open-collects", type=int, default=10_000)
    parser.add_argument("--bot", choices=["support-desk", "stub"], default="support-desk")
    parser.add_argument("--only", choices=["load", "memory", "engine"], help="run one part only")
    args = parser.parse_args()
    if args.only == "engine":
        return
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    if args.only != "memory":
        await measure_load(args, tmp)
    if args.only != "load":
        await measure_parked(args, tmp)


async def measure_load(args: argparse.Namespace, tmp: Path) -> None:
    """Requests/s, p50 and p99 of each path at concurrency 1 and 64, against the baseline."""
    results: dict[int, dict[str, dict[str, float]]] = {1: {}, 64: {}}

    port = free_port()
    async with Server(
        [sys.executable, "-c", BASELINE.replace("PORT", str(port))], f"http://127.0.0.1:{port}/status"
    ):
        url = f"http://127.0.0.1:{port}/echo"

        async def bare(session: aiohttp.ClientSession, i: int) -> None:
            async with session.post(url, json={"type": "text", "text": f"m{i}"}) as resp:
                await resp.read()

        for concurrency in results:
            results[concurrency]["baseline"] = await load(bare, concurrency, args.seconds)

    port = free_port()
    async with orchestrator_server(port, tmp / "messages.db"):
        base = f"http://127.0.0.1:{port}"
        headers, pairs = await setup_client(base, None)

        async def post_message(session: aiohttp.ClientSession, i: int) -> None:
            user, conversation = pairs[i // 1_000_000 % len(pairs)]
            body = {
                "conversationId": conversation,
                "authorId": user,
                "payload": {"type": "text", "text": f"m{i}"},
            }
            async with session.post(f"{base}/api/v1/messages", json=body, headers=headers) as resp:
                assert resp.status == 201, await resp.text()

        for concurrency in results:
            results[concurrency]["POST /messages"] = await load(post_message, concurrency, args.seconds)

    port = free_port()
    server = (
        stub_bot_server(port, tmp / "stub.db")
        if args.bot == "stub"
        else orchestrator_server(port, tmp / "bot.db")
    )
    async with server:
        base = f"http://127.0.0.1:{port}"
        headers, pairs = await setup_client(base, None if args.bot == "stub" else args.bot)

        async def collect(session: aiohttp.ClientSession, i: int) -> None:
            user, conversation = pairs[i // 1_000_000 % len(pairs)]
            body = {
                "conversationId": conversation,
                "authorId": user,
                "timeout": 10_000,
                "payload": {"type": "text", "text": "what are your opening hours?"},
            }
            async with session.post(f"{base}/api/v1/messages/collect", json=body, headers=headers) as resp:
                reply = await resp.json()
                assert reply["responses"], reply

        for concurrency in results:
            results[concurrency][f"collect ({args.bot} bot)"] = await load(collect, concurrency, args.seconds)

    for concurrency, rows in results.items():
        print(f"concurrency {concurrency}:")
        for name, result in rows.items():
            report(name, result, rows["baseline"])


async def measure_parked(args: argparse.Namespace, tmp: Path) -> None:
    """Server memory added by N requests parked at once: a bare aiohttp long-poll (the
    baseline), then `messages/collect` with no bot to answer."""
    count = args.open_collects
    port = free_port()
    async with Server(
        [sys.executable, "-c", PARKED_BASELINE.replace("PORT", str(port))], f"http://127.0.0.1:{port}/status"
    ) as server:
        bare = await parked_rss(
            server, f"http://127.0.0.1:{port}/park", lambda i: {"type": "text", "text": "waiting"}, {}, count
        )
    port = free_port()
    async with orchestrator_server(port, tmp / "parked.db") as server:
        base = f"http://127.0.0.1:{port}"
        headers, pairs = await setup_client(base, None)

        def body(i: int) -> dict:
            user, conversation = pairs[i % len(pairs)]
            return {
                "conversationId": conversation,
                "authorId": user,
                "timeout": 0,
                "payload": {"type": "text", "text": "waiting"},
            }

        ours = await parked_rss(server, f"{base}/api/v1/messages/collect", body, headers, count)
    print(
        f"{count} parked requests, server RSS per request: bare aiohttp long-poll {bare:.1f} KB, "
        f"collect {ours:.1f} KB (+{ours - bare:.1f} KB each; {count * ours / 1024:.0f} MB in all, "
        f"{count * (ours - bare) / 1024:.0f} MB above the bare long-poll)"
    )


async def engine_time_per_turn(turns: int = 2000) -> None:
    """The pure engine alone: support-desk turns in process, no I/O."""
    from datetime import UTC, datetime

    from orchestrator.engine import ActionRegistry, Engine, TurnInput, load_bot

    bot = load_bot(ROOT / "bots" / "support-desk.yaml", ROOT)
    engine = Engine(bot, http=None, actions=ActionRegistry.from_bot(bot), env={})  # type: ignore[arg-type]
    now = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    state, user_vars = None, {}
    inputs = ["hello", "what are your opening hours?", "how much is shipping?"]
    started = time.perf_counter()
    for n in range(turns):
        event = {"type": "text", "text": inputs[n % len(inputs)]}
        result = await engine.run_turn(TurnInput(event=event, conv_state=state, user_vars=user_vars, now=now))
        state, user_vars = result.conv_state, result.user_vars
    per_turn = (time.perf_counter() - started) / turns * 1000
    print(f"engine alone: {per_turn:.3f} ms per turn (support-desk bot, {turns} turns)")


if __name__ == "__main__":
    asyncio.run(main())
    if "--only" not in sys.argv or "engine" in sys.argv:
        asyncio.run(engine_time_per_turn())
