"""Text renderings of rich payloads, for what a channel cannot render natively.

Choices (buttons, quick replies, card and carousel actions) become a numbered list. The
number → payload map is returned with the text: the service keeps it, so that a bare "2" from
the user becomes the second option's payload. Links are listed as `Label: URL`, never dropped.
A channel's `render` returns the map it numbered in `Rendered.choices` (see `fallback`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.channels.base import Rendered, RenderError
from orchestrator.payloads import text_of

CHOICE_TYPES = frozenset({"buttons", "single-choice", "card", "carousel"})


class Numbered:
    """A payload degraded to lines of text; `options` maps each number to its payload and
    `labels` each number to its label (for platforms with reply chips)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.options: dict[str, str] = {}
        self.labels: dict[str, str] = {}

    def line(self, text: str | None) -> None:
        if text:
            self.lines.append(text)

    def option(self, label: str, value: str) -> None:
        number = str(len(self.options) + 1)
        self.options[number] = value
        self.labels[number] = label
        self.lines.append(f"{number}. {label}")

    def link(self, label: str, url: str) -> None:
        self.lines.append(f"{label}: {url}" if label and label != url else url)

    def text(self) -> str:
        return "\n".join(self.lines)


def button_value(button: Mapping[str, Any]) -> str:
    """What a postback button sends back: its payload string, else its postback text or label."""
    inner = button.get("payload") or {}
    for value in (inner.get("payload"), button.get("postback_text"), button.get("label")):
        if isinstance(value, str) and value:
            return value
    return ""


def _button(out: Numbered, button: Mapping[str, Any]) -> None:
    inner = button.get("payload") or {}
    label = button.get("label", "")
    if button.get("type") == "link" and inner.get("url"):
        out.link(label, inner["url"])
    elif button.get("type") == "phone" and inner.get("phone"):
        out.link(label, inner["phone"])
    else:
        out.option(label, button_value(button))


def _card(out: Numbered, card: Mapping[str, Any]) -> None:
    out.line(card.get("title"))
    out.line(card.get("subtitle"))
    if card.get("image"):
        out.line(card["image"])
    for action in card.get("actions") or []:
        title = action.get("title", "")
        if action.get("action") == "Open URL" and action.get("url"):
            out.link(title, action["url"])
        elif action.get("action") == "Say something":
            out.option(title, action.get("text") or title)
        else:
            out.option(title, action.get("payload") or title)


def numbered_options(payload: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The payload as text with numbered choices, and the map `{"1": payload, …}`.

    For payloads without choices the map is empty and the text is `as_text(payload)`.
    """
    out = numbered(payload)
    return out.text(), out.options


def numbered(payload: Mapping[str, Any]) -> Numbered:
    """`numbered_options` with the labels kept (see `Numbered`)."""
    kind = payload.get("type")
    out = Numbered()
    if kind == "buttons":
        out.line(payload.get("text"))
        for button in payload.get("buttons") or []:
            _button(out, button)
        for choice in payload.get("quick_replies") or []:
            out.option(choice["title"], choice["value"])
    elif kind == "single-choice":
        out.line(payload.get("text"))
        for choice in payload.get("choices") or []:
            out.option(choice["title"], choice["value"])
    elif kind == "card":
        _card(out, payload)
    elif kind == "carousel":
        for index, card in enumerate(payload.get("items") or []):
            if index:
                out.lines.append("")  # a blank line between cards
            _card(out, card)
    else:
        out.line(as_text(payload))
    return out


def map_url(latitude: float, longitude: float) -> str:
    """A map link anyone can open."""
    return f"https://maps.google.com/?q={latitude},{longitude}"


def as_text(payload: Mapping[str, Any]) -> str:
    """The best plain text for any outbound payload ("" for typing)."""
    kind = payload.get("type")
    if kind in CHOICE_TYPES:
        return numbered_options(payload)[0]
    if kind in ("image", "audio", "video", "file"):
        url = payload.get(kind, "")
        title = payload.get("title")
        return f"{title}: {url}" if title else url
    if kind == "location":
        parts = [payload.get("title"), payload.get("address")]
        parts.append(map_url(payload["latitude"], payload["longitude"]))
        return "\n".join(p for p in parts if p)
    if kind == "account_linking":
        return f"{payload.get('text', '')}\n{payload.get('url', '')}".strip()
    if kind == "typing":
        return ""
    return text_of(dict(payload))


def custom_bodies(payload: Mapping[str, Any], channel: str) -> list[dict[str, Any]] | None:
    """The raw bodies a `custom` payload carries for `channel` (one dict or a list), if any."""
    raw = (payload.get("raw") or {}).get(channel)
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(r, dict) for r in raw):
        return list(raw)
    return None


def fallback(payload: Mapping[str, Any], channel: str, body: Callable[[str], dict[str, Any]]) -> Rendered:
    """The payload as one text body `body(text)` with the choices of its numbered list, or
    RenderError when it has nothing to show on `channel`."""
    out = numbered(payload)
    text = out.text()
    if not text:
        raise RenderError(f"{payload.get('type')!r} payload has no text for {channel}")
    return Rendered([body(text)], out.options)
