"""Benchmark of the hot paths, as ratios to a bare aiohttp handler measured in the same run.

    .venv/bin/python bench/collect.py [--seconds 5] [--runs 1] [--open-collects 10000]
                                      [--bot support-desk|stub]
                                      [--only load|memory|engine|instructions]
                                      [--no-callgrind] [--tiny]

Servers run pinned to CPU 0; the load comes from bench/loadgen.py (raw asyncio protocols on
uvloop, keep-alive, one request in flight per connection) pinned to CPU 1, the same as
`taskset -c 0` / `taskset -c 1`. Each figure is printed next to its goal:

1. load: a bare aiohttp JSON handler (uvloop, orjson) is the baseline; then `POST /messages`
   (no bot) and `POST /messages/collect` with the support-desk bot (an FAQ answer: 2 replies),
   at concurrency 1 and 64. A warning is printed when the load generator used most of its CPU
   (then it, not the server, set the pace) or when the baseline reads far below what a bare
   handler does on these machines.
2. memory: N requests parked at once on a bare aiohttp long-poll, then N collects with no bot
   to answer them: the server's added RSS per request, and how long after their common
   deadline the last one is answered (wake-all).
3. engine: one engine turn of the support-desk bot (FAQ answer) in process, no I/O: the best
   time per turn over a few repeats and, with valgrind installed, instructions per turn
   counted by callgrind (repeatable on a busy machine, unlike seconds).

4. instructions: with valgrind installed, the servers run under callgrind with counting
   switched on only around a fixed number of requests (`callgrind_control -i on/off`): the
   instructions each request costs the server, all threads, user space (the SQLite thread
   included, the kernel not), for the bare handler, `POST /messages` and collect. Unlike
   requests/s, these do not move with whatever else the machine runs, so their ratios are the
   figures to compare between commits on a shared machine.

`--tiny` runs every part with tiny counts (for the test that checks the benchmark runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "loadgen.py"
ENGINE_TURN = ROOT / "bench" / "engine_turn.py"
TWO_CPUS = (os.cpu_count() or 1) >= 2
SERVER_CPU, LOAD_CPU = 0, 1
SATURATED = 0.9  # share of its CPU above which the load generator is the bottleneck
BARE_FLOOR = 15_000  # req/s a bare handler beats on one core of these machines when unloaded


def pin(cpu: int) -> Callable[[], None] | None:
    """A preexec_fn that pins the child to one CPU (what `taskset -c` does)."""
    if not TWO_CPUS:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def wait_quiet(pid: int, timeout: float) -> bool:
    """Wait until the process uses (almost) no CPU for half a second; False on timeout."""
    deadline = time.monotonic() + timeout
    ticks = cpu_ticks(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_ticks(pid)
        if now - ticks <= 2:
            return True
        ticks = now
    return False


class Server:
    """A server process started from a Python snippet or the CLI, pinned to the server CPU."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.args, self.port, self.env = args, port, env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env={**os.environ, **(self.env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=pin(SERVER_CPU),
        )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"{self.base}/status") as resp:
                        if resp.status < 500:
                            return self
                except aiohttp.ClientError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                await asyncio.sleep(0.1)

    async def __aexit__(self, *_: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)


BARE = """
import asyncio, gc, orjson, uvloop
from aiohttp import web
gc.set_threshold(50_000, 50, 100)
async def echo(request):
    body = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps(dict(id="x", payload=body)), content_type="application/json")
async def park(request):
    body = orjson.loads(await request.read())
    await asyncio.sleep(body["timeout"] / 1000)
    return web.Response(body=orjson.dumps(body), content_type="application/json")
app = web.Application()
app.router.add_post("/echo", echo)
app.router.add_post("/park", park)
app.router.add_get("/status", lambda r: web.Response(text="OK"))
web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None,
            handler_cancellation=True, loop=uvloop.new_event_loop())
"""


def bare_server() -> Server:
    port = free_port()
    return Server([sys.executable, "-c", BARE.replace("PORT", str(port))], port)


def orchestrator_server(db: Path, open_collects: int = 0) -> Server:
    """The orchestrator as `orchestrator serve` runs it; the collect fair-share caps raised to
    `open_collects` when the benchmark parks that many for one client."""
    port = free_port()
    env = {
        "ORCH_SERVER__PORT": str(port),
        "ORCH_STORAGE__URL": f"sqlite:///{db}",
        "ORCH_LOGGING__LEVEL": "error",
        "ORCH_BOTS__RELOAD": "false",
    }
    if open_collects:
        env["ORCH_COLLECT__MAX_PER_CLIENT"] = env["ORCH_COLLECT__MAX_PER_CONVERSATION"] = str(open_collects)
    return Server(
        [sys.executable, "-m", "orchestrator", "serve", "--config", "config.example.yaml"], port, env
    )


