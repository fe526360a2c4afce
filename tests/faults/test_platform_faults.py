"""A platform API that hangs or drops connections: each attempt is cut at its timeout, the
retries are bounded, and the send queue of one conversation never holds up another's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orchestrator.app import create_app
from orchestrator.channels import sender
from orchestrator.channels.base import RetryPolicy, SendError
from orchestrator.channels.dispatch import ConversationQueues
from tests.conftest import make_settings, new_client

POLICY = RetryPolicy(attempts=2, timeout=0.5, base_delay=0.01, max_delay=0.05, jitter=False)


@pytest.fixture
async def platform() -> AsyncIterator[tuple[str, list[str]]]:
    """`/hang` never answers, `/reset` drops the connection, `/ok` answers 200."""
    hits: list[str] = []
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path == "/reset":
            assert request.transport is not None
            request.transport.abort()
        elif request.path == "/hang":
            await release.wait()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{kind}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", hits
    release.set()
    await runner.cleanup()


@pytest.mark.parametrize("kind", ["hang", "reset"])
async def test_each_attempt_is_bounded_and_retries_end(platform: tuple[str, list[str]], kind: str) -> None:
    base, hits = platform
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(SendError) as failed:
            await sender.call(http, "POST", f"{base}/{kind}", platform="fake", policy=POLICY, json={})
    took = time.monotonic() - started
    assert failed.value.retryable and failed.value.status is None
    assert hits.count(f"/{kind}") == POLICY.attempts
    assert took < POLICY.attempts * POLICY.timeout + 2.0, f"{kind}: {took:.1f} s"
    print(f"platform {kind}: {POLICY.attempts} attempts of {POLICY.timeout} s ended in {took:.2f} s")


async def test_a_hanging_platform_holds_only_its_own_conversation(platform: tuple[str, list[str]]) -> None:
    base, _ = platform
    queues = ConversationQueues()
    async with aiohttp.ClientSession() as http:

        async def send(kind: str) -> str:
            try:
                await sender.call(http, "POST", f"{base}/{kind}", platform="fake", policy=POLICY, json={})
            except SendError:
                return "failed"
            return "sent"

        stuck = [queues.submit("a", lambda: send("hang")) for _ in range(3)]
        started = time.monotonic()
        other = await asyncio.wait_for(queues.submit("b", lambda: send("ok")), 2.0)
        delay = time.monotonic() - started
        assert other == "sent" and delay < POLICY.timeout
        print(f"hanging platform: another conversation's send in {delay:.3f} s")
        assert await asyncio.wait_for(asyncio.gather(*stuck), 3 * 2 * POLICY.timeout + 5) == ["failed"] * 3
    await queues.close(1.0)


@pytest.mark.parametrize("kind", ["502", "reset"])
async def test_a_platform_down_at_sync_is_503_not_a_config_error(
    aiohttp_client: Callable[..., Any], tmp_path: Path, kind: str
) -> None:
    """The credentials test at sync cannot judge credentials the platform cannot check: a 503
    naming the channel and the field, with Retry-After, and nothing is applied."""

    async def down(request: web.Request) -> web.StreamResponse:
        if kind == "reset":
            assert request.transport is not None
            request.transport.abort()
        return web.json_response({"ok": False}, status=502)

    platform = web.Application()
    platform.router.add_route("*", "/{tail:.*}", down)
    fake = await aiohttp_client(platform)
    settings = make_settings(tmp_path, channels={"test_on_sync": True})
    client = await new_client(await aiohttp_client(create_app(settings)))
    config = {"botToken": "123:abc", "apiUrl": str(fake.make_url("")).rstrip("/")}
    resp = await client.http.post(
        "/api/v1/sync", json={"channels": {"telegram": config}}, headers=client.headers
    )
    text = await resp.text()
    assert resp.status == 503, text
    assert "channel telegram unreachable (body.channels.telegram.apiUrl)" in text
    assert resp.headers["Retry-After"] == "30"
    assert (await client.get("/health"))["channels"] == {}
