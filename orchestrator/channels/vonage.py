"""Vonage Messages API v1 (WhatsApp, SMS, Messenger, Viber), with Botpress Messaging's keys.

Verification as Vonage signs webhooks: `Authorization: Bearer <JWT>` signed HS256 with
`signatureSecret`, whose `api_key` claim is `apiKey` and whose `payload_hash` claim is the
SHA-256 of the raw body. Missing: 401; anything else wrong: 403. Answered 200. Botpress takes
WhatsApp only; every Messages API channel is taken here.

Inbound (one route for messages and statuses): text; a WhatsApp interactive reply
(`message_type: reply`) or template button (`button`) as a quick reply with its id/payload;
image/audio/video/file by URL; location. Mapping as in Botpress: identity = `to` (the bot's
number or page), sender = `from`, thread `*`. Message id: `message_uuid`. Status callbacks
(`status` without `message_type`) become delivery statuses (`rejected`/`undeliverable` are
failures), never messages.

Outbound (`POST /v1/messages`, Basic auth `apiKey:apiSecret`; with `useTestingApi`, the
sandbox `https://messages-sandbox.nexmo.com` and 1.1 s between messages from one number):
text; image/audio/video/file (text with the link on SMS); location as a WhatsApp location
(a map link elsewhere). Choices: on WhatsApp up to 3 as interactive reply buttons, up to 10 as
an interactive list, more (or with links) as a numbered list; on SMS, Messenger and Viber a
numbered list (a bare number answers with its payload). Cards, carousels and account linking as
text with their links; typing renders nothing. A `custom` payload's `raw.vonage` bodies (e.g. a
WhatsApp template) go as they are.

At sync: the account balance (`GET /account/get-balance`) tests `apiKey`/`apiSecret`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import jwt
from pydantic import SecretStr

from orchestrator.channels import degrade
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
    Target,
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    jwt_decode,
    secrets_equal,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe

VONAGE_URL = "https://api.nexmo.com"
SANDBOX_URL = "https://messages-sandbox.nexmo.com"
REST_URL = "https://rest.nexmo.com"
SANDBOX_DELAY = 1.1  # seconds between two sandbox messages from one number
FAILED = frozenset({"rejected", "undeliverable", "failed"})
MEDIA = ("image", "audio", "video", "file")
MAX_BUTTONS, MAX_ROWS = 3, 10


class VonageConfig(ChannelConfig):
    """Vonage settings (Botpress's keys)."""

    apiKey: str
    apiSecret: SecretStr
    signatureSecret: SecretStr
    useTestingApi: bool = False


class VonageChannel(Channel[VonageConfig]):
    """Vonage Messages API (see the module docstring)."""

    name = "vonage"
    Config = VonageConfig
    capabilities = frozenset({"text", "image", "audio", "video", "file", "custom"})
    default_api_url = VONAGE_URL

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        super().__init__(retry)
        self._last_sent: dict[str, float] = {}  # sandbox: number → monotonic time of its last send

    def api_url(self, config: VonageConfig) -> str:
        """`apiUrl`, else the sandbox with `useTestingApi`, else the Messages API."""
        return config.apiUrl or (SANDBOX_URL if config.useTestingApi else VONAGE_URL)

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: VonageConfig) -> None:
        """The signed JWT: signature, `api_key`, and `payload_hash` over the raw body."""
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise VerificationError(401, "missing Authorization: Bearer <signed JWT>")
        try:
            claims = jwt_decode(token.strip(), config.signatureSecret)
        except jwt.InvalidTokenError as exc:
            raise VerificationError(403, f"JWT not signed with signatureSecret: {exc}") from exc
        if not secrets_equal(str(claims.get("api_key", "")), config.apiKey):
            raise VerificationError(403, "JWT api_key is not apiKey")
        digest = hashlib.sha256(req.body).hexdigest()
        if not secrets_equal(str(claims.get("payload_hash", "")), digest):
            raise VerificationError(403, "JWT payload_hash does not match the body")

    def parse(self, req: InboundRequest, config: VonageConfig) -> ParsedInbound:
        """An inbound message, or a status callback."""
        body = as_dict(req.json)
        uuid = first_str(body.get("message_uuid"))
        if not body or not uuid:
            return bad_request("message_uuid is required")
        if "message_type" not in body and first_str(body.get("status")):
            status = str(body["status"])
            error = as_dict(body.get("error"))
            detail = first_str(error.get("detail"), error.get("title"), error.get("reason"))
            return ParsedInbound(statuses=[DeliveryStatus(uuid, status, status in FAILED, detail)])
        sender, bot, channel = (
            first_str(body.get("from")),
            first_str(body.get("to")),
            first_str(body.get("channel")),
        )
        translated = _payload(body)
        payload = canonical_inbound(translated) if translated and sender and bot else None
        if payload is None or not (sender and bot):
            return ParsedInbound()
        message = InboundMessage(
            endpoint=Endpoint(bot, sender, "*"),
            payload=payload,
            platform_message_id=uuid,
            reply_context={"channel": channel or "whatsapp", "from": bot, "to": sender},
            sender_name=first_str(as_dict(body.get("profile")).get("name")),
        )
        return ParsedInbound([message])

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Message bodies without addressing; `alternatives` per Vonage channel
        (`whatsapp`, `sms`…) replace the body there."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([_text(typed.text)])
            case "image" | "audio" | "video" | "file":
                kind = typed.type
                media: dict[str, Any] = {"url": data[kind]}
                if typed.title and kind in ("image", "file"):
                    media["caption"] = typed.title
                text = _text(degrade.as_text(data))["text"]
                return Rendered([{"message_type": kind, kind: media, "alternatives": {"sms": _text(text)}}])
            case "location":
                place: dict[str, Any] = {"latitude": typed.latitude, "longitude": typed.longitude}
                place.update({k: v for k, v in (("name", typed.title), ("address", typed.address)) if v})
                native = _custom({"type": "location", "location": place})
                return Rendered([{**_text(degrade.as_text(data)), "alternatives": {"whatsapp": native}}])
            case "buttons" | "single-choice" | "card" | "carousel":
                numbered = degrade.numbered(data)
                body = _text(numbered.text())
                interactive = _interactive(data)
                bodies = [{**body, "alternatives": {"whatsapp": interactive}} if interactive else body]
                return Rendered(bodies, numbered.options)
            case "typing":
                return Rendered([])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered(raw)
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[VonageConfig], body: dict[str, Any]) -> None:
        """Post one body (its alternative for the conversation's channel) from the bot."""
        config, context = target.config, target.reply_context
        channel = str(context.get("channel") or "whatsapp")
        sender = str(context.get("from") or target.endpoint.identity)
        to = str(context.get("to") or target.endpoint.sender)
        chosen = as_dict(body.get("alternatives")).get(channel) or body
        message = {k: v for k, v in chosen.items() if k != "alternatives"}
        if config.useTestingApi:
            await self._space(sender)
        message.update({"from": sender, "to": to, "channel": channel})
        await call(
            target.http,
            "POST",
            f"{self.api_url(config)}/v1/messages",
            platform=self.name,
            policy=self.retry,
            headers=_auth(config),
            json=message,
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: VonageConfig) -> None:
        """The account balance, which needs a valid key and secret."""
        await probe(
            http,
            "GET",
            f"{config.apiUrl or REST_URL}/account/get-balance",
            platform=self.name,
            policy=self.retry,
            params={"api_key": config.apiKey, "api_secret": config.apiSecret.get_secret_value()},
            fields={401: "apiSecret", 403: "apiSecret"},
        )

    async def _space(self, sender: str) -> None:
        """Wait until SANDBOX_DELAY has passed since this number's last message."""
        last = self._last_sent.get(sender)
        now = time.monotonic()
        if last is not None and now - last < SANDBOX_DELAY:
            await self.retry.sleep(SANDBOX_DELAY - (now - last))
        self._last_sent[sender] = time.monotonic()
        if len(self._last_sent) > 10_000:
            self._last_sent.clear()