def stub_bot_server(db: Path) -> Server:
    port = free_port()
    code = f"""
import asyncio, gc, uvloop
from aiohttp import web
from orchestrator.app import create_app
from orchestrator.api import SERVICES
from orchestrator.config import load_settings
gc.set_threshold(50_000, 50, 100)
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
    return Server([sys.executable, "-c", code], port)


# ------------------------------------------------------------------ load generator


def head(path: str, headers: dict[str, str] | None = None) -> str:
    """An HTTP/1.1 POST head without Content-Length (the load generator adds it)."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return "\r\n".join(lines) + "\r\n"


class LoadGenerator:
    """bench/loadgen.py in a child process pinned to the load CPU."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(LOADGEN),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=pin(LOAD_CPU),
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(self.job).encode())
        self.proc.stdin.close()

    async def line(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            await self.proc.wait()
            raise RuntimeError(f"the load generator stopped (exit {self.proc.returncode})")
        return json.loads(raw)

    async def run(self) -> dict[str, Any]:
        await self.start()
        result = await self.line()
        assert self.proc is not None
        await self.proc.wait()
        return result


async def load(
    server: Server, path: str, bodies: list[str], concurrency: int, seconds: float, **check: Any
) -> dict[str, Any]:
    """Closed-loop load at `concurrency` for `seconds`; requests/s, p50/p99 ms, cpu share."""
    job = {
        "mode": "load",
        "host": "127.0.0.1",
        "port": server.port,
        "requests": [[head(path, check.get("headers")), body] for body in bodies],
        "concurrency": concurrency,
        "seconds": seconds,
        "status": check.get("status", 200),
        "expect": check.get("expect", ""),
    }
    result = await LoadGenerator(job).run()
    if result["errors"]:
        raise RuntimeError(f"{path}: {result['errors']} bad answers, e.g. {result['error_samples']}")
    return result


async def setup_client(
    base: str, bot: str | None, pairs: int
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A client (with the bot attached) and `pairs` user+conversation pairs."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v1/admin/clients") as resp:
            created = await resp.json()
        headers = {"x-bp-messaging-client-id": created["id"], "x-bp-messaging-client-token": created["token"]}
        if bot:
            async with session.post(f"{base}/api/v1/sync", json={"bot": bot}, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        found = []
        for _ in range(pairs):
            async with session.post(f"{base}/api/v1/users", headers=headers) as resp:
                user = (await resp.json())["id"]
            async with session.post(
                f"{base}/api/v1/conversations", json={"userId": user}, headers=headers
            ) as resp:
                found.append((user, (await resp.json())["id"]))
    return headers, found


def message_body(pair: tuple[str, str], text: str, timeout: str | None = None) -> str:
    body = {"conversationId": pair[1], "authorId": pair[0], "payload": {"type": "text", "text": text}}
    encoded = json.dumps(body)
    if timeout is not None:  # kept as a placeholder the load generator fills in
        encoded = encoded[:-1] + f', "timeout": {timeout}}}'
    return encoded


@dataclass
class Figures:
    """What one run measured, by name."""

    load: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


async def measure_load(args: argparse.Namespace, tmp: Path, figures: Figures) -> None:
    """Requests/s, p50 and p99 of each path at concurrency 1 and 64, against the baseline."""
    levels = (1, args.concurrency)

    async def measure(name: str, server: Server, path: str, bodies: list[str], **check: Any) -> None:
        for concurrency in levels:
            result = await load(server, path, bodies, concurrency, args.seconds, **check)
            figures.load.setdefault(name, {})[concurrency] = result
            if result["cpu"] >= SATURATED:
                figures.warnings.append(
                    f"{name} c={concurrency}: the load generator used {result['cpu']:.0%} of its CPU, "
                    "so it may have set the pace (the ratio is then a lower bound for a fast "
                    "server, an upper bound for the baseline)"
                )

    async with bare_server() as server:
        bodies = [json.dumps({"type": "text", "text": f"m{i}"}) for i in range(64)]
        await measure("baseline", server, "/echo", bodies)
    bare = figures.load["baseline"][args.concurrency]["rps"]
    if bare < BARE_FLOOR and not args.tiny:
        figures.warnings.append(
            f"the bare handler did only {bare:,.0f} req/s (it does 20,000-37,000 on one idle core "
            "here): the machine is busy, trust the ratios more than the absolute figures"
        )

    async with orchestrator_server(tmp / "messages.db") as server:
        headers, pairs = await setup_client(server.base, None, args.concurrency)
        bodies = [message_body(p, f"m{i}") for i, p in enumerate(pairs)]
        await measure("POST /messages", server, "/api/v1/messages", bodies, headers=headers, status=201)

    bot = args.bot
    server = stub_bot_server(tmp / "stub.db") if bot == "stub" else orchestrator_server(tmp / "bot.db")
    async with server:
        headers, pairs = await setup_client(server.base, None if bot == "stub" else bot, args.concurrency)
        bodies = [message_body(p, "what are your opening hours?", "10000") for p in pairs]
        await measure(
            "collect",
            server,
            "/api/v1/messages/collect",
            bodies,
            headers=headers,
            status=201,
            expect='"responses":[{',
        )


async def park(
    server: Server, path: str, body: str, args: argparse.Namespace, status: int, **check: Any
) -> dict[str, Any]:
    """Park `--open-collects` requests on `path`, all due at one deadline; RSS and wake-all."""
    count, rate = args.open_collects, args.park_rate
    send_time = count / rate
    deadline = time.time() + send_time + args.park_margin
    gc_and_settle = await wait_quiet(server.pid, 10)
    before = rss_kb(server.pid)
    job = {
        "mode": "park",
        "host": "127.0.0.1",
        "port": server.port,
        "request": [head(path, check.get("headers")), body],
        "count": count,
        "rate": rate,
        "deadline": deadline,
    }
    generator = LoadGenerator(job)
    await generator.start()
    await generator.line()  # all sent
    quiet = await wait_quiet(server.pid, max(1.0, deadline - time.time() - 1))
    during = rss_kb(server.pid)
    parked_in_time = quiet and time.time() < deadline
    result = await generator.line()
    assert generator.proc is not None
    await generator.proc.wait()
    return {
        "kb_each": (during - before) / count,
        "mb": (during - before) / 1024,
        "wake_ms": (result["last"] - deadline) * 1000,
        "answered": result["statuses"].get(str(status), 0),
        "statuses": result["statuses"],
        "parked_in_time": parked_in_time and gc_and_settle,
    }


async def measure_parked(args: argparse.Namespace, tmp: Path, figures: Figures) -> dict[str, dict[str, Any]]:
    """The bare long-poll and collect (no bot to answer), parked in the same run."""
    found: dict[str, dict[str, Any]] = {}
    async with bare_server() as server:
        found["bare long-poll"] = await park(server, "/park", '{"n": {n}, "timeout": {timeout}}', args, 200)
    async with orchestrator_server(tmp / "parked.db", args.open_collects) as server:
        headers, pairs = await setup_client(server.base, None, 1)
        body = message_body(pairs[0], "waiting", "{timeout}")
        found["collect"] = await park(server, "/api/v1/messages/collect", body, args, 201, headers=headers)
    for name, row in found.items():
        if row["answered"] != args.open_collects:
            figures.warnings.append(
                f"parked {name}: {row['answered']} of {args.open_collects} answered as expected"
                f" (statuses {row['statuses']}): its figures are wrong"
            )
        if not row["parked_in_time"]:
            figures.warnings.append(
                f"parked {name}: the server was still busy at the deadline; raise --park-margin"
            )
    return found


# ------------------------------------------------------------------ engine


def engine_turn(turns: int) -> dict[str, Any]:
    """Best µs per turn over a few repeats, in a child pinned to the server CPU."""
    out = subprocess.run(
        [sys.executable, str(ENGINE_TURN), "--turns", str(turns), "--repeat", "5"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        preexec_fn=pin(SERVER_CPU),
    )
    return json.loads(out.stdout)


def callgrind_instructions(turns: int) -> float | None:
    """Instructions per engine turn: callgrind totals of two run lengths, differenced (so the
    interpreter's start-up and the bot's loading cancel out)."""
    if shutil.which("valgrind") is None:
        return None
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (turns, 2 * turns):
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={tmp}/cg.%p",
                    sys.executable,
                    str(ENGINE_TURN),
                    "--turns",
                    str(n),
                    "--repeat",
                    "1",
                ],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            found = re.search(r"Collected : (\d+)", done.stderr)
            if found is None:
                return None
            totals.append(int(found.group(1)))
    return (totals[1] - totals[0]) / turns


# ------------------------------------------------------------------ server instructions


async def instructions_per_request(
    server: Server, path: str, bodies: list[str], headers: dict[str, str], status: int, count: int
) -> float:
    """Instructions the server (running under callgrind, counting off) spends per request:
    counting is switched on around `count` requests sent 8 at a time, after a warm-up."""
    concurrency = min(8, len(bodies))
    async with aiohttp.ClientSession(headers={**headers, "Content-Type": "application/json"}) as session:

        async def send(body: str, times: int) -> None:
            for _ in range(times):
                async with session.post(server.base + path, data=body) as resp:
                    if resp.status != status:
                        raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")
                    await resp.read()

        await asyncio.gather(*(send(bodies[i], 10) for i in range(concurrency)))  # warm-up
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True)
        await asyncio.gather(*(send(bodies[i], count // concurrency) for i in range(concurrency)))
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, capture_output=True)
    return float(count // concurrency * concurrency)


def under_callgrind(server: Server, out: Path) -> Server:
    """The same server, run by callgrind with counting switched off until asked."""
    tool = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.%p"]
    return Server(tool + server.args, server.port, server.env)


def callgrind_total(out: Path) -> int:
    """Instructions counted, over every file callgrind wrote (one per process)."""
    total = 0
    for path in out.glob("cg.*"):
        for line in path.read_text().splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


async def measure_instructions(args: argparse.Namespace, tmp: Path) -> dict[str, float] | None:
    """Instructions per request of the bare handler, `POST /messages` and collect."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return None
    found: dict[str, float] = {}
    cases: list[tuple[str, Server, str | None]] = [
        ("baseline", bare_server(), None),
        ("POST /messages", orchestrator_server(tmp / "instr-messages.db"), None),
        ("collect", orchestrator_server(tmp / "instr-collect.db"), "support-desk"),
    ]
    for name, plain, bot in cases:
        out = tmp / f"cg-{len(found)}"
        out.mkdir()
        async with under_callgrind(plain, out) as server:
            if name == "baseline":
                path, headers, status = "/echo", {}, 200
                bodies = [json.dumps({"type": "text", "text": f"m{i}"}) for i in range(8)]
            else:
                headers, pairs = await setup_client(server.base, bot, 8)
                status = 201
                if bot:
                    path = "/api/v1/messages/collect"
                    bodies = [message_body(p, "what are your opening hours?", "10000") for p in pairs]
                else:
                    path = "/api/v1/messages"
                    bodies = [message_body(p, f"m{i}") for i, p in enumerate(pairs)]
            count = args.instruction_requests // (2 if bot else 1)
            sent = await instructions_per_request(server, path, bodies, headers, status, count)
        found[name] = callgrind_total(out) / sent
    return found


