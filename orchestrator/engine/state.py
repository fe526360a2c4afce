"""Conversation state between turns: plain dataclasses with a JSON round trip.

Steps are referenced by `(flow_id, step_id)` only, so a new bot version can pick a
conversation up wherever those ids still exist.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

STATE_FORMAT = 1
FrameKind = Literal["root", "call", "digression", "handler"]
HandoffStateName = Literal["bot", "pending", "agent", "released", "closed"]


def copy_json(data: Any) -> Any:
    """A deep copy of JSON data, through orjson (several times faster than `copy.deepcopy`);
    data orjson cannot write (integers over 64 bits, non-string keys) is deep-copied."""
    try:
        return orjson.loads(orjson.dumps(data))
    except TypeError:  # orjson.JSONEncodeError
        return copy.deepcopy(data)


@dataclass(slots=True)
class TimerState:
    """A timer the conversation wants: `kind` is timeout (no answer), duration (a pause)
    or session (inactivity)."""

    id: str
    due: str  # ISO 8601, timezone-aware
    kind: Literal["timeout", "duration", "session"]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "due": self.due, "kind": self.kind}


@dataclass(slots=True)
class Wait:
    """What a frame waits for at its current step."""

    step: str
    kind: str  # ask | choose | wait | handoff
    attempt: int = 1
    timer: TimerState | None = None
    options: list[list[Any]] | None = None  # choose: [index, payload, title] as shown
    confirm: bool = False  # after an interruption: asking whether to go back to this step

    def to_json(self) -> dict[str, Any]:
        data = {
            "step": self.step,
            "kind": self.kind,
            "attempt": self.attempt,
            "timer": self.timer.to_json() if self.timer else None,
            "options": self.options,
        }
        if self.confirm:
            data["confirm"] = True
        return data

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
            confirm=bool(data.get("confirm", False)),
        )


@dataclass(slots=True)
class Frame:
    """One running flow. `pc` is the step being run or waited on (None: the flow is done).

    kind: `root` (started by a trigger or `start`), `call` (returns into the caller's call
    step), `digression` (an interruption: when it ends the frame below re-prompts, or, when it
    started a new topic, follows that flow's `after_interruption`),
    `handler` (a handler run after a step: the frame below continues at its `pc`).
    """

    flow: str
    pc: str | None
    vars: dict[str, Any] = field(default_factory=dict)
    kind: FrameKind = "root"
    wait: Wait | None = None
    aside: bool = False  # a digression run by a handler aside (no_match, timeout): always resumes
    topic: bool = False  # a digression that outlived its turn: it started a new topic
    replay_to: str | None = None  # after a correction: the step the user was at (corrections.py)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "flow": self.flow,
            "pc": self.pc,
            "vars": self.vars,
            "kind": self.kind,
            "wait": self.wait.to_json() if self.wait else None,
        }
        if self.aside:
            data["aside"] = True
        if self.topic:
            data["topic"] = True
        if self.replay_to:
            data["replay_to"] = self.replay_to
        return data

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
            aside=bool(data.get("aside", False)),
            topic=bool(data.get("topic", False)),
            replay_to=data.get("replay_to"),
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
        """A JSON-ready dict (stored between turns). Built field by field, without copying the
        values (`dataclasses.asdict` deep-copies them): the state is the turn's own, rebuilt
        from a copy of its input, and nothing touches it once the turn has returned it."""
        h = self.handoff
        return {
            "bot_id": self.bot_id,
            "version": self.version,
            "frames": [f.to_json() for f in self.frames],
            "conv": self.conv,
            "handoff": {"state": h.state, "queue": h.queue, "since": h.since},
            "session": self.session,
            "session_timer": self.session_timer.to_json() if self.session_timer else None,
            "seq": self.seq,
            "rotation": self.rotation,
            "turns": self.turns,
            "format": STATE_FORMAT,
        }

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
