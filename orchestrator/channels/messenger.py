"""Facebook Messenger (Graph API v12.0 Send API), with Botpress Messaging's config keys.

Verification: `GET` is the subscription handshake (`hub.mode=subscribe`, `hub.verify_token` =
verifyToken → `hub.challenge`, else 403); every `POST` must carry `X-Hub-Signature-256` =
`sha256=` + HMAC-SHA256(appSecret, raw body). A missing or wrong signature is 403 (Botpress
answers 500 for a missing one).

Inbound (`object: page`, each `entry[].messaging[]`): text; a quick reply's payload and a
postback button's payload as postbacks (`quick_reply`/`postback`); image/file attachments; the
page's own messages (`is_echo`) are echoes; `account_linking` becomes the bot's event
`account_linked` with `{authorization_code, account_id}` (the code the linking page passed to
Messenger), or `account_unlinked`. Mapping as in Botpress: identity `*`, sender = PSID, thread
`*`. Answered 200 `EVENT_RECEIVED`. A user's message or postback is acknowledged with the
`mark_seen` sender action (the user sees it read while the bot's turn runs).

Outbound (`POST /v12.0/me/messages?access_token=…`, `messaging_type: RESPONSE`): text; up to
3 buttons as a button template (more postbacks as quick replies, which Messenger shows up to
13); quick replies natively; card and carousel as a generic template (10 elements, 3 buttons
each: postback, web_url, phone_number); account linking as a button template with Messenger's
`account_link` button; image/audio/video/file as attachments; typing as `sender_action:
typing_on`; location as a map link. A text over 2000 characters is sent as several messages
(paragraph, line or word boundaries), a button template's text over 640 goes first as text.
Throttling: the Graph API's rate-limit codes (4, 17, 32, 613) come with a 400 and are retried
with backoff.

At sync: `GET /me` (token, page id) and `GET /app` (app id), then the page settings Botpress
offered (`greeting`, `getStarted`, `persistentMenu`) through the Messenger Profile API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr

from orchestrator.channels import degrade, meta_webhook
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    ChannelTestError,
    Endpoint,
    ImmediateResponse,
    InboundMessage,
    InboundRequest,
    ParsedInbound,
    Rendered,
    Target,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    validate_outbound,
)
from orchestrator.channels.sender import Throttled, call, probe
from orchestrator.channels.split import split_text
from orchestrator.payloads import Card, CardAction

GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v12.0"
TEXT_LIMIT = 2000  # a text message
BUTTON_TEXT_LIMIT = 640  # a button template's text
MARK_SEEN = {"sender_action": "mark_seen"}
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
MAX_QUICK_REPLIES = 13
RECEIVED = ImmediateResponse(200, b"EVENT_RECEIVED", "text/plain")


class MessengerConfig(ChannelConfig):
    """Messenger settings (Botpress's keys), plus the page settings of Botpress's legacy
    channel: `greeting` text, `getStarted` payload, `persistentMenu` (Graph format)."""

    appId: str
    appSecret: SecretStr
    verifyToken: SecretStr
    pageId: str
    accessToken: SecretStr
    greeting: str | None = None
    getStarted: str | None = None
    persistentMenu: list[dict[str, Any]] | None = None


class MessengerChannel(Channel[MessengerConfig]):
    """Messenger (see the module docstring)."""

    name = "messenger"
    Config = MessengerConfig
    capabilities = frozenset(
        {
            "text",
            "image",
            "audio",
            "video",
            "file",
            "buttons",
            "single-choice",
            "card",
            "carousel",
            "account_linking",
            "typing",
            "custom",
        }
    )
    default_api_url = GRAPH_URL

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: MessengerConfig) -> None:
        """The verify token of the handshake, or the body's signature."""
        meta_webhook.verify(req, config.verifyToken, config.appSecret, missing_signature_status=403)

    def parse(self, req: InboundRequest, config: MessengerConfig) -> ParsedInbound:
        """The handshake's challenge, or every messaging event of the batch."""
        if (answer := meta_webhook.handshake(req)) is not None:
            return answer
        body = req.json
        if not isinstance(body, dict) or body.get("object") != "page":
            return bad_request("body must be a page event")
        messages = [
            m
            for entry in body.get("entry") or []
            if isinstance(entry, dict)
            for event in entry.get("messaging") or []
            if isinstance(event, dict)
            if (m := _event(event)) is not None
        ]
        return ParsedInbound(messages, RECEIVED)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Send API bodies without `recipient` (added by `send`); a text over Messenger's 2000
        characters becomes several messages (the quick replies on the last)."""
        rendered = self._render(payload)
        return Rendered(_fit(rendered.bodies), rendered.choices)

    def _render(self, payload: dict[str, Any]) -> Rendered:
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([{"message": {"text": typed.text}}])
            case "image" | "audio" | "video" | "file":
                kind = typed.type
                attachment = {"type": kind, "payload": {"url": data[kind], "is_reusable": True}}
                return Rendered([{"message": {"attachment": attachment}}])
            case "buttons":
                buttons = [
                    _button(
                        b.label, b.type, b.payload.url, b.payload.phone, degrade.button_value(b.to_dict())
                    )
                    for b in typed.buttons
                ]
                chips = [(c.title, c.value) for c in typed.quick_replies or []]
                if len(buttons) > 3 and all(b["type"] == "postback" for b in buttons):
                    chips = [(b["title"], b["payload"]) for b in buttons] + chips
                    buttons = []
                return Rendered(_buttons_message(typed.text, buttons, chips))
            case "single-choice":
                return Rendered(_buttons_message(typed.text, [], [(c.title, c.value) for c in typed.choices]))
            case "card":
                return Rendered([_generic([typed])])
            case "carousel":
                return Rendered([_generic(typed.items[i : i + 10]) for i in range(0, len(typed.items), 10)])
            case "account_linking":
                button = {"type": "account_link", "url": typed.url}
                return Rendered(_buttons_message(typed.text, [button], []))
            case "typing":
                return Rendered([{"sender_action": "typing_on" if typed.value else "typing_off"}])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered(raw)
        return degrade.fallback(data, self.name, lambda text: {"message": {"text": text}})

    async def post(self, target: Target[MessengerConfig], body: dict[str, Any]) -> None:
        """Post one body to the user (PSID)."""
        recipient = {"id": str(target.reply_context.get("psid") or target.endpoint.sender)}
        extra = {"messaging_type": "RESPONSE"} if "message" in body else {}
        await self._graph(
            target.http, target.config, "POST", "me/messages", {"recipient": recipient, **extra, **body}
        )

    async def acknowledge(self, target: Target[MessengerConfig], ack: Mapping[str, Any]) -> None:
        """A sender action (`mark_seen` for a user's message)."""
        await self.post(target, dict(ack))

    async def test_credentials(self, http: aiohttp.ClientSession, config: MessengerConfig) -> None:
        """The token's page must be `pageId` and its app `appId`."""
        fields = {400: "accessToken", 401: "accessToken", 403: "accessToken"}
        page = await probe(
            http, "GET", self._url(config, "me"), platform=self.name, policy=self.retry, fields=fields
        )
        if first_str(as_dict(page.json).get("id")) != config.pageId:
            raise ChannelTestError("pageId", "page id does not match provided access token")
        app = await probe(
            http, "GET", self._url(config, "app"), platform=self.name, policy=self.retry, fields=fields
        )
        if first_str(as_dict(app.json).get("id")) != config.appId:
            raise ChannelTestError("appId", "app id does not match provided access token")

    async def setup(self, http: aiohttp.ClientSession, config: MessengerConfig, webhook_url: str) -> None:
        """The page settings (greeting, get-started button, persistent menu), when configured."""
        profile: dict[str, Any] = {}
        if config.greeting:
            profile["greeting"] = [{"locale": "default", "text": config.greeting}]
        if config.getStarted:
            profile["get_started"] = {"payload": config.getStarted}
        if config.persistentMenu:
            profile["persistent_menu"] = config.persistentMenu
        if not profile:
            return
        await probe(
            http,
            "POST",
            self._url(config, "me/messenger_profile"),
            platform=self.name,
            policy=self.retry,
            fields={400: "persistentMenu" if config.persistentMenu else "greeting"},
            json=profile,
        )

    # ------------------------------------------------------------ helpers

    def _url(self, config: MessengerConfig, path: str) -> str:
        token = config.accessToken.get_secret_value()
        return f"{self.api_url(config)}/{GRAPH_VERSION}/{path}?access_token={token}"

    async def _graph(
        self,
        http: aiohttp.ClientSession,
        config: MessengerConfig,
        method: str,
        path: str,
        body: dict[str, Any],
    ) -> None:
        await call(
            http,
            method,
            self._url(config, path),
            platform=self.name,
            policy=self.retry,
            json=body,
            throttle=_throttle,
        )


# ---------------------------------------------------------------- inbound helpers


def _event(event: Mapping[str, Any]) -> InboundMessage | None:
    psid = first_str(as_dict(event.get("sender")).get("id"))
    if not psid:
        return None
    message, postback, linking = (as_dict(event.get(k)) for k in ("message", "postback", "account_linking"))
    mid: str | None = None
    if message:
        mid = first_str(message.get("mid"))
        translated = _message_payload(message)
    elif postback:
        mid = first_str(postback.get("mid"))
        translated = {"type": "postback", "payload": postback.get("payload"), "text": postback.get("title")}
    elif linking:
        mid = f"account_linking:{psid}:{event.get('timestamp')}"
        if linking.get("status") == "linked":
            code = linking.get("authorization_code")
            data = {"authorization_code": code, "account_id": code}
            translated = {"type": "event", "event": "account_linked", "data": data}
        else:
            translated = {"type": "event", "event": "account_unlinked", "data": {}}
    else:
        return None  # deliveries, reads, reactions
    payload = canonical_inbound(translated) if translated else None
    if payload is None:
        return None
    return InboundMessage(
        endpoint=Endpoint("*", psid, "*"),
        payload=payload,
        platform_message_id=mid,
        is_echo=bool(message.get("is_echo")),
        reply_context={"psid": psid},
        acks=(MARK_SEEN,) if message or postback else (),
    )


def _message_payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    quick = as_dict(message.get("quick_reply"))
    text = str(message.get("text")) if isinstance(message.get("text"), str) else ""
    if quick.get("payload"):
        return {"type": "quick_reply", "payload": quick["payload"], "text": text or None}
    for attachment in message.get("attachments") or []:
        attachment = as_dict(attachment)
        url = first_str(as_dict(attachment.get("payload")).get("url"))
        if url:
            kind = attachment.get("type")
            return {"type": kind if kind in ("image", "audio", "video") else "file", "url": url}
    return {"type": "text", "text": text} if text.strip() else None


def _throttle(status: int, body: Any) -> Throttled | None:
    """The Graph API's rate-limit errors, which come with a 400."""
    code = as_dict(as_dict(body).get("error")).get("code")
    return Throttled() if code in RATE_LIMIT_CODES else None


# ---------------------------------------------------------------- outbound helpers


def _fit(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text messages over 2000 characters as several (the quick replies on the last)."""
    fitted: list[dict[str, Any]] = []
    for body in bodies:
        message = as_dict(body.get("message"))
        text = message.get("text")
        if not isinstance(text, str) or len(text) <= TEXT_LIMIT:
            fitted.append(body)
            continue
        pieces = split_text(text, TEXT_LIMIT)
        fitted += [{**body, "message": {"text": piece}} for piece in pieces[:-1]]
        fitted.append({**body, "message": {**message, "text": pieces[-1]}})
    return fitted


def _template(payload: dict[str, Any], quick_replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"attachment": {"type": "template", "payload": payload}}
    if quick_replies:
        message["quick_replies"] = quick_replies
    return {"message": message}


def _button(title: str, kind: str, url: str | None, phone: str | None, value: str) -> dict[str, Any]:
    if kind == "link" and url:
        return {"type": "web_url", "title": title[:20], "url": url}
    if kind == "phone" and phone:
        return {"type": "phone_number", "title": title[:20], "payload": phone}
    return {"type": "postback", "title": title[:20], "payload": value[:1000]}


def _chips(choices: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"content_type": "text", "title": t[:20], "payload": v[:1000]} for t, v in choices[:MAX_QUICK_REPLIES]
    ]


def _buttons_message(
    text: str, buttons: list[dict[str, Any]], chips: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Button templates of 3 (the text on the first), the quick replies on the last message.
    A text over a button template's 640 characters goes first as text messages."""
    if not buttons:
        message: dict[str, Any] = {"text": text}
        if chips:
            message["quick_replies"] = _chips(chips)
        return [{"message": message}]
    pieces = split_text(text, TEXT_LIMIT)
    lead = pieces.pop() if len(pieces[-1]) <= BUTTON_TEXT_LIMIT else "…"
    groups = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    bodies: list[dict[str, Any]] = [{"message": {"text": piece}} for piece in pieces]
    bodies += [
        _template({"template_type": "button", "text": lead if i == 0 else "…", "buttons": group})
        for i, group in enumerate(groups)
    ]
    if chips:
        bodies[-1]["message"]["quick_replies"] = _chips(chips)
    return bodies


def _card_button(action: CardAction) -> dict[str, Any]:
    if action.action == "Open URL" and action.url:
        if action.url.startswith("tel:"):
            return {
                "type": "phone_number",
                "title": action.title[:20],
                "payload": action.url.removeprefix("tel:"),
            }
        return {"type": "web_url", "title": action.title[:20], "url": action.url}
    value = (
        (action.text or action.title)
        if action.action == "Say something"
        else (action.payload or action.title)
    )
    return {"type": "postback", "title": action.title[:20], "payload": value[:1000]}


def _generic(cards: list[Card]) -> dict[str, Any]:
    elements = []
    for card in cards:
        element: dict[str, Any] = {"title": card.title[:80]}
        if card.subtitle:
            element["subtitle"] = card.subtitle[:80]
        if card.image:
            element["image_url"] = card.image
        buttons = [_card_button(a) for a in card.actions][:3]
        if buttons:
            element["buttons"] = buttons
        elements.append(element)
    return _template({"template_type": "generic", "elements": elements})
