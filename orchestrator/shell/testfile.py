"""A recorded conversation as a conversation test (`*.test.yaml`): the user's inputs, the bot's
replies as expectations, clock moves as `wait:`, and mocks filled from what the HTTP steps and
actions answered. Shared by `orchestrator shell` (`/save`) and `orchestrator record`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml


@dataclass
class HttpCall:
    """One HTTP exchange to mock: method, URL (with its query), JSON body, and the answer."""

    method: str
    url: str
    json: Any = None
    status: int | None = None
    response_json: Any = None
    response_text: str = ""
    error: str | None = None


@dataclass
class Recording:
    """What a test is written from."""

    bot_id: str
    name: str
    clock: datetime | None
    items: list[tuple[str, Any]]  # ("user", event) | ("bot", replies) | ("wait", seconds)
    http: list[HttpCall] = field(default_factory=list)
    actions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    channel: str | None = None
    locale: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def user_item(event: dict[str, Any]) -> Any:
    """A test's user turn for an inbound event."""
    kind = event.get("type")
    if kind == "text":
        return event.get("text", "")
    if kind in ("postback", "quick_reply"):
        item: dict[str, Any] = {"payload": event.get("payload")}
        if kind == "quick_reply":
            item["quick_reply"] = True
        return item
    if kind == "event":
        return {"event": event.get("event"), "data": event.get("data") or {}}
    if kind in ("image", "audio", "video", "file"):
        return {"attachment": {"type": kind, "url": event.get(kind) or event.get("url")}}
    return {"event": kind or "unknown", "data": event}


def bot_item(reply: dict[str, Any]) -> Any:
    """A test's expectation for one bot message (texts whole, options by title)."""
    kind = reply.get("type")
    if kind == "text":
        return reply.get("text", "")
    if kind in ("buttons", "single-choice"):
        item: dict[str, Any] = {"text": reply.get("text", "")}
        buttons = [b.get("label") for b in reply.get("buttons") or []]
        chips = [c["title"] for c in (reply.get("quick_replies") or []) + (reply.get("choices") or [])]
        if buttons:
            item["buttons"] = buttons
        if chips:
            item["quick_replies"] = chips
        return item
    if kind in ("card", "carousel"):
        cards = reply.get("items") if kind == "carousel" else [reply]
        return {"cards": {"count": len(cards or []), "titles": [c.get("title") for c in cards or []]}}
    if kind == "account_linking":
        return {"account_link": {"text": reply.get("text", "")}}
    if kind == "image":
        return {"image": reply.get("image")}
    return {"type": kind}


def to_yaml(rec: Recording) -> str:
    """The test file's text."""
    conversation: list[dict[str, Any]] = []
    for kind, value in rec.items:
        if kind == "user":
            conversation.append({"user": user_item(value)})
        elif kind == "wait":
            conversation.append({"wait": _duration(value)})
        elif value:
            messages = [bot_item(r) for r in value]
            conversation.append({"bot": messages[0] if len(messages) == 1 else messages})
        elif conversation and "user" in conversation[-1]:
            conversation.append({"bot": {"none": True}})
    mocks: dict[str, Any] = {}
    if rec.http:
        mocks["http"] = [_http_mock(call) for call in rec.http]
    if rec.actions:
        mocks["actions"] = {
            name: (calls[0] if len(calls) == 1 else calls) for name, calls in sorted(rec.actions.items())
        }
    test: dict[str, Any] = {"name": rec.name}
    if mocks:
        test["mocks"] = mocks
    test["conversation"] = conversation or [{"user": "hello"}]
    defaults: dict[str, Any] = {}
    if rec.clock is not None:
        defaults["clock"] = rec.clock.isoformat(timespec="seconds")
    if rec.channel:
        defaults["channel"] = rec.channel
    if rec.locale:
        defaults["locale"] = rec.locale
    if rec.env:
        defaults["env"] = dict(rec.env)
    document: dict[str, Any] = {"version": 1, "bot": rec.bot_id}
    if defaults:
        document["defaults"] = defaults
    document["tests"] = [test]
    header = "# yaml-language-server: $schema=../../schema/test.schema.json\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _http_mock(call: HttpCall) -> dict[str, Any]:
    request: dict[str, Any] = {"method": call.method, "url": call.url}
    if isinstance(call.json, dict) and call.json:
        request["json"] = call.json
    mock: dict[str, Any] = {"request": request, "times": 1}
    if call.error is not None:
        mock["error"] = call.error
    else:
        response: dict[str, Any] = {"status": call.status or 200}
        if call.response_json is not None:
            response["json"] = call.response_json
        elif call.response_text:
            response["text"] = call.response_text
        mock["response"] = response
    return mock


def _duration(seconds: float) -> str:
    """`1h30m`, `11m`, `45s`: a duration the test language parses."""
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"
