"""Bot replies as terminal text, with every clickable option numbered.

Buttons show `[1] FAQ`, quick replies `(2) Talk to a person`, card actions `[3] Choose Pro`;
the numbers run across all the replies of a turn, so typing `2` (or the title) clicks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Option:
    """Something the user can click: its number, title, payload and whether it is a chip."""

    number: int
    title: str
    payload: str
    quick_reply: bool


def render(replies: list[dict[str, Any]]) -> tuple[list[str], list[Option]]:
    """The lines to print for a turn's replies, and the options they offer."""
    lines: list[str] = []
    options: list[Option] = []

    def add(title: str, payload: str | None, quick: bool) -> str:
        if payload is None:
            return title
        options.append(Option(len(options) + 1, title, payload, quick))
        n = len(options)
        return f"({n}) {title}" if quick else f"[{n}] {title}"

    for reply in replies:
        kind = reply.get("type")
        if kind == "typing":
            continue
        if kind == "card":
            lines.extend(_card(reply, add))
            continue
        if kind == "carousel":
            for i, card in enumerate(reply.get("items") or [], 1):
                lines.extend(_card(card, add, f"{i}/{len(reply['items'])} "))
            continue
        if kind in ("image", "audio", "video", "file"):
            url = reply.get(kind) or reply.get("url") or ""
            title = reply.get("title")
            lines.append(f"[{kind}: {url}{' ' + title if title else ''}]")
            continue
        if kind == "account_linking":
            lines.append(reply.get("text") or "")
            button = (reply.get("params") or {}).get("button_text") or "Log in"
            lines.append(f"  [{button}: {reply.get('url')}]")
            continue
        if kind == "location":
            lines.append(f"[location: {reply.get('latitude')}, {reply.get('longitude')}]")
            continue
        text = reply.get("text")
        if text:
            lines.append(text)
        elif kind == "custom":
            lines.append("[a custom payload for another channel]")
        row = []
        for b in reply.get("buttons") or []:
            if b.get("type") == "postback":
                row.append(add(b.get("label", ""), (b.get("payload") or {}).get("payload"), False))
            elif b.get("type") == "link":
                row.append(f"[{b.get('label')}: {(b.get('payload') or {}).get('url')}]")
            else:
                row.append(f"[{b.get('label')}: {(b.get('payload') or {}).get('phone')}]")
        chips = [add(c["title"], c["value"], True) for c in reply.get("quick_replies") or []]
        chips += [add(c["title"], c["value"], True) for c in reply.get("choices") or []]
        if row:
            lines.append("  " + "  ".join(row))
        if chips:
            lines.append("  " + "  ".join(chips))
    return lines, options


def _card(card: dict[str, Any], add: Any, prefix: str = "") -> list[str]:
    lines = [f"┌ {prefix}{card.get('title', '')}"]
    if card.get("subtitle"):
        lines.append(f"│ {card['subtitle']}")
    if card.get("image"):
        lines.append(f"│ [image: {card['image']}]")
    for action in card.get("actions") or []:
        if action.get("action") == "Postback":
            lines.append("│ " + add(action.get("title", ""), action.get("payload"), False))
        elif action.get("action") == "Open URL":
            lines.append(f"│ [{action.get('title')}: {action.get('url')}]")
        else:
            lines.append(f"│ [{action.get('title')}]")
    lines.append("└")
    return lines


def pick(text: str, options: list[Option]) -> Option | None:
    """The option a typed line clicks: its number, or its title (any case)."""
    wanted = text.strip()
    if wanted.isdigit():
        n = int(wanted)
        return next((o for o in options if o.number == n), None)
    folded = wanted.casefold()
    return next((o for o in options if o.title.casefold() == folded), None)
