"""Fixtures for channel tests: a fake per platform on an ephemeral port, an HTTP session, a
retry policy that records its delays instead of sleeping, and a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    InboundRequest,
    ParsedInbound,
    RetryPolicy,
    VerificationError,
)
from tests.fakes.base import serving
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.tiledesk import TiledeskFake


@pytest.fixture
def delays() -> list[float]:
    """The delays the retry policy asked to sleep."""
    return []


@pytest.fixture
def policy(delays: list[float]) -> RetryPolicy:
    """Three attempts, deterministic delays, no real sleeping."""

    async def record(seconds: float) -> None:
        delays.append(seconds)

    return RetryPolicy(attempts=3, timeout=5.0, base_delay=0.01, max_delay=2.0, jitter=False, sleep=record)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The session channels send with."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def qiscus_fake() -> AsyncIterator[QiscusFake]:
    """A running Qiscus fake."""
    async for fake in serving(QiscusFake()):
        yield fake


@pytest.fixture
async def tiledesk_fake() -> AsyncIterator[TiledeskFake]:
    """A running Tiledesk fake."""
    async for fake in serving(TiledeskFake()):
        yield fake


@pytest.fixture
async def chat21_fake() -> AsyncIterator[Chat21Fake]:
    """A running Chat21 fake."""
    async for fake in serving(Chat21Fake()):
        yield fake


@pytest.fixture
async def mm_fake() -> AsyncIterator[MessageMediaFake]:
    """A running MessageMedia fake."""
    async for fake in serving(MessageMediaFake()):
        yield fake


@dataclass
class Receiver:
    """A minimal stand-in for the service's webhook route: verify, parse, answer."""

    url: str
    parsed: list[ParsedInbound] = field(default_factory=list)
    rejected: list[VerificationError] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Callable[[Channel[Any], ChannelConfig], Any]]:
    """`await receiver(channel, config)` serves `/webhooks/v1/test/<channel>{tail}`."""
    runners: list[web.AppRunner] = []

    async def start(channel: Channel[Any], config: ChannelConfig) -> Receiver:
        state = Receiver(url="")

        async def handle(request: web.Request) -> web.StreamResponse:
            req = await InboundRequest.from_request(request, request.match_info["tail"])
            try:
                await channel.verify(req, config)
            except VerificationError as exc:
                state.rejected.append(exc)
                return web.json_response({"error": exc.reason}, status=exc.status)
            parsed = channel.parse(req, config)
            state.parsed.append(parsed)
            return parsed.response.to_aiohttp()

        app = web.Application()
        app.router.add_post(f"/webhooks/v1/test/{channel.name}{{tail:.*}}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        port = runner.addresses[0][1]
        state.url = f"http://127.0.0.1:{port}/webhooks/v1/test/{channel.name}"
        return state

    yield start
    for runner in runners:
        await runner.cleanup()
