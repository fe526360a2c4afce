"""Bot-message assertions: whether one message the bot sent is what a `bot:` item expects, why
not (with a text diff), and how an expectation reads in failure output."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .. import models as M
from ..compiled import BotVersion
from .models import BotMessage, ButtonExpect, CardsExpect, ImageExpect, LinkExpect
from .values import show_json


def message_text(payload: dict[str, Any]) -> str | None:
    """The text a message shows (None for cards, images…)."""
    text = payload.get("text")
    return text if isinstance(text, str) else None


def _buttons_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a buttons message or a card, as {title, payload, url}."""
    if payload.get("type") == "buttons":
        out: list[dict[str, Any]] = []
        for b in payload.get("buttons") or []:
            target = b.get("payload") or {}
            out.append({"title": b.get("label"), "payload": target.get("payload"), "url": target.get("url")})
        return out
    if payload.get("type") == "card":
        return [
            {"title": a.get("title"), "payload": a.get("payload"), "url": a.get("url")}
            for a in payload.get("actions") or []
        ]
    return []


def _quick_replies_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The quick replies (or choices) of a message, as {title, payload, url}."""
    items = payload.get("quick_replies") or payload.get("choices") or []
    return [{"title": c.get("title"), "payload": c.get("value"), "url": None} for c in items]


def _button_matches(want: str | ButtonExpect, got: dict[str, Any]) -> bool:
    if isinstance(want, str):
        return got.get("title") == want
    return all(
        getattr(want, k) is None or getattr(want, k) == got.get(k) for k in ("title", "payload", "url")
    )


def _show_button(b: str | ButtonExpect | dict[str, Any]) -> str:
    if isinstance(b, str):
        return b
    if isinstance(b, ButtonExpect):
        b = b.model_dump(exclude_none=True)
    parts = [str(b.get("title"))]
    if b.get("payload"):
        parts.append(f"→ {b['payload']}")
    if b.get("url"):
        parts.append(f"→ {b['url']}")
    return " ".join(parts)


def _text_diff(expected: str, actual: str) -> str:
    lines = difflib.ndiff(expected.splitlines() or [""], actual.splitlines() or [""])
    return "\n".join(line.rstrip() for line in lines)


def msg_patterns(bot: BotVersion, message_id: str, locale: str | None) -> list[re.Pattern[str]]:
    """Regexes of the texts of every variant of a catalogue message (templates match anything)."""
    chain = [x for x in (locale, bot.default_locale) if x]
    entry = None
    for loc in chain:
        entry = bot.messages.get(loc, {}).get(message_id)
        if entry is not None:
            break
    if entry is None:
        return []
    variants = entry.variants if isinstance(entry, M.MessageVariants) else [entry]
    patterns: list[re.Pattern[str]] = []
    for v in variants:
        text = v if isinstance(v, str) else v.text
        if text is None:
            continue
        pieces = re.split(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.DOTALL)
        patterns.append(re.compile(".*?".join(re.escape(p) for p in pieces), re.DOTALL))
    return patterns


Problem = tuple[str, str]  # what differs, and a text diff showing it ("" when there is none)


def message_problems(
    want: BotMessage, got: dict[str, Any], bot: BotVersion, locale: str | None
) -> list[Problem]:
    """(problem, diff) for each way a message differs from what is expected."""
    problems: list[Problem] = []
    kind = got.get("type")
    if want.type is not None and kind != want.type:
        problems.append((f"its type is {kind}, expected {want.type}", ""))
    problems.extend(_text_problems(want, got, bot, locale))
    problems.extend(_button_problems(want, got))
    if want.cards is not None:
        problems.extend(_card_problems(want.cards, got))
    if want.account_link is not None:
        problems.extend(_link_problems(want.account_link, got))
    if want.image is False:  # `image: false`: this message must not be an image
        if got.get("type") == "image":
            problems.append(("it is an image, expected none", ""))
    elif want.image is not None:
        problems.extend(_image_problems(want.image, got))
    return problems


def _text_problems(
    want: BotMessage, got: dict[str, Any], bot: BotVersion, locale: str | None
) -> list[Problem]:
    """The checks of the text: text, text_contains, text_matches and msg."""
    problems: list[Problem] = []
    text = message_text(got)
    if want.text is not None:
        if text is None:
            problems.append((f"a {got.get('type')} message has no text", ""))
        elif text.strip() != want.text.strip():
            problems.append(("the text differs", _text_diff(want.text.strip(), text.strip())))
    if want.text_contains is not None and (text is None or want.text_contains not in text):
        problems.append((f"the text does not contain {show_json(want.text_contains)}", ""))
    if want.text_matches is not None and (text is None or not re.search(want.text_matches, text)):
        problems.append((f"the text does not match /{want.text_matches}/", ""))
    if want.msg is not None:
        patterns = msg_patterns(bot, want.msg, locale)
        if not patterns:
            problems.append((f"the bot has no message 'msg.{want.msg}' with a text", ""))
        elif text is None or not any(p.fullmatch(text.strip()) for p in patterns):
            problems.append((f"the text is not one of msg.{want.msg}", ""))
    return problems


def _button_problems(want: BotMessage, got: dict[str, Any]) -> list[Problem]:
    """The checks of the buttons and the quick replies, in order."""
    problems: list[Problem] = []
    for key, actual in (("buttons", _buttons_of(got)), ("quick_replies", _quick_replies_of(got))):
        wanted = getattr(want, key)
        if wanted is None:
            continue
        ok = len(wanted) == len(actual) and all(
            _button_matches(w, a) for w, a in zip(wanted, actual, strict=True)
        )
        if not ok:
            exp = "[" + ", ".join(_show_button(w) for w in wanted) + "]"
            act = "[" + ", ".join(_show_button(a) for a in actual) + "]"
            problems.append((f"{key.replace('_', ' ')} are {act}, expected {exp}", ""))
    return problems


def _card_problems(want: CardsExpect, got: dict[str, Any]) -> list[Problem]:
    """The checks of a card or a carousel: the number of cards and their titles."""
    problems: list[Problem] = []
    kind = got.get("type")
    cards = got.get("items") if kind == "carousel" else [got] if kind == "card" else []
    titles = [c.get("title") for c in cards or []]
    if want.count is not None and len(titles) != want.count:
        problems.append((f"{len(titles)} card(s), expected {want.count}", ""))
    if want.titles is not None and titles != want.titles:
        problems.append((f"card titles are {show_json(titles)}, expected {show_json(want.titles)}", ""))
    return problems


def _link_problems(want: bool | LinkExpect, got: dict[str, Any]) -> list[Problem]:
    """The checks of an account-linking message: its url and its text."""
    problems: list[Problem] = []
    kind = got.get("type")
    if want is False:  # `account_link: false`: this message must not be one
        return [("it is an account link, expected none", "")] if kind == "account_linking" else []
    if kind != "account_linking":
        problems.append((f"a {kind} message is not an account link", ""))
        return problems
    if not isinstance(want, LinkExpect):
        return problems
    text = message_text(got) or ""
    url = got.get("url") or ""
    if want.url is not None and url != want.url:
        problems.append((f"the link is {url}, expected {want.url}", ""))
    if want.url_matches is not None and not re.search(want.url_matches, url):
        problems.append((f"the link {url} does not match /{want.url_matches}/", ""))
    if want.text is not None and text.strip() != want.text.strip():
        problems.append(("the link text differs", _text_diff(want.text.strip(), text.strip())))
    if want.text_contains is not None and want.text_contains not in text:
        problems.append((f"the link text does not contain {show_json(want.text_contains)}", ""))
    return problems


def _image_problems(want: bool | str | ImageExpect, got: dict[str, Any]) -> list[Problem]:
    """The checks of an image message: its url."""
    kind = got.get("type")
    if kind != "image":
        return [(f"a {kind} message is not an image", "")]
    problems: list[Problem] = []
    url = got.get("image") or ""
    if isinstance(want, str) and url != want:
        problems.append((f"the image is {url}, expected {want}", ""))
    if isinstance(want, ImageExpect):
        if want.url is not None and url != want.url:
            problems.append((f"the image is {url}, expected {want.url}", ""))
        if want.url_matches is not None and not re.search(want.url_matches, url):
            problems.append((f"the image {url} does not match /{want.url_matches}/", ""))
    return problems


def describe_expected(want: BotMessage) -> str:
    """An expected message as failure output shows it, e.g. `text "Hi", buttons [Yes, No]`."""
    parts: list[str] = []
    for key, value in want.model_dump(exclude_none=True, by_alias=True).items():
        if key == "any":
            parts.append("any message")
        elif key in ("buttons", "quick_replies"):
            parts.append(f"{key} [" + ", ".join(_show_button(b) for b in getattr(want, key)) + "]")
        else:
            parts.append(f"{key} {show_json(value)}")
    return ", ".join(parts)
