"""One shell conversation: turns through the production engine, a virtual clock, timers, and a
record of everything (inputs, replies, HTTP exchanges, action results) for `/save`."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..engine import ActionRegistry, BotVersion, Engine, HttpPort, HttpRequest, HttpResponse, TurnInput
from ..engine.actions import ActionContext
from ..engine.turn_io import TurnResult


@dataclass
class Exchange:
    """One HTTP call a step made, and what came back (or the error)."""

    request: HttpRequest
    response: HttpResponse | None = None
    error: str | None = None


@dataclass
class Step:
    """One entry of the session's record: a user input, a clock move, or the bot's replies."""

    kind: str  # user | wait | bot
    value: Any


class RecordingHttp:
    """The HTTP port, recording every exchange (for the mocks of a saved test)."""

    def __init__(self, inner: HttpPort) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        exchange = Exchange(req)
        self.exchanges.append(exchange)
        try:
            exchange.response = await self.inner(req)
        except Exception as exc:
            exchange.error = "timeout" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise
        return exchange.response


class RecordingActions(ActionRegistry):
    """The bot's actions, recording each call's result (for the mocks of a saved test)."""

    def __init__(self, inner: ActionRegistry) -> None:
        super().__init__({name: inner.get(name) for name in inner.names()})  # type: ignore[misc]
        self.calls: dict[str, list[dict[str, Any]]] = {}

    async def call(self, name: str, ctx: ActionContext, params: Any) -> Any:
        try:
            result = await super().call(name, ctx, params)
        except Exception as exc:
            self.calls.setdefault(name, []).append({"error": str(exc) or type(exc).__name__})
            raise
        self.calls.setdefault(name, []).append({"returns": copy.deepcopy(result)})
        return result


@dataclass
class Session:
    """A conversation with one bot, kept in memory. `now` is the virtual clock (None: real time)."""

    bot: BotVersion
    http: RecordingHttp
    actions: RecordingActions
    env: dict[str, str]
    clock: datetime | None = None
    channel: str = "webchat"
    locale: str | None = None
    state: dict[str, Any] | None = None
    user_vars: dict[str, Any] = field(default_factory=dict)
    timers: list[Any] = field(default_factory=list)
    record: list[Step] = field(default_factory=list)
    last: TurnResult | None = None
    started: datetime | None = None
    conversation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def now(self) -> datetime:
        """The virtual clock, or the real time."""
        return self.clock if self.clock is not None else datetime.now().astimezone()

    async def send(self, event: dict[str, Any]) -> TurnResult:
        """One user input (text, postback, quick_reply, event)."""
        self.record.append(Step("user", event))
        result = await self._turn(event)
        self.record.append(Step("bot", result.replies))
        return result

    async def _turn(self, event: dict[str, Any]) -> TurnResult:
        now = self.now()
        if self.started is None:
            self.started = now
        engine = Engine(self.bot, http=self.http, actions=self.actions, env=self.env)
        result = await engine.run_turn(
            TurnInput(
                event=event,
                conv_state=self.state,
                user_vars=dict(self.user_vars),
                now=now,
                channel=self.channel,
                locale=self.locale,
                conversation_id=self.conversation_id,
                user_id="shell-user",
            )
        )
        self.state, self.user_vars, self.timers = result.conv_state, result.user_vars, list(result.timers)
        self.last = result
        return result

    async def set_clock(self, when: datetime) -> list[TurnResult]:
        """Move the virtual clock; timers that fall due on the way fire, in order."""
        fired: list[TurnResult] = []
        current = self.now()
        if self.started is not None and when > current:  # a saved test says `wait:`
            self.record.append(Step("wait", round((when - current).total_seconds())))
            self.clock = current
            fired = await self._fire_until(when)
        self.clock = when
        return fired

    async def wait(self, seconds: float) -> list[TurnResult]:
        """Move the clock on by `seconds` (the virtual one, started from now when unset)."""
        start = self.now()
        self.clock = start
        return await self.set_clock(start + timedelta(seconds=seconds))

    async def _fire_until(self, target: datetime) -> list[TurnResult]:
        fired = []
        for _ in range(50):
            due = sorted((t for t in self.timers if t.due <= target), key=lambda t: t.due)
            if not due:
                break
            self.clock = max(self.clock or due[0].due, due[0].due)
            result = await self._turn({"type": "event", "event": "timer", "data": dict(due[0].data)})
            self.record.append(Step("bot", result.replies))
            fired.append(result)
        return fired

    def reset(self) -> None:
        """A new conversation (stored user.* variables are kept, as for a returning user)."""
        self.state, self.timers, self.last, self.record = None, [], None, []
        self.started = None
        self.http.exchanges.clear()
        self.actions.calls.clear()
        self.conversation_id = str(uuid.uuid4())

    def variables(self) -> dict[str, Any]:
        """conv.*, user.* and the running flow's flow.* values."""
        state = self.state or {}
        frames = state.get("frames") or []
        top = frames[-1] if frames else None
        return {
            "conv": state.get("conv") or {},
            "user": self.user_vars,
            "flow": (top or {}).get("vars") or {},
            "at": f"{top['flow']}.{(top.get('wait') or {}).get('step') or top.get('pc')}" if top else None,
        }
