"""Replies: resolve catalogue messages (locales, variants) and compile reply objects to the
canonical outbound payloads of `orchestrator.payloads`.

- text → `text`; text + buttons (+ quick replies) → `buttons`; text + quick replies →
  `single-choice`; one card → `card`, several → `carousel`; account_link → `account_linking`;
  image/file → `image`/`file`; typing → `typing`; channel → `custom` (text is the fallback).
- A `choose` step's options are attached to the last text of its prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any

from orchestrator import payloads as P

from . import models as M
from .compiled import BotVersion
from .templating import Templates

MAX_REF_DEPTH = 8
Ctx = Mapping[str, Any]


class ReplyError(Exception):
    """A reply cannot be built (unknown message at run time, bad card data…)."""


class ReplyBuilder:
    """Builds canonical payload dicts for one turn (one locale, one rotation state)."""

    def __init__(
        self,
        bot: BotVersion,
        templates: Templates,
        locale: str | None,
        rotation: MutableMapping[str, int],
    ):
        self.bot = bot
        self.templates = templates
        self.rotation = rotation
        self.locales = _locale_chain(locale, bot)

    # ------------------------------------------------------------ resolving
    def entry(self, message_id: str) -> Any:
        """A catalogue entry in the first locale that has it."""
        for locale in self.locales:
            entry = self.bot.messages.get(locale, {}).get(message_id)
            if entry is not None:
                return entry
        raise ReplyError(f"unknown message 'msg.{message_id}'")

    def resolve(self, reply: Any, ctx: Ctx, depth: int = 0) -> M.ReplyObject | None:
        """A reply object for `reply` (a msg ref, a text, or an object); None when its
        `when` is false or no variant applies."""
        if depth > MAX_REF_DEPTH:
            raise ReplyError("message references nest too deeply (a cycle?)")
        ref = M.message_ref(reply)
        if ref is not None:
            return self._from_entry(ref, self.entry(ref), ctx, depth)
        if isinstance(reply, str):
            return _text_object(reply)
        if reply.when is not None and not self.templates.truthy(reply.when, ctx):
            return None
        return reply

    def _from_entry(self, mid: str, entry: Any, ctx: Ctx, depth: int) -> M.ReplyObject | None:
        if isinstance(entry, str):
            return _text_object(entry)
        if isinstance(entry, M.MessageVariants):
            eligible = [
                v
                for v in entry.variants
                if isinstance(v, str) or v.when is None or self.templates.truthy(v.when, ctx)
            ]
            if not eligible:
                return None
            turn = self.rotation.get(mid, 0)
            self.rotation[mid] = turn + 1
            return self.resolve(eligible[turn % len(eligible)], ctx, depth + 1)
        return self.resolve(entry, ctx, depth + 1)

    def text(self, value: str | None, ctx: Ctx) -> str:
        """Render a text field; a `msg.<id>` text is replaced by that message's text."""
        if value is None:
            return ""
        ref = M.message_ref(value)
        if ref is not None:
            obj = self.resolve(value, ctx)
            if obj is None or obj.text is None:
                raise ReplyError(f"message 'msg.{ref}' has no text to use here")
            value = obj.text
        return self.templates.render_str(value, ctx)

    # ------------------------------------------------------------ compiling
    def build(self, reply: Any, ctx: Ctx) -> list[dict[str, Any]]:
        """Payload dicts for a reply, or for a list of replies."""
        if isinstance(reply, list):
            return [p for r in reply for p in self.build(r, ctx)]
        obj = self.resolve(reply, ctx)
        return self.compile(obj, ctx) if obj is not None else []

    def compile(self, obj: M.ReplyObject, ctx: Ctx) -> list[dict[str, Any]]:
        """Canonical payload dicts of one reply object. Text, quick replies and typing, the
        commonest, are built as dicts directly: their fields are already of the model's types
        (a rendered text is a str, `markdown` a validated bool), so pydantic would only copy them."""
        out: list[Any] = []
        render = self.templates.render_str
        if obj.typing:
            delay = None if obj.typing is True else int(float(obj.typing) * 1000)
            out.append({"type": "typing", "value": True} if delay is None else _typing(delay))
        if obj.channel is not None:
            raw = self.templates.render(obj.channel, ctx)
            text = self.text(obj.text, ctx) if obj.text is not None else None
            out.append(P.Custom(raw=raw, text=text))
        elif obj.text is not None:
            text = self.text(obj.text, ctx)
            buttons = [self.button(b, ctx) for b in obj.buttons]
            # P.Choice dicts: a rendered title and payload are already str
            choices = [
                {"title": render(q.title, ctx), "value": render(q.payload, ctx)} for q in obj.quick_replies
            ]
            if buttons:
                out.append(P.Buttons(text=text, buttons=buttons, quick_replies=choices or None))
            elif choices:
                out.append({"type": "single-choice", "text": text, "choices": choices})
            else:
                out.append(_text(text, obj.markdown))
        if obj.image is not None:
            url, alt = _url_and(obj.image, "alt")
            out.append(P.Image(image=render(url, ctx), title=_opt(render, alt, ctx)))
        if obj.file is not None:
            url, name = _url_and(obj.file, "name")
            out.append(P.File(file=render(url, ctx), title=_opt(render, name, ctx)))
        cards = [self.card(c, ctx) for c in obj.cards]
        if obj.cards_from is not None:
            cards.extend(self.cards_from(obj.cards_from, ctx))
        if len(cards) == 1:
            out.append(cards[0])
        elif cards:
            out.append(P.Carousel(items=cards))
        if obj.account_link is not None:
            link = obj.account_link
            out.append(
                P.AccountLinking(
                    text=self.text(link.text, ctx),
                    url=render(link.url, ctx),
                    params=P.AccountLinkingParams(
                        button_text=_opt(render, link.button_text, ctx),
                        success_message=_opt(self.text, link.success_message, ctx),
                        view_title=_opt(render, link.view_title, ctx),
                    ),
                )
            )
        return [p if type(p) is dict else p.to_dict() for p in out]

    def button(self, b: M.ButtonSpec, ctx: Ctx) -> P.Button:
        """A canonical button (postback, link or phone)."""
        render = self.templates.render_str
        title = render(b.title, ctx)
        if b.payload is not None:
            payload = render(b.payload, ctx)
            return P.Button(
                label=title, type="postback", postback_text=title, payload=P.ButtonPayload(payload=payload)
            )
        if b.url is not None:
            return P.Button(label=title, type="link", payload=P.ButtonPayload(url=render(b.url, ctx)))
        return P.Button(label=title, type="phone", payload=P.ButtonPayload(phone=render(b.phone, ctx)))

    def card(self, c: M.CardSpec, ctx: Ctx) -> P.Card:
        """A canonical card; buttons become card actions."""
        render = self.templates.render_str
        actions = []
        for b in c.buttons:
            title = render(b.title, ctx)
            if b.payload is not None:
                actions.append(P.CardAction(action="Postback", title=title, payload=render(b.payload, ctx)))
            elif b.url is not None:
                actions.append(P.CardAction(action="Open URL", title=title, url=render(b.url, ctx)))
            else:
                actions.append(
                    P.CardAction(action="Open URL", title=title, url="tel:" + render(b.phone, ctx))
                )
        image = None
        if c.image is not None:
            image = render(_url_and(c.image, "alt")[0], ctx)
        return P.Card(
            title=render(c.title, ctx), subtitle=_opt(render, c.subtitle, ctx), image=image, actions=actions
        )

    def cards_from(self, spec: M.CardsFrom, ctx: Ctx) -> list[P.Card]:
        """One card per item of a data-driven carousel."""
        items = self.templates.evaluate(spec.items, ctx)
        if not isinstance(items, list):
            raise ReplyError(f"cards_from: '{spec.items}' is not a list")
        return [self.card(spec.card, {**ctx, spec.as_: item}) for item in items[: spec.limit]]


