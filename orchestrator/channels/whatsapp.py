"""WhatsApp Business through Meta's Cloud API (Graph `v19.0`), not part of Botpress Messaging.

Verification as Messenger's: `GET` is the subscription handshake (`hub.mode=subscribe`,
`hub.verify_token` = verifyToken → `hub.challenge`, else 403); every `POST` must carry
`X-Hub-Signature-256` = `sha256=` + HMAC-SHA256(appSecret, raw body): missing 401, wrong 403.

Inbound (`object: whatsapp_business_account`, `entry[].changes[].value` of field `messages`,
only for the configured `phoneNumberId`): text; an interactive reply (`button_reply`,
`list_reply`) or a template button as a quick reply with its id/payload; image, audio, video,
document and sticker as their Graph media URL (`<apiUrl>/<version>/<media id>`, fetched with the
access token); location. Mapping: identity = phone number id, sender = the user's `wa_id`,
thread `*`. Message id: the `wamid`. `statuses[]` become delivery statuses (`failed` with
WhatsApp's error, e.g. 131047 re-engagement), never messages.

Outbound (`POST /<version>/<phoneNumberId>/messages`, Bearer accessToken): text (link previews
when it has a URL); image/audio/video/file by link; location; choices (postback buttons,
quick replies, single choice) as interactive reply buttons (≤ 3) or a list (≤ 10 rows), more
as a numbered list; a card whose actions are 1-3 postbacks as reply buttons under its image;
other cards and carousels as their images then a numbered list (links listed); account
linking as a `cta_url` button; typing renders nothing. A `custom` payload's `raw.whatsapp`
bodies (a template message) go as they are.

The 24-hour customer-service window: WhatsApp delivers a free-form message only within 24 hours
of the user's last message (a late one is accepted, then fails in a status webhook). `send`
refuses such a message itself with a SendError naming the rule (a `send-failure` health event),
and lets template messages through. Throttling: Graph's rate-limit codes (4, 613, 80007,
130429, 131056) are retried with backoff.

At sync: `GET /<version>/<phoneNumberId>` tests the token and the number.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr

from orchestrator.channels import degrade, meta_webhook
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    DeliveryStatus,
    Endpoint,
    InboundMessage,
    InboundRequest,
    ParsedInbound,
    Rendered,
    RetryPolicy,
    SendError,
    Target,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    validate_outbound,
)
from orchestrator.channels.sender import Throttled, call, probe
from orchestrator.payloads import Card

GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v19.0"
WINDOW = 24 * 3600.0  # seconds after the user's last message
RATE_LIMIT_CODES = frozenset({4, 613, 80007, 130429, 131056})
MAX_BUTTONS, MAX_ROWS = 3, 10
MEDIA = {"image": "image", "audio": "audio", "video": "video", "document": "file", "sticker": "image"}
_URL = re.compile(r"https?://\S")


class WhatsAppConfig(ChannelConfig):
    """WhatsApp Cloud API settings (the app's secret and verify token, the business phone
    number's id, a system user's access token)."""

    phoneNumberId: str
    accessToken: SecretStr
    appSecret: SecretStr
    verifyToken: SecretStr


class WhatsAppChannel(Channel[WhatsAppConfig]):
    """WhatsApp Cloud API (see the module docstring)."""

    name = "whatsapp"
    Config = WhatsAppConfig
    capabilities = frozenset(
        {"text", "image", "audio", "video", "file", "location", "account_linking", "custom"}
    )
    default_api_url = GRAPH_URL

    def __init__(self, retry: RetryPolicy | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(retry)
        self.clock = clock

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: WhatsAppConfig) -> None:
        """The verify token of the handshake, or the body's signature."""
        meta_webhook.verify(req, config.verifyToken, config.appSecret, missing_signature_status=401)

    def parse(self, req: InboundRequest, config: WhatsAppConfig) -> ParsedInbound:
        """The handshake's challenge, or the messages and statuses of the batch."""
        if (answer := meta_webhook.handshake(req)) is not None:
            return answer
        body = req.json
        if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
            return bad_request("body must be a whatsapp_business_account event")
        media_base = f"{self.api_url(config)}/{GRAPH_VERSION}"
        messages: list[InboundMessage] = []
        statuses: list[DeliveryStatus] = []
        for entry in body.get("entry") or []:
            for change in as_dict(entry).get("changes") or []:
                value = as_dict(as_dict(change).get("value"))
                if as_dict(value.get("metadata")).get("phone_number_id") != config.phoneNumberId:
                    continue  # another number of the business account
                names = {
                    first_str(c.get("wa_id")): first_str(as_dict(c.get("profile")).get("name"))
                    for c in value.get("contacts") or []
                    if isinstance(c, dict)
                }
                for message in value.get("messages") or []:
                    found = _message(as_dict(message), config.phoneNumberId, media_base, names)
                    if found is not None:
                        messages.append(found)
                statuses += [s for s in map(_status, value.get("statuses") or []) if s is not None]
        return ParsedInbound(messages, statuses=statuses)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Cloud API message bodies without `messaging_product` and `to` (added by `post`)."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([_text(typed.text)])
            case "image" | "audio" | "video" | "file":
                return Rendered([_media(typed.type, data[typed.type], typed.title)])
            case "location":
                place: dict[str, Any] = {"latitude": typed.latitude, "longitude": typed.longitude}
                place.update({k: v for k, v in (("name", typed.title), ("address", typed.address)) if v})
                return Rendered([{"type": "location", "location": place}])
            # Choices keep their numbers even when tapped natively (a typed "2" still works).
            case "buttons" | "single-choice":
                interactive = _choices(data)
                if interactive:
                    return Rendered([interactive], degrade.numbered(data).options)
                return degrade.fallback(data, self.name, _text)
            case "card":
                native = _card_buttons(typed)
                if native:
                    return Rendered([native], degrade.numbered(data).options)
                return _with_images([typed], data)
            case "carousel":
                return _with_images(typed.items, data)
            case "account_linking":
                label = (typed.params.button_text or "Log in")[:20]
                action = {"name": "cta_url", "parameters": {"display_text": label, "url": typed.url}}
                body = {"type": "cta_url", "body": {"text": typed.text[:1024]}, "action": action}
                return Rendered([{"type": "interactive", "interactive": body}])
            case "typing":
                return Rendered([])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered(raw)
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[WhatsAppConfig], body: dict[str, Any]) -> None:
        """Post one body to the user, within the 24-hour window (templates at any time)."""
        config, context = target.config, target.reply_context
        if body.get("type") != "template" and not self._in_window(context.get("last_user_at")):
            raise SendError(
                None,
                "outside WhatsApp's 24-hour customer service window (the user's last message is "
                "older than 24 hours): only a template message can be sent",
                platform=self.name,
            )
        to = str(context.get("to") or target.endpoint.sender)
        message = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        await call(
            target.http,
            "POST",
            f"{self.api_url(config)}/{GRAPH_VERSION}/{config.phoneNumberId}/messages",
            platform=self.name,
            policy=self.retry,
            headers={"Authorization": f"Bearer {config.accessToken.get_secret_value()}"},
            json=message,
            throttle=_throttle,
        )

    def _in_window(self, last_user_at: Any) -> bool:
        if not isinstance(last_user_at, int | float):
            return False  # the user never wrote: WhatsApp wants a template
        return self.clock() - float(last_user_at) < WINDOW

    async def test_credentials(self, http: aiohttp.ClientSession, config: WhatsAppConfig) -> None:
        """Fetch the phone number with the token."""
        await probe(
            http,
            "GET",
            f"{self.api_url(config)}/{GRAPH_VERSION}/{config.phoneNumberId}",
            platform=self.name,
            policy=self.retry,
            headers={"Authorization": f"Bearer {config.accessToken.get_secret_value()}"},
            params={"fields": "display_phone_number,verified_name"},
            fields={400: "phoneNumberId", 401: "accessToken", 403: "accessToken", 404: "phoneNumberId"},
        )


