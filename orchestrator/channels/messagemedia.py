"""MessageMedia Conversations (beta; Facebook Messenger through MessageMedia).

Verification (our choice; nothing is documented): the callback URL given at provisioning
carries `webhookSecret`, as `?secret=` or as the last path segment (`base.check_url_secret`).
Basic auth on the callback was the alternative; a URL secret needs nothing from the platform
beyond the documented `callback_url`.

Inbound: the callback body is undocumented, so the parser is lenient, as the reference
proposes: one message object, or a list of them (bare, or under `messages`/`data`); the user id
from `metadata.user_id`, `user_id`, `app_user_id` or `appUserId` (or the envelope's
`metadata.user_id`); `text`; an image as `media`; `direction: "SENT"` marks an echo; the
channel is lower-cased. A tapped reply action arrives as its `responseText`, as plain text.

Mapping: identity = the channel (`facebook`), sender = thread = the app user id (there is no
conversation id: a user has one conversation per channel). reply_context: `app_user_id`,
`channel`. Message id: `id` when present.

Outbound: `POST /beta/conversations/users/{appUserId}/messages` with Basic auth
(`apiKey:apiSecret`), bodies `{channel, text}`, `{channel, type: "image", media}` and
`{channel, type: "actions", text, actions: [{type: "reply", displayText, responseText}]}`.
Choices (buttons, quick replies, card and carousel actions) are degraded to the numbered list
of `degrade.py` and offered as reply actions whose `responseText` is the option's number, so a
tap and a typed "2" come back the same way and the service's number map resolves both. Links,
cards, files, locations and account linking are degraded to text.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
from pydantic import SecretStr, field_validator

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    Endpoint,
    InboundMessage,
    InboundRequest,
    ParsedInbound,
    Rendered,
    Target,
    as_dict,
    bad_request,
    canonical_inbound,
    check_url_secret,
    first_str,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe

MESSAGEMEDIA_URL = "https://api.messagemedia.com"
MAX_ACTIONS = 13  # Messenger shows at most 13 quick replies
_MEDIA_TYPES = ("image", "audio", "video", "file")


class MessageMediaConfig(ChannelConfig):
    """MessageMedia settings: API key and secret, the callback URL secret, the channel."""

    apiKey: str
    apiSecret: SecretStr
    webhookSecret: SecretStr
    channel: Literal["facebook"] = "facebook"

    @field_validator("apiKey")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value or ":" in value:
            raise ValueError("must be a non-empty key without ':'")
        return value


class MessageMediaChannel(Channel[MessageMediaConfig]):
    """MessageMedia Conversations (see the module docstring)."""

    name = "messagemedia"
    Config = MessageMediaConfig
    capabilities = frozenset({"text", "image", "custom"})
    default_api_url = MESSAGEMEDIA_URL

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: MessageMediaConfig) -> None:
        """The secret in the callback URL."""
        check_url_secret(req, config.webhookSecret)

    def parse(self, req: InboundRequest, config: MessageMediaConfig) -> ParsedInbound:
        """Every message object found in the callback body."""
        body = req.json
        envelope: dict[str, Any]
        if isinstance(body, list):
            items, envelope = body, {}
        elif isinstance(body, dict):
            listed = body.get("messages", body.get("data"))
            if isinstance(listed, dict):  # the documented listing nests {"messages": {"data"}}
                listed = listed.get("data")
            items, envelope = (listed, body) if isinstance(listed, list) else ([body], {})
        else:
            return bad_request("body must be JSON")
        default_user = first_str(as_dict(envelope.get("metadata")).get("user_id"))
        messages = [
            m
            for item in items
            if isinstance(item, dict)
            if (m := _message(item, default_user, config)) is not None
        ]
        return ParsedInbound(messages)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Bodies without `channel` (added by `send`)."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([{"text": typed.text}])
            case "image":
                image: list[dict[str, Any]] = [{"type": "image", "media": typed.image}]
                return Rendered(image + ([{"text": typed.title}] if typed.title else []))
            case "buttons" | "single-choice" | "card" | "carousel":
                numbered = degrade.numbered(data)
                return Rendered([_choices(numbered)], numbered.options)
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                return Rendered(raw) if raw else degrade.fallback(data, self.name, _text)
            case "typing":
                return Rendered([])
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[MessageMediaConfig], body: dict[str, Any]) -> None:
        """Post one message to the app user."""
        config, context = target.config, target.reply_context
        user = str(context.get("app_user_id") or target.endpoint.thread)
        channel = str(context.get("channel") or config.channel)
        await call(
            target.http,
            "POST",
            f"{self.api_url(config)}/beta/conversations/users/{user}/messages",
            platform=self.name,
            policy=self.retry,
            headers=_auth(config),
            json={**body, "channel": channel},
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: MessageMediaConfig) -> None:
        """List the app users (400 means the account is not provisioned for Conversations)."""
        await probe(
            http,
            "GET",
            f"{self.api_url(config)}/beta/conversations/users",
            platform=self.name,
            policy=self.retry,
            headers=_auth(config),
            fields={400: "apiKey", 401: "apiSecret", 403: "apiKey"},
        )


def _text(text: str) -> dict[str, Any]:
    return {"text": text}


def _auth(config: MessageMediaConfig) -> dict[str, str]:
    pair = f"{config.apiKey}:{config.apiSecret.get_secret_value()}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}", "Accept": "application/json"}


def _choices(numbered: degrade.Numbered) -> dict[str, Any]:
    """The numbered text, with one reply action per option when Messenger can show them."""
    text = numbered.text()
    if not numbered.options or len(numbered.options) > MAX_ACTIONS:
        return {"text": text}
    actions = [
        {"type": "reply", "displayText": label, "responseText": number}
        for number, label in numbered.labels.items()
    ]
    return {"type": "actions", "text": text, "actions": actions}


def _message(
    item: Mapping[str, Any], default_user: str | None, config: MessageMediaConfig
) -> InboundMessage | None:
    metadata = as_dict(item.get("metadata"))
    user = first_str(
        metadata.get("user_id"),
        item.get("user_id"),
        item.get("app_user_id"),
        item.get("appUserId"),
        default_user,
    )
    if not user:
        return None
    channel = str(item.get("channel") or config.channel).lower()
    translated = _payload(item)
    payload = canonical_inbound(translated) if translated else None
    if payload is None:
        return None
    return InboundMessage(
        endpoint=Endpoint(channel, user, user),
        payload=payload,
        platform_message_id=first_str(item.get("id")),
        is_echo=str(item.get("direction") or "").upper() == "SENT",
        reply_context={"app_user_id": user, "channel": channel},
    )


def _payload(item: Mapping[str, Any]) -> dict[str, Any] | None:
    media = first_str(item.get("media"), item.get("media_url"), item.get("url"))
    text = str(item.get("text")) if isinstance(item.get("text"), str) else ""
    if media:
        kind = item.get("type") if item.get("type") in _MEDIA_TYPES else "image"
        attachment = {"type": kind, "url": media}
        if text.strip():
            attachment["title"] = text
        return attachment
    return {"type": "text", "text": text} if text.strip() else None
