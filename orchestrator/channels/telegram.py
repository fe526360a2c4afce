"""Telegram (Bot API), with Botpress Messaging's config keys and webhook route.

Verification: the webhook URL is `…/webhooks/v1/<scope>/telegram/<botToken>` as in Botpress:
a missing token is 401, another one 403. When `webhookSecret` is set it is registered with
`setWebhook` (`secret_token`) and every update must carry it in
`X-Telegram-Bot-Api-Secret-Token` (missing 401, wrong 403).

Inbound: `message` (text, a photo or a document with its caption) and `callback_query` (an
inline button: its `callback_data` comes back as a postback, `say::<text>` as text). Updates of
other kinds are answered 200 and ignored. Mapping as in Botpress: identity `*`, sender
`from.id`, thread `chat.id`, so in a group every member has a conversation and the bot answers
in the group (in the forum topic it was addressed in). Message id: `update_id`. Acks: every user
message shows typing (`sendChatAction`), sent again every 4.5 s while the turn runs (Telegram
shows it for 5 s; `keepalive.py`); a callback query is answered
(`answerCallbackQuery`) so the client stops its spinner.

Outbound (`POST <apiUrl>/bot<token>/<method>`): text as `sendMessage` without `parse_mode`
(Telegram shows it verbatim, nothing to escape), Markdown texts (`markdown: true`) converted to
Telegram HTML with everything else escaped; buttons as an inline keyboard (`callback_data` =
the payload, links as URL buttons, phone numbers as text lines); quick replies
(`single-choice`) as a one-time reply keyboard, its labels mapped back to their payloads; every
message without its own keyboard removes the reply keyboard (so it is gone after use); a card
is `sendPhoto` with an HTML caption and its buttons (`sendMessage` without image); a carousel
is a series of cards; account linking is a `login_url` button for the domains in
`loginUrlDomains` (linked to the bot with BotFather's /setdomain) and a URL button otherwise;
image (`.gif` as an animation), audio, video, file and location natively; typing as
`sendChatAction`. Throttling: 429 with `parameters.retry_after` is waited out.

At sync: `getMe` tests the token, then `setWebhook` registers `<external_url>/webhooks/v1/
<scope>/telegram/<botToken>` (and the secret).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr, field_validator
from yarl import URL

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    ChannelTestError,
    Endpoint,
    InboundMessage,
    InboundRequest,
    ParsedInbound,
    Rendered,
    SendError,
    Target,
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    secrets_equal,
    validate_outbound,
)
from orchestrator.channels.sender import Throttled, call, probe
from orchestrator.channels.split import split_text, utf16_length
from orchestrator.payloads import Button, Card, Choice

TELEGRAM_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SAY_PREFIX = "say::"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MEDIA = {
    "audio": ("sendAudio", "audio"),
    "video": ("sendVideo", "video"),
    "file": ("sendDocument", "document"),
}
REMOVE_KEYBOARD = {"remove_keyboard": True}
TEXT_LIMIT = 4096  # a message's text, after entities parsing
CAPTION_LIMIT = 1024


class TelegramConfig(ChannelConfig):
    """Telegram settings: Botpress's `botToken`, plus an optional webhook secret and the domains
    allowed for `login_url` buttons."""

    botToken: SecretStr
    webhookSecret: SecretStr | None = None
    loginUrlDomains: list[str] = []

    @field_validator("botToken")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if not raw or "/" in raw or any(c.isspace() for c in raw):
            raise ValueError("must be a bot token (as BotFather gives it)")
        return value

    @field_validator("webhookSecret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters A-Z, a-z, 0-9, _ and -")
        return value


class TelegramChannel(Channel[TelegramConfig]):
    """Telegram (see the module docstring)."""

    name = "telegram"
    Config = TelegramConfig
    capabilities = frozenset(
        {
            "text",
            "image",
            "audio",
            "video",
            "file",
            "location",
            "buttons",
            "single-choice",
            "card",
            "carousel",
            "account_linking",
            "typing",
            "custom",
        }
    )
    default_api_url = TELEGRAM_URL
    keepalive_every = 4.5  # Telegram shows typing for 5 s: sent again while the turn runs

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: TelegramConfig) -> None:
        """The bot token in the URL, and the secret header when a secret is configured."""
        presented = req.path.strip("/")
        if not presented:
            raise VerificationError(401, "missing bot token in the webhook URL")
        if not secrets_equal(presented, config.botToken):
            raise VerificationError(403, "wrong bot token in the webhook URL")
        if config.webhookSecret is not None:
            header = req.headers.get(SECRET_HEADER)
            if not header:
                raise VerificationError(401, f"missing {SECRET_HEADER}")
            if not secrets_equal(header, config.webhookSecret):
                raise VerificationError(403, f"wrong {SECRET_HEADER}")

    def parse(self, req: InboundRequest, config: TelegramConfig) -> ParsedInbound:
        """One update: a message or a callback query (others are ignored)."""
        update = req.json
        if not isinstance(update, dict):
            return bad_request("body must be a JSON update")
        update_id = first_str(update.get("update_id"))
        if isinstance(update.get("message"), dict):
            found = _from_message(update["message"], update_id)
        elif isinstance(update.get("callback_query"), dict):
            found = _from_callback(update["callback_query"], update_id)
        else:
            found = None
        return ParsedInbound([found] if found is not None else [])

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Bot API calls as `{"method": …, **params}` without `chat_id` (added by `send`);
        texts and captions over Telegram's limits become several messages."""
        rendered = self._render(payload)
        return Rendered(_fit(rendered.bodies), rendered.choices)

    def _render(self, payload: dict[str, Any]) -> Rendered:
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                if typed.markdown:  # split before converting: no piece ends inside a tag
                    pieces = split_text(typed.text, TEXT_LIMIT, utf16_length)
                    return Rendered([_message(markdown_to_html(p), parse_mode="HTML") for p in pieces])
                return Rendered([_message(typed.text)])
            case "image":
                gif = _is_gif(typed.image)
                method, key = ("sendAnimation", "animation") if gif else ("sendPhoto", "photo")
                return Rendered([_media(method, key, typed.image, typed.title)])
            case "audio" | "video" | "file":
                method, key = _MEDIA[typed.type]
                return Rendered([_media(method, key, data[typed.type], typed.title)])
            case "location":
                point = {"latitude": typed.latitude, "longitude": typed.longitude}
                if typed.title and typed.address:
                    return Rendered(
                        [{"method": "sendVenue", **point, "title": typed.title, "address": typed.address}]
                    )
                return Rendered([{"method": "sendLocation", **point}])
            case "buttons":
                rows, lines = _button_rows(typed.buttons, typed.quick_replies or [])
                text = "\n".join([typed.text, *lines])
                return Rendered([_message(text, reply_markup={"inline_keyboard": rows} if rows else None)])
            case "single-choice":
                # A tapped key comes back as its label's text: the labels map to the payloads.
                keys = {c.title: c.value for c in typed.choices}
                return Rendered([_message(typed.text, reply_markup=_reply_keyboard(typed.choices))], keys)
            case "card":
                return Rendered(_card(typed))
            case "carousel":
                return Rendered([body for card in typed.items for body in _card(card)])
            case "account_linking":
                label = typed.params.button_text or "Log in"
                link = {"text": label, "url": typed.url}
                return Rendered([{"method": "sendMessage", "text": typed.text, "link": link}])
            case "typing":
                return Rendered([{"method": "sendChatAction", "action": "typing"}] if typed.value else [])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw and all(isinstance(b.get("method"), str) for b in raw):
                    return Rendered(raw)
        return degrade.fallback(data, self.name, _message)

    async def post(self, target: Target[TelegramConfig], body: dict[str, Any]) -> None:
        """Call one method in the chat (and forum topic) of the conversation."""
        context = target.reply_context
        params: dict[str, Any] = {"chat_id": context.get("chat_id") or target.endpoint.thread}
        if context.get("message_thread_id"):
            params["message_thread_id"] = context["message_thread_id"]
        method = body["method"]
        params.update(self._final(target.config, body))
        params.pop("method")
        if method not in ("sendChatAction", "sendVenue", "sendLocation") and "reply_markup" not in params:
            params["reply_markup"] = REMOVE_KEYBOARD
        await self._call(target.http, target.config, method, params)

    async def acknowledge(self, target: Target[TelegramConfig], ack: Mapping[str, Any]) -> None:
        """`answerCallbackQuery` or `sendChatAction`, as the inbound message asked."""
        params = dict(ack)
        await self._call(target.http, target.config, params.pop("method"), params)

    async def test_credentials(self, http: aiohttp.ClientSession, config: TelegramConfig) -> None:
        """`getMe` with the token."""
        await probe(
            http,
            "POST",
            self._url(config, "getMe"),
            platform=self.name,
            policy=self.retry,
            fields={401: "botToken", 404: "botToken"},
        )

    async def setup(self, http: aiohttp.ClientSession, config: TelegramConfig, webhook_url: str) -> None:
        """`setWebhook` to `<webhook_url>/<botToken>`, with the secret when there is one."""
        params: dict[str, Any] = {
            "url": f"{webhook_url}/{config.botToken.get_secret_value()}",
            "allowed_updates": ["message", "callback_query"],
        }
        if config.webhookSecret is not None:
            params["secret_token"] = config.webhookSecret.get_secret_value()
        try:
            await probe(
                http,
                "POST",
                self._url(config, "setWebhook"),
                platform=self.name,
                policy=self.retry,
                fields={401: "botToken", 404: "botToken"},
                json=params,
            )
        except ChannelTestError as exc:
            if exc.field == "apiUrl":
                raise ChannelTestError(
                    "botToken", f"setWebhook refused (check server.external_url): {exc.message}"
                ) from exc
            raise

    # ------------------------------------------------------------ helpers

    def _url(self, config: TelegramConfig, method: str) -> str:
        return f"{self.api_url(config)}/bot{config.botToken.get_secret_value()}/{method}"

    async def _call(
        self, http: aiohttp.ClientSession, config: TelegramConfig, method: str, params: dict[str, Any]
    ) -> None:
        response = await call(
            http,
            "POST",
            self._url(config, method),
            platform=self.name,
            policy=self.retry,
            json=params,
            throttle=_throttle,
            log_path=f"/bot<token>/{method}",
        )
        if isinstance(response.json, dict) and response.json.get("ok") is False:
            raise SendError(response.status, str(response.json.get("description")), platform=self.name)

    def _final(self, config: TelegramConfig, body: dict[str, Any]) -> dict[str, Any]:
        """Resolve the account-linking button against the config's login domains."""
        link = body.get("link")
        if link is None:
            return body
        rest = {k: v for k, v in body.items() if k != "link"}
        host = (URL(link["url"]).host or "").lower()
        domains = {d.lower() for d in config.loginUrlDomains}
        if host in domains or any(host.endswith(f".{d}") for d in domains):
            button = {"text": link["text"], "login_url": {"url": link["url"]}}
        else:
            button = {"text": link["text"], "url": link["url"]}
        return {**rest, "reply_markup": {"inline_keyboard": [[button]]}}


