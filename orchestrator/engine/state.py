"""Conversation state between turns: plain dataclasses with a JSON round trip.

Steps are referenced by `(flow_id, step_id)` only, so a new bot version can pick a
conversation up wherever those ids still exist.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

STATE_FORMAT = 1
FrameKind = Literal["root", "call", "digression", "handler"]
HandoffStateName = Literal["bot", "pending", "agent", "released", "closed"]


@dataclass(slots=True)
class TimerState:
    """A timer the conversation wants: `kind` is timeout (no answer), duration (a pause)
    or session (inactivity)."""

    id: str
    due: str  # ISO 8601, timezone-aware
    kind: Literal["timeout", "duration", "session"]


@dataclass(slots=True)
class Wait:
    """What a frame waits for at its current step."""

    step: str
    kind: str  # ask | choose | wait | handoff
    attempt: int = 1
    timer: TimerState | None = None
    options: list[list[Any]] | None = None  # choose: [index, payload, title] as shown

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Wait:
        """Rebuild from `to_json` data."""
        timer = data.get("timer")
        return cls(
            step=data["step"],
            kind=data["kind"],
            attempt=int(data.get("attempt", 1)),
            timer=TimerState(**timer) if timer else None,
            options=data.get("options"),
        )


@dataclass(slots=True)
class Frame:
    """One running flow. `pc` is the step being run or waited on (None: the flow is done).

    kind: `root` (started by a trigger or `start`), `call` (returns into the caller's call
    step), `digression` (an interruption: when it ends the frame below re-prompts),
    `handler` (a handler run after a step: the frame below continues at its `pc`).
    """

    flow: str
    pc: str | None
    vars: dict[str, Any] = field(default_factory=dict)
    kind: FrameKind = "root"
    wait: Wait | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frame:
        """Rebuild from `to_json` data."""
        wait = data.get("wait")
        return cls(
            flow=data["flow"],
            pc=data.get("pc"),
            vars=dict(data.get("vars") or {}),
            kind=data.get("kind", "root"),
            wait=Wait.from_json(wait) if wait else None,
        )


@dataclass(slots=True)
class HandoffState:
    """Who has the conversation: bot, pending, agent, released or closed."""

    state: HandoffStateName = "bot"
    queue: str | None = None
    since: str | None = None


@dataclass(slots=True)
class ConvState:
    """Everything a conversation carries from one turn to the next."""

    bot_id: str
    version: str
    frames: list[Frame] = field(default_factory=list)
    conv: dict[str, Any] = field(default_factory=dict)
    handoff: HandoffState = field(default_factory=HandoffState)
    session: bool = False  # a session is running (session_start has been considered)
    session_timer: TimerState | None = None
    seq: int = 0  # timer id counter
    rotation: dict[str, int] = field(default_factory=dict)  # message variant rotation
    turns: int = 0

    def next_id(self, prefix: str) -> str:
        """A new timer id, unique within the conversation."""
        self.seq += 1
        return f"{prefix}{self.seq}"

    def timers(self) -> list[TimerState]:
        """The complete set of timers this state wants."""
        found = [f.wait.timer for f in self.frames if f.wait and f.wait.timer]
        if self.session_timer:
            found.append(self.session_timer)
        return found

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored between turns)."""
        data = asdict(self)
        data["format"] = STATE_FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConvState:
        """Rebuild from `to_json` data."""
        timer = data.get("session_timer")
        return cls(
            bot_id=data.get("bot_id", ""),
            version=data.get("version", ""),
            frames=[Frame.from_json(f) for f in data.get("frames") or []],
            conv=dict(data.get("conv") or {}),
            handoff=HandoffState(**(data.get("handoff") or {})),
            session=bool(data.get("session", False)),
            session_timer=TimerState(**timer) if timer else None,
            seq=int(data.get("seq", 0)),
            rotation=dict(data.get("rotation") or {}),
            turns=int(data.get("turns", 0)),
        )