# ------------------------------------------------------------------ report

GOALS = {
    "messages": 0.60,
    "collect": 0.35,
    "collect_p50_ms": 0.5,
    "parked_ratio": 1.2,
    "wake_ms": 250,
    "turn_us": 30,
}


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def print_load(figures: Figures, concurrency: int) -> None:
    for level in (1, concurrency):
        print(f"concurrency {level}:")
        bare = figures.load["baseline"][level]
        for name, rows in figures.load.items():
            row = rows[level]
            print(
                f"  {name:<16} {row['rps']:>9,.0f} req/s"
                f"  p50 {row['p50']:>7.2f} ms  p99 {row['p99']:>7.2f} ms"
                f"  {row['rps'] / bare['rps']:>6.1%} of bare  (load generator CPU {row['cpu']:.0%})"
            )
    top = {name: rows[concurrency] for name, rows in figures.load.items()}
    messages = top["POST /messages"]["rps"] / top["baseline"]["rps"]
    collect = top["collect"]["rps"] / top["baseline"]["rps"]
    p50 = figures.load["collect"][1]["p50"]
    print("goals:")
    print(
        f"  POST /messages, c={concurrency}: {messages:.1%} of bare"
        f"   goal >= 60%   {verdict(messages >= 0.6)}"
    )
    print(
        f"  collect (FAQ answer), c={concurrency}: {collect:.1%} of bare"
        f"   goal >= 35%   {verdict(collect >= 0.35)}"
    )
    print(f"  collect p50 at c=1: {p50:.2f} ms   goal < 0.5 ms   {verdict(p50 < 0.5)}")


