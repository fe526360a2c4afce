"""End-to-end harness: the whole app with the support-desk bot, a client synced with one channel
pointing at a platform fake, and ways to wait for what happens (never sleeping).

- `Watch` records every `message.created` on the bus and can wait for the end of the bot's turn
  on a user message (`turn.<id>`, subscribed before the turn can start);
- `Harness.flush(conversation)` runs a no-op job in the conversation's outbound queue: when it
  returns, every send queued before it (retries and health events included) is done;
- `Harness.sent(fake, n)` waits until the fake has received `n` more platform calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from orchestrator.channels.base import RetryPolicy
from orchestrator.channels.gateway import DISPATCHER, RETRY
from orchestrator.services.container import Services
from orchestrator.services.messages import MessageCreated
from tests.conftest import ApiClient, make_settings, new_client
from tests.fakes.base import FakePlatform, Recorded, Webhook

BOTS = str(Path(__file__).resolve().parents[2] / "bots")
# The support desk is open Mon-Fri 09:00-18:00 Europe/Paris: a Wednesday, 11:00 in Paris.
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=False)
MAX_ATTEMPTS = 3
TIMEOUT = 5.0


class Watch:
    """Every message created, and the end of the bot's turn on each user message."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.created: list[MessageCreated] = []
        self._turns: dict[str, asyncio.Event] = {}
        services.bus.subscribe("message.created", self._on_created)

    def _on_created(self, event: MessageCreated) -> None:
        self.created.append(event)
        message_id = event.message.id
        if event.message.author_id is not None:
            done = self._turns[message_id] = asyncio.Event()
            self.services.bus.subscribe(f"turn.{message_id}", lambda _: done.set())

    def user_messages(self) -> list[MessageCreated]:
        return [e for e in self.created if e.message.author_id is not None]

    def unauthored(self) -> list[MessageCreated]:
        return [e for e in self.created if e.message.author_id is None]

    async def turn_done(self, message_id: str) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self._turns[message_id].wait()


@dataclass
class Harness:
    http: TestClient
    client: ApiClient
    services: Services
    watch: Watch
    db: Path
    channel: str
    fake: FakePlatform
    tail: str = ""
    mark: int = field(default=0)

    @property
    def hook(self) -> str:
        """The webhook URL the platform is given for this client and channel."""
        return str(self.http.make_url(f"/webhooks/v1/{self.client.id}/{self.channel}{self.tail}"))

    async def post(self, spec: dict[str, Any]) -> tuple[int, str]:
        """Make the fake post a webhook built from `spec` to the app."""
        return await self.fake.send(self.hook, spec)

    async def post_raw(self, webhook: Webhook, url: str | None = None) -> tuple[int, str]:
        return await self.fake.post_webhook(url or self.hook, webhook)

    async def sent(self, count: int = 1) -> list[Recorded]:
        """Wait for `count` platform calls after the last ones looked at; returns them."""
        await self.fake.wait_for_requests(self.mark + count, timeout=TIMEOUT)
        calls = self.fake.requests[self.mark : self.mark + count]
        self.mark += count
        return calls

    def unseen(self) -> list[Recorded]:
        """Platform calls not looked at yet."""
        return self.fake.requests[self.mark :]

    async def flush(self, conversation_id: str) -> None:
        """Wait until every send queued for the conversation is done."""

        async def noop() -> None:
            return None

        async with asyncio.timeout(TIMEOUT):
            await self.http.app[DISPATCHER].submit(conversation_id, noop)

    async def quiet_turn(self, spec: dict[str, Any]) -> MessageCreated:
        """Post a user message, wait for the bot's turn on it to end and its sends to be done."""
        before = len(self.watch.user_messages())
        status, _ = await self.post(spec)
        assert 200 <= status < 300
        [event] = self.watch.user_messages()[before:]
        await self.watch.turn_done(event.message.id)
        await self.flush(event.conversation.id)
        return event

    async def health(self) -> list[dict[str, Any]]:
        body = await self.client.get("/health")
        return body["channels"].get(self.channel, {}).get("events", [])

    def count(self, table: str) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def start(
    aiohttp_client: Callable[..., Any],
    tmp_path: Path,
    channel: str,
    config: dict[str, Any],
    fake: FakePlatform,
    *,
    tail: str = "",
    test_on_sync: bool = False,
) -> Harness:
    """A running app whose client has the support-desk bot and `channel` configured."""
    settings = make_settings(
        tmp_path,
        bots={"dir": BOTS},
        server={"external_url": "https://orchestrator.example.com"},
        channels={"test_on_sync": test_on_sync, "max_attempts": MAX_ATTEMPTS, "send_timeout": TIMEOUT},
    )
    app = create_app(settings, clock=lambda: OPEN)
    app[RETRY] = FAST_RETRIES
    http = await aiohttp_client(app)
    services = app[SERVICES]
    client = await new_client(http)
    await client.post("/sync", {"bot": "support-desk", "channels": {channel: config}}, status=200)
    return Harness(http, client, services, Watch(services), tmp_path / "orchestrator.db", channel, fake, tail)


def postbacks(body: dict[str, Any]) -> list[str]:
    """Button payloads of a Qiscus comment body (buttons, card, carousel)."""
    payload = body.get("payload") or {}
    cards = payload.get("cards") or ([payload] if body.get("type") == "card" else [])
    buttons = payload.get("buttons", []) + [b for c in cards for b in c.get("buttons", [])]
    return [b["payload"]["payload"] for b in buttons if b["type"] == "postback"]


def actions(body: dict[str, Any]) -> list[str]:
    """Action values of a Tiledesk/Chat21 message (template buttons or gallery buttons)."""
    attachment = (body.get("attributes") or {}).get("attachment") or {}
    buttons = attachment.get("buttons", []) + [
        b for item in attachment.get("gallery", []) for b in item.get("buttons", [])
    ]
    return [b["action"] for b in buttons if b["type"] == "action"]
