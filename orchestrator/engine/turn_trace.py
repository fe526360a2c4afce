"""The trace of a turn (what `orchestrator explain` and the studio show): how it starts, where
the conversation stands, and how it is closed (replies summarised, secrets masked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from .compiled import BotVersion
from .http import redact
from .state import ConvState


def new(now: datetime, bot: BotVersion) -> dict[str, Any]:
    """A turn's trace before anything has happened."""
    return {
        "at": now.isoformat(),
        "bot": {"id": bot.id, "version": bot.version},
        "route": None,
        "candidates": [],
        "winner": None,
        "steps": [],
        "vars": [],
        "calls": [],
    }


def position(state: ConvState) -> dict[str, Any]:
    """Where the conversation stands: top flow and step, depth, who has it."""
    top = state.frames[-1] if state.frames else None
    return {
        "flow": top.flow if top else None,
        "step": (top.wait.step if top.wait else top.pc) if top else None,
        "depth": len(state.frames),
        "handoff": state.handoff.state,
    }


def finish(
    trace: dict[str, Any],
    state: ConvState,
    replies: list[dict[str, Any]],
    error: str | None,
    seconds: float,
    needles: tuple[str, ...],
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    """The trace completed with the turn's outcome; a copy with `secrets` masked when one of
    them (as `needles`, JSON-escaped) may appear in it."""
    trace.update(
        state_out=position(state),
        replies=[reply_summary(p) for p in replies],
        error=error,
        ms=round(seconds * 1000, 3),
    )
    if secrets and may_mention(trace, needles):
        return redact_tree(trace, secrets)
    return trace


def reply_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """A reply as the trace shows it: its type, its text and the (title, payload) of its
    buttons, quick replies and cards."""
    out: dict[str, Any] = {"type": payload.get("type")}
    text = payload.get("text")
    if isinstance(text, str):
        out["text"] = text if len(text) <= 300 else text[:299] + "…"
    options: list[list[Any]] = []
    for b in payload.get("buttons") or []:
        target = b.get("payload") or {}
        options.append([b.get("label"), target.get("payload") or target.get("url") or target.get("phone")])
    for c in (payload.get("quick_replies") or []) + (payload.get("choices") or []):
        options.append([c.get("title"), c.get("value")])
    if options:
        out["options"] = options
    cards = payload.get("items") or ([payload] if payload.get("type") == "card" else [])
    if cards:
        out["cards"] = [c.get("title") for c in cards]
    for key in ("url", "image", "file"):
        if isinstance(payload.get(key), str):
            out[key] = payload[key]
    return out


def may_mention(tree: Any, needles: tuple[str, ...]) -> bool:
    """Whether a secret may appear in the tree: one search of its JSON text instead of a walk
    of every string (a turn's trace has dozens); True when the tree is not plain JSON."""
    try:
        text = orjson.dumps(tree).decode()
    except TypeError:
        return True
    return any(needle in text for needle in needles)


def redact_tree(value: Any, secrets: tuple[str, ...]) -> Any:
    """A copy of a JSON-like tree with every secret value masked in its strings."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, secrets) for v in value]
    return value
