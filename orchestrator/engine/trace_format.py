"""Turn traces as people read them: `orchestrator explain` and failing conversation tests.

A trace (`TurnResult.trace`, stored per turn by the bot runner) holds the normalised input,
the trigger candidates and the winner, every step run with its conditions' values and the
branch it took, variable changes, HTTP and action calls with timings (secrets already masked
by the engine), and the replies. `format_trace` lays it out one fact per line.
"""

from __future__ import annotations

import json
from typing import Any

WIDTH = 100


def _value(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _position(pos: dict[str, Any] | None) -> str:
    if not pos or not pos.get("flow"):
        return "(no flow running)"
    where = f"{pos['flow']}.{pos.get('step')}"
    if pos.get("handoff") not in (None, "bot"):
        where += f" [handoff: {pos['handoff']}]"
    return where


def describe_input(inp: dict[str, Any] | None) -> str:
    """`text "hello"`, `payload MENU_FAQ`, `event account_linked {...}`…"""
    if not inp:
        return "(none)"
    kind = inp.get("type")
    if kind == "text":
        return f"text {_value(inp.get('text'))}"
    if kind == "payload":
        shown = f" ({_value(inp.get('text'))})" if inp.get("text") else ""
        return f"payload {inp.get('payload')}{shown}"
    if kind == "event":
        data = inp.get("data") or {}
        return f"event {inp.get('event')}" + (f" {_value(data)}" if data else "")
    if kind == "attachment":
        return f"attachment {inp.get('url')}"
    return f"{kind} {_value(inp.get('data'))}"


def describe_reply(reply: dict[str, Any]) -> str:
    """One reply (a trace summary or a full payload) on one line."""
    kind = reply.get("type", "?")
    parts = [kind]
    if reply.get("text") is not None:
        parts.append(_value(reply["text"], 120))
    options = reply.get("options")
    if options is None:  # a full payload rather than a trace summary
        options = [
            [b.get("label"), (b.get("payload") or {}).get("payload") or (b.get("payload") or {}).get("url")]
            for b in reply.get("buttons") or []
        ]
        options += [[c.get("title"), c.get("value")] for c in (reply.get("quick_replies") or [])]
        options += [[c.get("title"), c.get("value")] for c in (reply.get("choices") or [])]
    if options:
        parts.append("[" + ", ".join(f"{t} → {p}" for t, p in options) + "]")
    cards = reply.get("cards")
    if cards is None and (reply.get("items") or kind == "card"):
        cards = [c.get("title") for c in (reply.get("items") or [reply])]
    if cards:
        parts.append("cards: " + ", ".join(str(c) for c in cards))
    for key in ("url", "image", "file"):
        if isinstance(reply.get(key), str):
            parts.append(f"{key}: {reply[key]}")
    return " ".join(parts)


def _step_line(entry: dict[str, Any]) -> list[str]:
    if "enter" in entry:
        return [f"→ enter {entry['enter']} ({entry.get('as')})"]
    if "exit" in entry:
        return [f"← exit {entry['exit']}"]
    if "resume" in entry:
        return [f"↺ resume {entry.get('flow')}.{entry['resume']} (asked again)"]
    if "interrupted" in entry:
        then = {"drop": "dropped", "resume": "asked again", "ask": "asking whether to go back"}
        key = entry.get("then")
        what = then.get(key, key) if isinstance(key, str) else key
        return [f"⤳ {entry.get('flow')}.{entry['interrupted']} was interrupted by a new topic: {what}"]
    if "end" in entry:
        return [f"■ end: {entry['end']}"]
    if "condition" in entry:
        c = entry["condition"]
        return [f"  when {c.get('expr')} → {str(c.get('value')).lower()}"]
    name = f"{entry.get('flow')}.{entry.get('step')}"
    if "kind" in entry:
        line = f"{name}  {entry['kind']}"
        if entry.get("at"):
            line += f"  {entry['at']}"
        lines = [line]
        for c in entry.get("conditions", []):
            lines.append(f"    {c.get('expr')} → {str(c.get('value')).lower()}")
        if entry.get("skipped"):
            lines.append("    skipped (its when is false)")
        if entry.get("handoff"):
            lines.append(f"    handoff: {entry['handoff']}")
        if entry.get("branch"):
            lines.append(f"    → {entry['branch']}")
        return lines
    if "answer" in entry:
        verdict = "valid" if entry.get("valid") else "invalid"
        return [f"{name}  answer {_value(entry['answer'])} ({verdict})"]
    if "corrected" in entry:
        old, new = _value(entry.get("old")), _value(entry["corrected"])
        return [f"{name}  corrected {old} → {new} (at {entry.get('at')})"]
    if "kept" in entry:
        return [f"{name}  kept {_value(entry['kept'])} (replaying after a correction)"]
    if "prefilled" in entry:
        return [f"{name}  prefilled {_value(entry['prefilled'])} from the message"]
    if "option" in entry:
        picked = entry["option"]
        text = f"option {picked}" if picked is not None else "no option matched"
        return [f"{name}  {text}" + (f" → {entry['branch']}" if entry.get("branch") else "")]
    if "received" in entry:
        return [f"{name}  received {entry['received']}"]
    if entry.get("failed"):
        return [f"{name}  too many attempts → {entry.get('branch', 'next step')}"]
    if entry.get("branch"):
        return [f"{name}  → {entry['branch']}"]
    return [f"{name}  {_value(entry)}"]


def _call_line(call: dict[str, Any]) -> str:
    ms = call.get("ms")
    took = f" in {ms} ms" if ms is not None else ""
    step = f" (step {call['step']})" if call.get("step") else ""
    if call.get("type") == "http":
        outcome = f"error: {call['error']}" if call.get("error") else str(call.get("status"))
        query = f" {_value(call['query'])}" if call.get("query") else ""
        return f"http {call.get('method')} {call.get('url')}{query} → {outcome}{took}{step}"
    args = f" {_value(call['with'])}" if call.get("with") else ""
    outcome = f"error: {call['error']}" if call.get("error") else "ok"
    return f"action {call.get('name')}{args} → {outcome}{took}{step}"


def format_trace(trace: dict[str, Any], *, indent: str = "") -> str:
    """A stored or fresh turn trace, readable."""
    lines: list[str] = []
    head = f"turn {trace['turn']}" if "turn" in trace else "turn"
    if trace.get("at"):
        head += f" at {trace['at']}"
    bot = trace.get("bot") or {}
    extra = []
    if bot:
        extra.append(f"bot {bot.get('id')} {bot.get('version')}")
    if trace.get("ms") is not None:
        extra.append(f"{trace['ms']} ms")
    if extra:
        head += f" ({', '.join(extra)})"
    lines.append(head)
    lines.append(f"  input:      {describe_input(trace.get('input'))}")
    lines.append(f"  state:      {_position(trace.get('state_in'))} → {_position(trace.get('state_out'))}")
    if trace.get("state_error"):
        lines.append(f"  state:      {trace['state_error']}")
    lines.append(f"  route:      {trace.get('route') or '(none)'}")
    candidates = trace.get("candidates") or []
    if candidates:
        winner = trace.get("winner") or {}
        lines.append("  candidates:")
        for i, c in enumerate(candidates):
            mark = "→" if i == 0 and winner else " "
            owner = f"handler {c['target']}" if c.get("handler") else c.get("target")
            lines.append(
                f"    {mark} {owner}: {c.get('trigger')} (matched {_value(c.get('matched'))}, "
                f"score {c.get('score')}, priority {c.get('priority')})  {c.get('where', '')}".rstrip()
            )
        if winner.get("reason"):
            lines.append(f"      winner: {winner.get('target')} ({winner['reason']})")
    steps = trace.get("steps") or []
    if steps:
        lines.append("  steps:")
        for entry in steps:
            lines.extend(f"    {line}" for line in _step_line(entry))
    variables = trace.get("vars") or []
    if variables:
        lines.append("  variables:")
        for v in variables:
            lines.append(f"    {v.get('var')}: {_value(v.get('old'))} → {_value(v.get('new'))}")
    calls = trace.get("calls") or []
    if calls:
        lines.append("  calls:")
        lines.extend(f"    {_call_line(c)}" for c in calls)
    replies = trace.get("replies") or []
    lines.append("  replies:" if replies else "  replies:    (none)")
    for r in replies:
        lines.append(f"    {describe_reply(r) if isinstance(r, dict) else r}")
    if trace.get("error"):
        lines.append(f"  error:      {trace['error']}")
    if trace.get("error_handler_error"):
        lines.append(f"  error handler failed too: {trace['error_handler_error']}")
    return "\n".join(indent + line for line in lines)


def trace_sections(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace as labelled lists of readable lines (the studio shows them side by side with
    the transcript): the triggers that matched, the steps walked, the variables set, the calls."""
    winner = trace.get("winner") or {}
    triggers = []
    for i, c in enumerate(trace.get("candidates") or []):
        owner = f"handler {c['target']}" if c.get("handler") else c.get("target")
        mark = "→ " if i == 0 and winner else ""
        triggers.append(f"{mark}{owner}: {c.get('trigger')} (matched {_value(c.get('matched'))})")
    return {
        "turn": trace.get("turn"),
        "at": trace.get("at"),
        "ms": trace.get("ms"),
        "input": describe_input(trace.get("input")),
        "route": trace.get("route") or "",
        "triggers": triggers,
        "steps": [line for entry in trace.get("steps") or [] for line in _step_line(entry)],
        "vars": [
            f"{v.get('var')}: {_value(v.get('old'))} → {_value(v.get('new'))}"
            for v in trace.get("vars") or []
        ],
        "calls": [_call_line(c) for c in trace.get("calls") or []],
        "replies": [describe_reply(r) if isinstance(r, dict) else str(r) for r in trace.get("replies") or []],
        "error": trace.get("error"),
    }