def print_parked(found: dict[str, dict[str, Any]], count: int) -> None:
    for name, row in found.items():
        print(
            f"  {name:<16} {row['kb_each']:>6.1f} KB each ({row['mb']:.0f} MB for {count:,}), "
            f"last answered {row['wake_ms']:.0f} ms after the deadline"
        )
    bare, ours = found["bare long-poll"], found["collect"]
    ratio = ours["kb_each"] / bare["kb_each"] if bare["kb_each"] > 0 else float("inf")
    print(
        f"  parked collect memory: {ratio:.2f}x the bare long-poll   goal <= 1.2x   {verdict(ratio <= 1.2)}"
    )
    ok = ours["wake_ms"] < GOALS["wake_ms"]
    print(
        f"  {count:,} parked collects all woken in {ours['wake_ms']:.0f} ms   goal < 250 ms   {verdict(ok)}"
    )


def print_engine(turn: dict[str, Any], instructions: float | None) -> None:
    us = turn["best_us"]
    print(
        f"  one engine turn (FAQ answer): {us:.1f} µs best of {turn['repeat']} "
        f"(median {turn['median_us']:.1f})   goal < 30 µs   {verdict(us < 30)}"
    )
    if instructions is not None:
        print(f"  instructions per turn (callgrind): {instructions:,.0f}")