def _auth(config: VonageConfig) -> dict[str, str]:
    pair = f"{config.apiKey}:{config.apiSecret.get_secret_value()}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


# ---------------------------------------------------------------- inbound helpers


def _payload(body: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = body.get("message_type")
    if kind == "text":
        text = str(body.get("text")) if isinstance(body.get("text"), str) else ""
        return {"type": "text", "text": text} if text.strip() else None
    if kind == "reply":
        reply = as_dict(body.get("reply"))
        return {"type": "quick_reply", "payload": reply.get("id"), "text": reply.get("title")}
    if kind == "button":
        button = as_dict(body.get("button"))
        return {"type": "quick_reply", "payload": button.get("payload"), "text": button.get("text")}
    if kind in MEDIA or kind == "sticker":
        media = as_dict(body.get(kind))
        url = first_str(media.get("url"))
        if not url:
            return None
        return {"type": "image" if kind == "sticker" else kind, "url": url, "title": media.get("caption")}
    if kind == "location":
        place = as_dict(body.get("location"))
        return {"type": "location", "latitude": place.get("lat"), "longitude": place.get("long")}
    return None  # unsupported, order, vcard…


# ---------------------------------------------------------------- outbound helpers


def _text(text: str) -> dict[str, Any]:
    return {"message_type": "text", "text": text}


def _custom(custom: dict[str, Any]) -> dict[str, Any]:
    return {"message_type": "custom", "custom": custom}


def _interactive(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """WhatsApp reply buttons (≤ 3) or a list (≤ 10 rows) when every option is a plain choice
    (no links, no cards), else None (the numbered list)."""
    kind = payload.get("type")
    if kind not in ("buttons", "single-choice"):
        return None
    options: list[tuple[str, str]] = []
    for button in payload.get("buttons") or []:
        if button.get("type") != "postback":
            return None
        options.append((button["label"], degrade.button_value(button)))
    options += [
        (c["title"], c["value"]) for c in payload.get("quick_replies") or payload.get("choices") or []
    ]
    text = str(payload.get("text") or "")
    if not options or len(options) > MAX_ROWS or not text or any(len(v) > 200 for _, v in options):
        return None
    if len(options) <= MAX_BUTTONS:
        buttons = [{"type": "reply", "reply": {"id": v, "title": t[:20]}} for t, v in options]
        interactive = {"type": "button", "body": {"text": text[:1024]}, "action": {"buttons": buttons}}
    else:
        rows = [{"id": v, "title": t[:24]} for t, v in options]
        action = {"button": "Choose", "sections": [{"rows": rows}]}
        interactive = {"type": "list", "body": {"text": text[:4096]}, "action": action}
    return _custom({"type": "interactive", "interactive": interactive})
