"""SIGTERM to `orchestrator serve` during a long collect: the collect is answered at once with
what it gathered (not at its own timeout), the process exits cleanly, and a restart on the same
database delivers the webhook events that were still pending. SIGTERM during a bot turn: the
turn finishes (its collect gets the replies), and a restart fires the timers left due."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.engine.support import write_files
from tests.receiver import Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _stopped_listening(port: int) -> None:
    """Wait (at most 10 s) until the server refuses new connections: its shutdown has begun."""
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                return
            writer.close()
            await asyncio.sleep(0.02)


async def _serve(
    tmp_path: Path, port: int, bots: str = "no-bots", env: str = "{}"
) -> asyncio.subprocess.Process:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server: {{port: {port}}}\n"
        f"storage: {{url: 'sqlite:///{tmp_path}/orchestrator.db'}}\n"
        f"bots: {{dir: '{tmp_path}/{bots}', reload: false, env: {env}}}\n"
        "channels: {test_on_sync: false}\n"
        "webhooks: {timeout: 2, retry_base: 0.05, retry_max: 0.2}\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        "serve",
        "--config",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    async with aiohttp.ClientSession() as http, asyncio.timeout(20):
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/status") as resp:
                    if resp.status == 200:
                        return process
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)


async def test_sigterm_answers_open_collects_and_restart_delivers(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    receiver = Receiver()
    hook_port = _free_port()  # nothing listens there yet: deliveries stay pending
    process = await _serve(tmp_path, port)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/admin/clients") as resp:
            created = await resp.json()
        headers = {"x-bp-messaging-client-id": created["id"], "x-bp-messaging-client-token": created["token"]}

        async def post(path: str, body: Any) -> Any:
            async with http.post(f"{api}{path}", json=body, headers=headers) as resp:
                assert resp.status in (200, 201), await resp.text()
                return await resp.json()

        await post("/sync", {"webhooks": [{"url": f"http://127.0.0.1:{hook_port}/hook"}]})
        user = (await post("/users", {}))["id"]
        conversation = (await post("/conversations", {"userId": user}))["id"]
        body = {
            "conversationId": conversation,
            "authorId": user,
            "payload": {"type": "text", "text": "hi"},
            "timeout": 40_000,
        }
        collect = asyncio.create_task(post("/messages/collect", body))
        async with asyncio.timeout(10):
            while True:  # the collect's message is stored: it is parked
                async with http.get(f"{api}/messages/conversation/{conversation}", headers=headers) as resp:
                    if len(await resp.json()) == 1:
                        break
                await asyncio.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        answered = await asyncio.wait_for(collect, 10)
        assert answered["responses"] == [] and answered["message"]["conversationId"] == conversation
        assert time.monotonic() - started < 10, "the collect was held to its own timeout"
        print(f"SIGTERM: a 40 s collect answered {time.monotonic() - started:.2f} s after the signal")
        assert await asyncio.wait_for(process.wait(), 20) == 0
    await receiver.start(hook_port)
    restarted = await _serve(tmp_path, port)
    try:
        delivered = await receiver.wait_for(1, "message.new", timeout=15)
        assert delivered[0].body["data"]["message"]["conversationId"] == conversation
    finally:
        restarted.send_signal(signal.SIGTERM)
        await asyncio.wait_for(restarted.wait(), 20)
        await receiver.stop()


SLOW_BOT = """\
version: 1
flows:
  status:
    triggers: [{keywords: [status]}]
    steps:
      - http: {method: GET, url: "{{ env.API }}/status", timeout: 20s, into: flow.r, on_error: [{say: down}]}
      - say: "Status: {{ flow.r.json.state }}"
  pause:
    triggers: [{keywords: [pause]}]
    steps:
      - say: "Wait for it..."
      - id: breathe
        wait: {duration: 4s}
      - say: "Done waiting."
"""


class SlowApi:
    """An HTTP API that answers only when told to (`release`)."""

    def __init__(self) -> None:
        self.called, self.release = asyncio.Event(), asyncio.Event()
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/status", self._status)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def _status(self, request: web.Request) -> web.Response:
        self.called.set()
        await self.release.wait()
        return web.json_response({"state": "green"})

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()


async def test_sigterm_during_a_turn_finishes_it_and_restart_fires_due_timers(tmp_path: Path) -> None:
    files = {"bots/test.yaml": "version: 1\nbot: {id: test}\nflows: [flows/test/*.yaml]\n"}
    write_files(tmp_path, {**files, "flows/test/main.yaml": SLOW_BOT})
    slow = SlowApi()
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    process = await _serve(tmp_path, port, bots="bots", env=f"{{API: '{await slow.start()}'}}")
    restarted: asyncio.subprocess.Process | None = None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{api}/admin/clients") as resp:
                created = await resp.json()
            headers = {
                "x-bp-messaging-client-id": created["id"],
                "x-bp-messaging-client-token": created["token"],
            }

            async def call(method: str, path: str, body: Any = None) -> Any:
                async with http.request(method, f"{api}{path}", json=body, headers=headers) as resp:
                    assert resp.status in (200, 201), await resp.text()
                    return await resp.json()

            async def collect(conversation: str, user: str, text: str) -> list[str]:
                payload = {"type": "text", "text": text}
                body = {
                    "conversationId": conversation,
                    "authorId": user,
                    "payload": payload,
                    "timeout": 20_000,
                }
                answer = await call("POST", "/messages/collect", body)
                return [r["payload"]["text"] for r in answer["responses"]]

            async def texts(conversation: str) -> list[str]:
                messages = await call("GET", f"/messages/conversation/{conversation}?limit=0")
                return [m["payload"]["text"] for m in reversed(messages)]

            await call("POST", "/sync", {"bot": "test"})
            user = (await call("POST", "/users", {}))["id"]
            paused, turning = [(await call("POST", "/conversations", {"userId": user}))["id"] for _ in "ab"]
            assert await collect(paused, user, "pause") == ["Wait for it..."]  # a timer 4 s away
            turn = asyncio.create_task(collect(turning, user, "status"))
            await asyncio.wait_for(slow.called.wait(), 10)  # the turn waits on the API
            process.send_signal(signal.SIGTERM)
            await _stopped_listening(port)  # the server is shutting down with the turn under way
            slow.release.set()
            assert await asyncio.wait_for(turn, 10) == ["Status: green"]  # the turn finished
            assert await asyncio.wait_for(process.wait(), 20) == 0
            with sqlite3.connect(tmp_path / "orchestrator.db") as db:
                assert db.execute("SELECT COUNT(*) FROM timers").fetchone()[0] == 1  # not fired yet

            restarted = await _serve(tmp_path, port, bots="bots", env="{API: 'http://127.0.0.1:9'}")
            started = time.monotonic()
            async with asyncio.timeout(15):
                while len(await texts(paused)) < 3:  # the timer fires after the restart
                    await asyncio.sleep(0.1)
            print(f"SIGTERM during a turn: due timer fired {time.monotonic() - started:.2f} s after restart")
            assert await texts(paused) == ["pause", "Wait for it...", "Done waiting."]
            assert await texts(turning) == ["status", "Status: green"]  # stored once, whole
    finally:
        for proc in (process, restarted):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 20)
        await slow.stop()