def print_instructions(found: dict[str, float] | None) -> None:
    if found is None:
        print("  (valgrind is not installed: no instruction counts)")
        return
    bare = found["baseline"]
    for name, count in found.items():
        print(f"  {name:<16} {count:>12,.0f} instructions per request   {bare / count:>6.1%} of bare")
    for name, goal in (("POST /messages", 0.60), ("collect", 0.35)):
        ratio = bare / found[name]
        print(f"  {name}: {ratio:.1%} of bare in instructions  goal >= {goal:.0%}  {verdict(ratio >= goal)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat the load part (figures vary on a busy machine)"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--open-collects", type=int, default=10_000)
    parser.add_argument("--park-rate", type=float, default=1000, help="parked requests sent per second")
    parser.add_argument(
        "--park-margin", type=float, default=8, help="seconds from the last send to the deadline"
    )
    parser.add_argument("--engine-turns", type=int, default=3000)
    parser.add_argument("--bot", choices=["support-desk", "stub"], default="support-desk")
    parser.add_argument(
        "--only", choices=["load", "memory", "engine", "instructions"], help="run one part only"
    )
    parser.add_argument(
        "--instruction-requests", type=int, default=400, help="requests counted under callgrind"
    )
    parser.add_argument("--no-callgrind", action="store_true", help="skip counting instructions")
    parser.add_argument("--tiny", action="store_true", help="tiny counts: checks that the benchmark runs")
    args = parser.parse_args()
    if args.tiny:
        args.seconds, args.runs, args.concurrency = 0.3, 1, 4
        args.open_collects, args.park_rate, args.park_margin = 20, 200, 3
        args.engine_turns, args.no_callgrind = 20, True
    raise_fd_limit()
    if TWO_CPUS:
        os.sched_setaffinity(0, {LOAD_CPU})
        print(f"servers pinned to CPU {SERVER_CPU}, load generator to CPU {LOAD_CPU}")
    else:
        print("WARNING: one CPU only: server and load generator share it")
    tmp = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    for run in range(args.runs if args.only in (None, "load") else 1):
        figures = Figures()
        if args.only in (None, "load"):
            print(f"--- load (run {run + 1} of {args.runs}, {args.seconds:g} s per figure)")
            (tmp / f"run{run}").mkdir()
            await measure_load(args, tmp / f"run{run}", figures)
            print_load(figures, args.concurrency)
        if run == 0 and args.only in (None, "memory"):
            print(f"--- {args.open_collects:,} parked requests")
            print_parked(await measure_parked(args, tmp, figures), args.open_collects)
        if run == 0 and args.only in (None, "engine"):
            print("--- engine")
            print_engine(
                engine_turn(args.engine_turns), None if args.no_callgrind else callgrind_instructions(200)
            )
        if run == 0 and args.only in (None, "instructions") and not args.no_callgrind:
            print("--- server instructions per request (callgrind)")
            print_instructions(await measure_instructions(args, tmp))
        for warning in figures.warnings:
            print(f"WARNING: {warning}")


if __name__ == "__main__":
    asyncio.run(main())