def _throttle(status: int, body: Any) -> Throttled | None:
    """Graph's rate-limit errors (a 400 or a 429 with one of these codes)."""
    code = as_dict(as_dict(body).get("error")).get("code")
    return Throttled() if code in RATE_LIMIT_CODES else None


# ---------------------------------------------------------------- inbound helpers


def _message(
    message: Mapping[str, Any], phone_number_id: str, media_base: str, names: Mapping[str | None, str | None]
) -> InboundMessage | None:
    user = first_str(message.get("from"))
    if not user:
        return None
    kind = message.get("type")
    body = as_dict(message.get(kind)) if isinstance(kind, str) else {}
    translated: dict[str, Any] | None = None
    if kind == "text":
        text = str(body.get("body")) if isinstance(body.get("body"), str) else ""
        translated = {"type": "text", "text": text} if text.strip() else None
    elif kind == "interactive":
        reply = as_dict(body.get("button_reply") or body.get("list_reply"))
        translated = {"type": "quick_reply", "payload": reply.get("id"), "text": reply.get("title")}
    elif kind == "button":
        translated = {"type": "quick_reply", "payload": body.get("payload"), "text": body.get("text")}
    elif kind in MEDIA and first_str(body.get("id")):
        translated = {"type": MEDIA[kind], "url": f"{media_base}/{body['id']}", "title": body.get("caption")}
    elif kind == "location":
        translated = {
            "type": "location",
            "latitude": body.get("latitude"),
            "longitude": body.get("longitude"),
            "title": body.get("name"),
            "address": body.get("address"),
        }
    payload = canonical_inbound(translated) if translated else None
    if payload is None:
        return None  # reactions, system messages, unsupported types
    timestamp = message.get("timestamp")
    sent_at = int(timestamp) if isinstance(timestamp, str) and timestamp.isdigit() else None
    context = {"to": user, **({"last_user_at": sent_at} if sent_at is not None else {})}
    return InboundMessage(
        endpoint=Endpoint(phone_number_id, user, "*"),
        payload=payload,
        platform_message_id=first_str(message.get("id")),
        reply_context=context,
        sender_name=names.get(user),
    )


