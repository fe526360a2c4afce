"""Fixtures for the end-to-end tests: one running fake per platform (ephemeral ports)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.base import FakePlatform, serving
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.tiledesk import TiledeskFake


@pytest.fixture
async def qiscus() -> AsyncIterator[FakePlatform]:
    async for fake in serving(QiscusFake()):
        yield fake


@pytest.fixture
async def tiledesk() -> AsyncIterator[FakePlatform]:
    async for fake in serving(TiledeskFake()):
        yield fake


@pytest.fixture
async def chat21() -> AsyncIterator[FakePlatform]:
    async for fake in serving(Chat21Fake()):
        yield fake


@pytest.fixture
async def messagemedia() -> AsyncIterator[FakePlatform]:
    async for fake in serving(MessageMediaFake()):
        yield fake
