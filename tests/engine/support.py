"""Helpers for engine tests: write small bots to a temp dir, fake HTTP, drive conversations."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.engine import (
    ActionRegistry,
    BotVersion,
    Engine,
    HttpRequest,
    HttpResponse,
    TurnInput,
    TurnResult,
    load_bot,
)
from orchestrator.payloads import outbound_adapter

PARIS = ZoneInfo("Europe/Paris")
# Monday 3 June 2024, 10:00 in Paris: inside the usual business hours.
MONDAY_10 = datetime(2024, 6, 3, 10, 0, tzinfo=PARIS)
SATURDAY_23 = datetime(2024, 6, 1, 23, 30, tzinfo=PARIS)

BOT_HEADER = """\
version: 1
bot:
  id: test
  timezone: Europe/Paris
flows: [flows/test/*.yaml]
"""


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def make_bot(
    root: Path,
    flows: str,
    bot: str = "",
    *,
    header: str = BOT_HEADER,
    extra: dict[str, str] | None = None,
) -> BotVersion:
    """Write `bots/test.yaml` (header + `bot`) and `flows/test/main.yaml` (`flows`), load."""
    files = {
        "bots/test.yaml": header + textwrap.dedent(bot),
        "flows/test/main.yaml": "version: 1\n" + textwrap.dedent(flows),
        **(extra or {}),
    }
    write_files(root, files)
    return load_bot(root / "bots" / "test.yaml")


Handler = Callable[[HttpRequest], Awaitable[HttpResponse] | HttpResponse]


class FakeHttp:
    """An HttpPort that answers from a function and records requests."""

    def __init__(self, handler: Handler | HttpResponse | Exception | None = None):
        self.handler = handler
        self.calls: list[HttpRequest] = []

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        self.calls.append(req)
        h = self.handler
        if h is None:
            raise AssertionError(f"unexpected HTTP call {req.method} {req.url}")
        if isinstance(h, Exception):
            raise h
        if isinstance(h, HttpResponse):
            return h
        result = h(req)
        if not isinstance(result, HttpResponse):
            result = await result
        return result


@dataclass
class Chat:
    """Drives one conversation turn by turn, checking every turn's contract."""

    bot: BotVersion
    http: Any = field(default_factory=FakeHttp)
    actions: ActionRegistry = field(default_factory=ActionRegistry)
    env: dict[str, str] = field(default_factory=dict)
    now: datetime = MONDAY_10
    channel: str = "api"
    locale: str | None = None
    agents_available: bool = True
    state: dict[str, Any] | None = None
    user_vars: dict[str, Any] = field(default_factory=dict)
    results: list[TurnResult] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        return Engine(self.bot, http=self.http, actions=self.actions, env=self.env)

    @property
    def last(self) -> TurnResult:
        return self.results[-1]

    async def send(self, event: dict[str, Any]) -> TurnResult:
        result = await self.engine.run_turn(
            TurnInput(
                event=event,
                conv_state=self.state,
                user_vars=dict(self.user_vars),
                now=self.now,
                channel=self.channel,
                locale=self.locale,
                conversation_id="c1",
                user_id="u1",
                agents_available=self.agents_available,
            )
        )
        for reply in result.replies:
            outbound_adapter.validate_python(reply)
        # state must survive a JSON round trip (it is stored between turns)
        self.state = json.loads(json.dumps(result.conv_state))
        json.dumps(result.trace, default=str)
        self.user_vars = result.user_vars
        self.results.append(result)
        return result

    async def text(self, text: str) -> TurnResult:
        return await self.send({"type": "text", "text": text})

    async def click(self, payload: str, text: str | None = None) -> TurnResult:
        event = {"type": "postback", "payload": payload}
        if text:
            event["text"] = text
        return await self.send(event)

    async def quick(self, payload: str) -> TurnResult:
        return await self.send({"type": "quick_reply", "payload": payload})

    async def event(self, name: str, data: dict[str, Any] | None = None) -> TurnResult:
        return await self.send({"type": "event", "event": name, "data": data or {}})

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    async def fire(self) -> TurnResult:
        """Move the clock to the first pending timer and send its event."""
        timers = sorted(self.last.timers, key=lambda t: t.due)
        assert timers, "no timer pending"
        timer = timers[0]
        self.now = max(self.now, timer.due)
        return await self.send({"type": "event", "event": "timer", "data": timer.data})


def texts(result: TurnResult) -> list[str]:
    """The text of every reply (buttons, choices and links included)."""
    return [r.get("text", "") for r in result.replies if "text" in r]


def payloads_of(reply: dict[str, Any]) -> list[str]:
    """Button/choice payloads of one reply."""
    if reply["type"] == "buttons":
        found = [b["payload"].get("payload") for b in reply["buttons"]]
        return found + [c["value"] for c in reply.get("quick_replies") or []]
    if reply["type"] == "single-choice":
        return [c["value"] for c in reply["choices"]]
    return []