def _status(status: Any) -> DeliveryStatus | None:
    status = as_dict(status)
    wamid, state = first_str(status.get("id")), first_str(status.get("status"))
    if not wamid or not state:
        return None
    errors = [as_dict(e) for e in status.get("errors") or []]
    detail = "; ".join(
        f"{e.get('code')}: {first_str(as_dict(e.get('error_data')).get('details'), e.get('message'))}"
        for e in errors
    )
    return DeliveryStatus(wamid, state, state == "failed", detail or None)


# ---------------------------------------------------------------- outbound helpers


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": text[:4096], "preview_url": bool(_URL.search(text))}}


def _media(kind: str, url: str, title: str | None) -> dict[str, Any]:
    wa_kind = "document" if kind == "file" else kind
    media: dict[str, Any] = {"link": url}
    if title and wa_kind != "audio":
        media["caption"] = title
    return {"type": wa_kind, wa_kind: media}


def _interactive_buttons(
    text: str, options: list[tuple[str, str]], header: str | None = None
) -> dict[str, Any]:
    buttons = [{"type": "reply", "reply": {"id": v, "title": t[:20]}} for t, v in options]
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": text[:1024]},
        "action": {"buttons": buttons},
    }
    if header:
        interactive["header"] = {"type": "image", "image": {"link": header}}
    return {"type": "interactive", "interactive": interactive}


def _choices(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """Reply buttons (≤ 3) or a list (≤ 10 rows) when every option is a plain choice, else None."""
    options: list[tuple[str, str]] = []
    for button in payload.get("buttons") or []:
        if button.get("type") != "postback":
            return None  # links and phone numbers: the numbered list shows them
        options.append((button["label"], degrade.button_value(button)))
    options += [
        (c["title"], c["value"]) for c in payload.get("quick_replies") or payload.get("choices") or []
    ]
    text = str(payload.get("text") or "")
    if not options or len(options) > MAX_ROWS or not text or len({v for _, v in options}) < len(options):
        return None
    if any(len(v) > 200 for _, v in options):
        return None
    if len(options) <= MAX_BUTTONS:
        return _interactive_buttons(text, options)
    rows = [{"id": v, "title": t[:24]} for t, v in options]
    action = {"button": "Choose", "sections": [{"rows": rows}]}
    return {
        "type": "interactive",
        "interactive": {"type": "list", "body": {"text": text[:4096]}, "action": action},
    }


def _card_buttons(card: Card) -> dict[str, Any] | None:
    """A card whose actions are 1-3 postbacks: reply buttons under its image."""
    if not 1 <= len(card.actions) <= MAX_BUTTONS or any(a.action == "Open URL" for a in card.actions):
        return None
    options = [
        (a.title, (a.text or a.title) if a.action == "Say something" else (a.payload or a.title))
        for a in card.actions
    ]
    if len({v for _, v in options}) < len(options) or any(len(v) > 256 for _, v in options):
        return None
    text = "\n".join(p for p in (card.title, card.subtitle) if p)
    return _interactive_buttons(text, options, card.image)


def _with_images(cards: list[Card], payload: dict[str, Any]) -> Rendered:
    """The cards' images as image messages, then their numbered list (without the images)."""
    images = [_media("image", c.image, c.title) for c in cards if c.image]
    if payload.get("type") == "carousel":
        payload = {**payload, "items": [{**c, "image": None} for c in payload["items"]]}
    else:
        payload = {**payload, "image": None}
    numbered = degrade.numbered(payload)
    return Rendered([*images, _text(numbered.text())], numbered.options)