def attach_options(
    payloads: list[dict[str, Any]], options: list[tuple[str, str]], style: str
) -> list[dict[str, Any]]:
    """Attach a choose step's (title, payload) options to the last text-like payload."""
    index = next(
        (
            i
            for i in range(len(payloads) - 1, -1, -1)
            if payloads[i]["type"] in ("text", "buttons", "single-choice")
        ),
        None,
    )
    if index is None:
        payloads.append({"type": "text", "text": ""})
        index = len(payloads) - 1
    msg = payloads[index]
    text = msg["text"]
    buttons = [
        P.Button(label=t, type="postback", postback_text=t, payload=P.ButtonPayload(payload=p)).to_dict()
        for t, p in options
    ]
    choices = [{"title": t, "value": p} for t, p in options]
    if style == "list":
        lines = "\n".join(f"{i}. {t}" for i, (t, _) in enumerate(options, 1))
        msg = {**msg, "text": f"{text}\n{lines}" if text else lines}
    elif style == "quick_replies":
        if msg["type"] == "buttons":
            msg = {**msg, "quick_replies": (msg.get("quick_replies") or []) + choices}
        else:
            msg = {"type": "single-choice", "text": text, "choices": (msg.get("choices") or []) + choices}
    else:
        new = {"type": "buttons", "text": text, "buttons": buttons + msg.get("buttons", [])}
        quick = msg.get("quick_replies") or msg.get("choices")
        if quick:
            new["quick_replies"] = quick
        msg = new
    payloads[index] = P.outbound_adapter.validate_python(msg).to_dict()
    return payloads


@lru_cache(maxsize=1024)
def _text_object(text: str) -> M.ReplyObject:
    """The reply object of a plain text reply (reply objects are immutable, so shared)."""
    return M.ReplyObject(text=text)


def _text(text: str, markdown: bool | None) -> dict[str, Any]:
    """`P.Text(text=text, markdown=markdown).to_dict()` without a validation round trip."""
    return (
        {"type": "text", "text": text}
        if markdown is None
        else {"type": "text", "text": text, "markdown": markdown}
    )


def _typing(delay: int) -> dict[str, Any]:
    """`P.Typing(value=True, delay=delay).to_dict()` without a validation round trip."""
    return {"type": "typing", "value": True, "delay": delay}


def _locale_chain(locale: str | None, bot: BotVersion) -> list[str]:
    chain: list[str] = []
    if locale:
        chain.append(locale)
        base = locale.replace("_", "-").split("-")[0]
        if base != locale:
            chain.append(base)
    chain.append(bot.default_locale)
    return chain


def _url_and(value: Any, attr: str) -> tuple[str, str | None]:
    if isinstance(value, str):
        return value, None
    return value.url, getattr(value, attr)


def _opt(render: Callable[[Any, Ctx], str], value: str | None, ctx: Ctx) -> str | None:
    return None if value is None else render(value, ctx)
