"""What a step does, in a few words, for the pictures of a flow: `say: "Hi! How can I help?"`,
`ask → conv.email`, `call faq_menu`. One describer per step kind (an explicit table); texts are
cut to `WIDTH` characters with an ellipsis."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import models as m
from .compiled import CompiledStep

WIDTH = 40


def _cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _reply(reply: Any) -> str:
    """A reply's words: its text, or what it shows (cards, an image, a login link, …)."""
    if isinstance(reply, list):
        return _reply(reply[0]) + (f" (+{len(reply) - 1})" if len(reply) > 1 else "") if reply else ""
    if isinstance(reply, str):
        return reply
    if isinstance(reply, m.ReplyObject):
        if reply.text is not None:
            return reply.text
        shown = (
            ("cards", reply.cards or reply.cards_from),
            ("image", reply.image),
            ("file", reply.file),
            ("login link", reply.account_link),
            ("typing", reply.typing),
        )
        return next((f"[{name}]" for name, value in shown if value), "[reply]")
    return ""


def _quoted(kind: str, reply: Any, catalogue: Mapping[str, Any]) -> str:
    words = _reply(reply)
    if words.startswith("msg."):  # a catalogue message: its text in the default locale
        entry = catalogue.get(words[4:])
        if isinstance(entry, m.MessageVariants):
            entry = entry.variants[0]
        if entry is None or not _reply(entry):
            return _cut(f"{kind} {words}")
        words = _reply(entry)
    return f"{kind}: " + '"' + _cut(words, WIDTH - len(kind) - 4) + '"'


def _say(s: Any, catalogue: Mapping[str, Any]) -> str:
    return _quoted("say", s.say, catalogue)


def _ask(s: Any) -> str:
    return _cut(f"ask → {s.ask.into}" + ("" if s.ask.type == "str" else f" ({s.ask.type})"))


def _choose(s: Any, catalogue: Mapping[str, Any]) -> str:
    return _quoted("choose", s.choose.prompt, catalogue)


def _wait(s: Any) -> str:
    w = s.wait
    what = w.event or (f"{w.duration:g} s" if w.duration is not None else "a message")
    return _cut(f"wait for {what}")


def _set(s: Any) -> str:
    names = [*s.set, *(f"unset {v}" for v in s.unset)]
    return _cut("set " + ", ".join(names))


def _http(s: Any) -> str:
    """The method and the URL's path (its `{{ env.BASE }}` or scheme and host left out)."""
    into = f" → {s.http.into}" if s.http.into else ""
    url = re.sub(r"^(\{\{[^}]*\}\}|[a-z]+://[^/]*)", "", s.http.url) or s.http.url
    return _cut(f"{s.http.method} {url}", WIDTH - len(into)) + into


def _handoff(s: Any) -> str:
    return _cut(f"hand off → {s.handoff.queue}")


def _end(s: Any) -> str:
    return f"end: {s.end}" if s.end else "end"


QUOTING: dict[type, Callable[[Any, Mapping[str, Any]], str]] = {m.SayStep: _say, m.ChooseStep: _choose}
DESCRIBE: dict[type, Callable[[Any], str]] = {
    m.AskStep: _ask,
    m.WaitStep: _wait,
    m.SetStep: _set,
    m.IfStep: lambda s: _cut(f"if {s.if_}"),
    m.SwitchStep: lambda s: f"switch ({len(s.switch)} cases)",
    m.GotoStep: lambda s: _cut(f"goto {s.goto}"),
    m.CallStep: lambda s: _cut(f"call {s.call}"),
    m.ReturnStep: lambda s: "return",
    m.StartStep: lambda s: _cut(f"start {s.start}"),
    m.HttpStep: _http,
    m.DoStep: lambda s: _cut(f"do {s.do}" + (f" → {s.into}" if s.into else "")),
    m.HandoffStep: _handoff,
    m.EndStep: _end,
}


def describe(step: CompiledStep, catalogue: Mapping[str, Any] | None = None) -> str:
    """A short label saying what `step` does (its kind and id when its model is not known here);
    `catalogue` (message id -> entry) turns `say msg.welcome` into the message's words."""
    quoting = QUOTING.get(type(step.model))
    if quoting is not None:
        return quoting(step.model, catalogue or {})
    describer = DESCRIBE.get(type(step.model))
    if describer is None:
        return f"{step.kind} · {step.id}" if step.explicit_id else step.kind
    return describer(step.model)
