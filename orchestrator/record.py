"""`orchestrator record`: a stored conversation as a conversation test.

The turn traces kept with the conversation give the inputs (messages, clicks, events; timers
become `wait:`), the HTTP calls with what they answered and the actions with what they returned
(the mocks); the stored bot messages give the replies, as the channel got them. Values from
`env` are masked in traces (`***`): in mocks they become `*` globs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .shell.testfile import HttpCall, Recording, to_yaml

_SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "PASS")


class RecordError(Exception):
    """A conversation that cannot be written as a test (no traces, …)."""


def recording(
    conversation_id: str,
    traces: list[dict[str, Any]],
    bot_messages: list[dict[str, Any]],
    env: dict[str, str],
    name: str | None = None,
) -> Recording:
    """The test recording of a conversation: its traces (oldest first) and the payloads of its
    bot messages (oldest first)."""
    if not traces:
        raise RecordError(f"no turn traces for conversation {conversation_id}")
    bot_ids = {(t.get("bot") or {}).get("id") for t in traces}
    if len(bot_ids) != 1:
        raise RecordError(
            f"conversation {conversation_id} was answered by several bots: {sorted(map(str, bot_ids))}"
        )
    replies_total = sum(len(t.get("replies") or []) for t in traces)
    # the traces kept are the last turns: their replies are the last bot messages
    pending = list(bot_messages[-replies_total:]) if replies_total else []
    if len(pending) < replies_total:
        pending = [
            {"type": "text", "text": r.get("text", "")} for t in traces for r in t.get("replies") or []
        ]
    items: list[tuple[str, Any]] = []
    calls: list[HttpCall] = []
    actions: dict[str, list[dict[str, Any]]] = {}
    previous: datetime | None = None
    for trace in traces:
        at = datetime.fromisoformat(trace["at"])
        event = _event(trace.get("input") or {})
        if event is None:  # a timer: the clock moved
            if previous is not None and at > previous:
                items.append(("wait", round((at - previous).total_seconds())))
        else:
            items.append(("user", event))
        previous = at
        count = len(trace.get("replies") or [])
        replies, pending = pending[:count], pending[count:]
        if event is not None or replies:
            items.append(("bot", replies))
        for call in trace.get("calls") or []:
            if call.get("type") == "http":
                calls.append(_http(call))
            elif call.get("type") == "action":
                result = {"error": call["error"]} if call.get("error") else {"returns": call.get("result")}
                actions.setdefault(call.get("name", "?"), []).append(result)
    first = datetime.fromisoformat(traces[0]["at"])
    return Recording(
        bot_id=str(bot_ids.pop()),
        name=name or f"conversation {conversation_id} (recorded)",
        clock=first,
        items=items,
        http=calls,
        actions=actions,
        env={
            k: ("test-" + k.lower() if any(w in k.upper() for w in _SECRET_WORDS) else v)
            for k, v in env.items()
        },
    )


def record_yaml(*args: Any, **kwargs: Any) -> str:
    """The test file's text (see `recording`)."""
    return to_yaml(recording(*args, **kwargs))


def _event(inp: dict[str, Any]) -> dict[str, Any] | None:
    kind = inp.get("type")
    if kind == "text":
        return {"type": "text", "text": inp.get("text") or ""}
    if kind == "payload":
        return {"type": "postback", "payload": inp.get("payload")}
    if kind == "event":
        if inp.get("event") == "timer":
            return None
        return {"type": "event", "event": inp.get("event"), "data": inp.get("data") or {}}
    if kind == "attachment":
        return {"type": "image", "url": inp.get("url")}
    return {"type": "event", "event": str(kind), "data": inp.get("data") or {}}


def _http(call: dict[str, Any]) -> HttpCall:
    url = str(call.get("url", "")).replace("***", "*")
    query = call.get("query") or {}
    if query:
        from urllib.parse import urlencode

        url += ("&" if "?" in url else "?") + urlencode(
            sorted((k, str(v).replace("***", "*")) for k, v in query.items())
        )
    error = call.get("error") if call.get("status") is None else None
    return HttpCall(
        method=str(call.get("method", "GET")),
        url=url,
        status=call.get("status"),
        response_json=call.get("response"),
        error=error,
    )
