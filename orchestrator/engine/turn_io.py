"""What goes into one turn and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class TimerRequest:
    """A timer the conversation wants; when due, send back
    `{"type": "event", "event": "timer", "data": data}`."""

    id: str
    due: datetime
    data: dict[str, Any]


@dataclass(slots=True)
class HandoffRequest:
    """Set on the turn that starts a handoff: where and how to queue the conversation."""

    queue: str
    priority: str
    summary: str
    tags: list[str] = field(default_factory=list)


@dataclass
class TurnInput:
    """One inbound event with everything the engine may know about it."""

    event: dict[str, Any]
    conv_state: dict[str, Any] | None
    user_vars: dict[str, Any]
    now: datetime
    channel: str = "api"
    locale: str | None = None
    conversation_id: str = ""
    user_id: str = ""
    agents_available: bool = True
    flow_vars: dict[str, Any] | None = None  # flow.* of the first flow the turn starts (tests' given.flow)


@dataclass
class TurnResult:
    """What a turn produced: new state, replies, timers, handoff request, trace."""

    conv_state: dict[str, Any]
    user_vars: dict[str, Any]
    replies: list[dict[str, Any]]
    timers: list[TimerRequest]
    handoff: HandoffRequest | None
    handoff_state: str
    ended: str | None
    waiting: bool
    error: str | None
    trace: dict[str, Any]