# ---------------------------------------------------------------- inbound helpers


def _chat_context(message: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    chat = as_dict(message.get("chat"))
    chat_id = first_str(chat.get("id"))
    context: dict[str, Any] = {"chat_id": chat_id, "chat_type": chat.get("type")}
    if message.get("is_topic_message") and message.get("message_thread_id"):
        context["message_thread_id"] = message["message_thread_id"]
    return chat_id, context


def _from_message(message: Mapping[str, Any], update_id: str | None) -> InboundMessage | None:
    sender = as_dict(message.get("from"))
    user, (chat_id, context) = first_str(sender.get("id")), _chat_context(message)
    if not user or not chat_id:
        return None
    payload = canonical_inbound(_message_payload(message, context.get("chat_type")) or {})
    if payload is None:
        return None
    typing = {"method": "sendChatAction", "chat_id": chat_id, "action": "typing"}
    if "message_thread_id" in context:
        typing["message_thread_id"] = context["message_thread_id"]
    return InboundMessage(
        endpoint=Endpoint("*", user, chat_id),
        payload=payload,
        platform_message_id=update_id,
        is_echo=bool(sender.get("is_bot")),
        reply_context=context,
        sender_name=first_str(sender.get("first_name"), sender.get("username")),
        acks=(typing,),
        keepalive=(typing,),
    )


def _message_payload(message: Mapping[str, Any], chat_type: Any) -> dict[str, Any] | None:
    caption = message.get("caption") if isinstance(message.get("caption"), str) else None
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], dict):
        return {"type": "image", "url": f"telegram:file/{photos[-1].get('file_id')}", "title": caption}
    document = message.get("document")
    if isinstance(document, dict) and document.get("file_id"):
        return {"type": "file", "url": f"telegram:file/{document['file_id']}", "title": caption}
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    if chat_type in ("group", "supergroup"):
        text = _addressed(text)
    return {"type": "text", "text": text}


