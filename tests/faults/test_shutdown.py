"""SIGTERM to `orchestrator serve` during a long collect: the collect is answered at once with
what it gathered (not at its own timeout), the process exits cleanly, and a restart on the same
database delivers the webhook events that were still pending."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.receiver import Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server: {{port: {port}}}\n"
        f"storage: {{url: 'sqlite:///{tmp_path}/orchestrator.db'}}\n"
        f"bots: {{dir: '{tmp_path}/no-bots', reload: false}}\n"
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