def _addressed(text: str) -> str:
    """A group message without the bot's @mention (`@bot hi`, `/start@bot`)."""
    text = re.sub(r"^@\w+\s*", "", text.strip())
    return re.sub(r"^(/\w+)@\w+", r"\1", text) or text


def _from_callback(query: Mapping[str, Any], update_id: str | None) -> InboundMessage | None:
    sender = as_dict(query.get("from"))
    message = as_dict(query.get("message"))
    user, (chat_id, context) = first_str(sender.get("id")), _chat_context(message)
    data = query.get("data")
    if not user or not isinstance(data, str) or not data:
        return None
    chat_id = chat_id or user  # inline-mode messages have no chat: answer the user
    if data.startswith(SAY_PREFIX):
        translated: dict[str, Any] = {"type": "text", "text": data.removeprefix(SAY_PREFIX)}
    else:
        translated = {"type": "postback", "payload": data, "text": _label(message, data)}
    payload = canonical_inbound(translated)
    if payload is None:
        return None
    answer = {"method": "answerCallbackQuery", "callback_query_id": str(query.get("id"))}
    typing = {"method": "sendChatAction", "chat_id": chat_id, "action": "typing"}
    return InboundMessage(
        endpoint=Endpoint("*", user, chat_id),
        payload=payload,
        platform_message_id=update_id,
        reply_context={**context, "chat_id": chat_id},
        sender_name=first_str(sender.get("first_name"), sender.get("username")),
        acks=(answer, typing),
        keepalive=(typing,),
    )


def _label(message: Mapping[str, Any], data: str) -> str | None:
    """The text of the inline button whose `callback_data` is `data`."""
    rows = as_dict(message.get("reply_markup")).get("inline_keyboard")
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data:
                return first_str(button.get("text"))
    return None


def _throttle(status: int, body: Any) -> Throttled | None:
    """429 `{"parameters": {"retry_after": N}}`: wait N seconds."""
    if status != 429:
        return None
    retry_after = as_dict(as_dict(body).get("parameters")).get("retry_after")
    return Throttled(float(retry_after) if isinstance(retry_after, int | float) else None)


# ---------------------------------------------------------------- outbound helpers


def _message(text: str, **params: Any) -> dict[str, Any]:
    return {"method": "sendMessage", "text": text, **{k: v for k, v in params.items() if v is not None}}


def _media(method: str, key: str, url: str, caption: str | None) -> dict[str, Any]:
    body = {"method": method, key: url}
    if caption:
        body["caption"] = caption
    return body


def _is_gif(url: str) -> bool:
    return URL(url).path.lower().endswith(".gif")


Rows = list[list[dict[str, Any]]]


def _button_rows(buttons: list[Button], quick_replies: list[Choice]) -> tuple[Rows, list[str]]:
    """Inline keyboard rows (one button a row) and text lines for what a keyboard cannot hold."""
    rows: Rows = []
    lines: list[str] = []
    for button in buttons:
        if button.type == "link" and button.payload.url:
            rows.append([{"text": button.label, "url": button.payload.url}])
        elif button.type == "phone" and button.payload.phone:
            lines.append(f"{button.label}: {button.payload.phone}")
        else:
            rows.append([{"text": button.label, "callback_data": degrade.button_value(button.to_dict())}])
    rows += [[{"text": c.title, "callback_data": c.value}] for c in quick_replies]
    return rows, lines


def _reply_keyboard(choices: list[Choice]) -> dict[str, Any]:
    return {
        "keyboard": [[{"text": c.title}] for c in choices],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }


def _fit(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain texts and captions over Telegram's limits as several messages (the keyboard and
    the account-linking button on the last one). HTML bodies are split where they are made."""
    fitted: list[dict[str, Any]] = []
    for body in bodies:
        if body.get("parse_mode") is not None:
            fitted.append(body)
        elif body["method"] == "sendMessage" and utf16_length(body["text"]) > TEXT_LIMIT:
            pieces = split_text(body["text"], TEXT_LIMIT, utf16_length)
            bare = {k: v for k, v in body.items() if k not in ("reply_markup", "link")}
            fitted += [{**bare, "text": p} for p in pieces[:-1]]
            fitted.append({**body, "text": pieces[-1]})
        elif isinstance(body.get("caption"), str) and utf16_length(body["caption"]) > CAPTION_LIMIT:
            pieces = split_text(body["caption"], TEXT_LIMIT, utf16_length, first=CAPTION_LIMIT)
            fitted.append({**body, "caption": pieces[0]})
            fitted += [_message(p) for p in pieces[1:]]
        else:
            fitted.append(body)
    return fitted


def _card(card: Card) -> list[dict[str, Any]]:
    """A photo with an HTML caption and an inline keyboard (a message without image); a caption
    over Telegram's limit goes on in messages, the keyboard on the last one."""
    lines = [card.title]
    if card.subtitle:
        lines.append(card.subtitle)
    rows: list[list[dict[str, Any]]] = []
    for action in card.actions:
        if action.action == "Open URL" and action.url:
            if action.url.startswith(("http://", "https://")):
                rows.append([{"text": action.title, "url": action.url}])
            else:  # tel: and other schemes cannot be inline buttons
                lines.append(f"{action.title}: {action.url.removeprefix('tel:')}")
        elif action.action == "Say something":
            rows.append([{"text": action.title, "callback_data": SAY_PREFIX + (action.text or action.title)}])
        else:
            rows.append([{"text": action.title, "callback_data": action.payload or action.title}])
    markup = {"inline_keyboard": rows} if rows else None
    first = CAPTION_LIMIT if card.image else TEXT_LIMIT
    pieces = split_text("\n".join(lines), TEXT_LIMIT, utf16_length, first=first)
    texts = [html.escape(p, quote=False) for p in pieces]
    title = card.title
    if pieces[0].startswith(title):  # the title in bold (a title alone over the limit: all of it)
        rest = html.escape(pieces[0][len(title) :], quote=False)
        texts[0] = f"<b>{html.escape(title, quote=False)}</b>{rest}"
    else:
        texts[0] = f"<b>{texts[0]}</b>"
    bodies = [_message(text, parse_mode="HTML") for text in texts]
    if card.image:
        bodies[0] = _media("sendPhoto", "photo", card.image, texts[0]) | {"parse_mode": "HTML"}
    if markup:
        bodies[-1]["reply_markup"] = markup
    return bodies


_MD_TOKEN = re.compile(
    r"\*\*(?P<bold>.+?)\*\*|__(?P<bold2>.+?)__|(?<![\w*])\*(?P<italic>[^*\n]+?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic2>[^_\n]+?)_(?![\w_])|`(?P<code>[^`\n]+?)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)"
)


def markdown_to_html(text: str) -> str:
    """Common Markdown (bold, italic, code, links) as Telegram HTML; all the rest escaped, so
    no character of the text can break the message (Telegram answers 400 on bad entities)."""
    out: list[str] = []
    last = 0
    for match in _MD_TOKEN.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        last = match.end()
        groups = match.groupdict()
        if groups["bold"] or groups["bold2"]:
            out.append(f"<b>{html.escape(groups['bold'] or groups['bold2'], quote=False)}</b>")
        elif groups["italic"] or groups["italic2"]:
            out.append(f"<i>{html.escape(groups['italic'] or groups['italic2'], quote=False)}</i>")
        elif groups["code"]:
            out.append(f"<code>{html.escape(groups['code'], quote=False)}</code>")
        else:
            label, url = html.escape(groups["label"], quote=False), html.escape(groups["url"])
            out.append(f'<a href="{url}">{label}</a>')
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)
