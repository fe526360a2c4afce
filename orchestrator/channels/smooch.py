"""Sunshine Conversations (Smooch) API v2, with Botpress Messaging's config keys.

Verification: the webhook's `X-API-Key` header must equal `webhookSecret` (constant-time);
missing: 401, wrong: 403. Answered 200.

Inbound (`events[]` of a v2 webhook): `conversation:message` from a user (text; the text and
`payload` of a reply action as a quick reply; image/file by `mediaUrl`; location) and
`conversation:postback` (a postback action's payload). The business's own messages
(`author.type: business`) are echoes. Mapping as in Botpress: identity `*`, sender =
`author.userId` (`user.id` for postbacks), thread = conversation id.

Outbound (`POST /v2/apps/<appId>/conversations/<id>/messages`, Basic auth `keyId:keySecret`,
author `business`): text; buttons as a text message with `postback` and `link` actions (a
phone button is a `tel:` link); quick replies and single choices as `reply` actions (mixed
with buttons, all become postbacks: Sunshine does not mix reply actions with others); card and
carousel as `carousel` items (10 per message, 3 actions each); image and location natively;
audio, video and files as `file` messages; account linking as a text with a `link` action;
typing through `POST …/activity` (`typing:start`/`typing:stop`). A 429 waits `Retry-After`.

At sync: `GET /v2/apps/<appId>`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import SecretStr

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
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    secrets_equal,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe
from orchestrator.payloads import Card, CardAction

SMOOCH_URL = "https://api.smooch.io"
KEY_HEADER = "X-API-Key"
MAX_TEXT = 4096
MAX_ITEMS = 10
BUSINESS = {"type": "business"}


class SmoochConfig(ChannelConfig):
    """Sunshine Conversations settings (Botpress's keys)."""

    appId: str
    keyId: str
    keySecret: SecretStr
    webhookSecret: SecretStr


class SmoochChannel(Channel[SmoochConfig]):
    """Sunshine Conversations v2 (see the module docstring)."""

    name = "smooch"
    Config = SmoochConfig
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
    default_api_url = SMOOCH_URL

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: SmoochConfig) -> None:
        """`X-API-Key` == webhookSecret."""
        presented = req.headers.get(KEY_HEADER, "")
        if not presented:
            raise VerificationError(401, f"missing {KEY_HEADER}")
        if not secrets_equal(presented, config.webhookSecret):
            raise VerificationError(403, f"wrong {KEY_HEADER}")

    def parse(self, req: InboundRequest, config: SmoochConfig) -> ParsedInbound:
        """Every user message and postback of the webhook's events."""
        body = as_dict(req.json)
        events = body.get("events")
        if not isinstance(events, list):
            return bad_request("events must be a list")
        messages = [m for e in events if (m := _event(as_dict(e))) is not None]
        return ParsedInbound(messages)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """`{"content": …}` message bodies, or `{"activity": "typing:start"}`."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        content: dict[str, Any]
        match typed.type:
            case "text":
                return Rendered([_text(typed.text)])
            case "image":
                content = {"type": "image", "mediaUrl": typed.image}
                return Rendered([{"content": {**content, "text": typed.title} if typed.title else content}])
            case "audio" | "video" | "file":
                url = data[typed.type]
                content = {"type": "file", "mediaUrl": url}
                return Rendered(
                    [{"content": {**content, "altText": typed.title} if typed.title else content}]
                )
            case "location":
                content = {
                    "type": "location",
                    "coordinates": {"lat": typed.latitude, "long": typed.longitude},
                }
                place = {k: v for k, v in (("address", typed.address), ("name", typed.title)) if v}
                return Rendered([{"content": {**content, "location": place} if place else content}])
            case "buttons":
                actions = [
                    _button(
                        b.label, b.type, b.payload.url, b.payload.phone, degrade.button_value(b.to_dict())
                    )
                    for b in typed.buttons
                ]
                replies = [(c.title, c.value) for c in typed.quick_replies or []]
                if actions:
                    actions += [{"type": "postback", "text": t, "payload": v} for t, v in replies]
                else:
                    actions = [{"type": "reply", "text": t, "payload": v} for t, v in replies]
                return Rendered([_text(typed.text, actions)])
            case "single-choice":
                chips = [{"type": "reply", "text": c.title, "payload": c.value} for c in typed.choices]
                return Rendered([_text(typed.text, chips)])
            case "card":
                return Rendered([_carousel([typed])])
            case "carousel":
                items = typed.items
                return Rendered(
                    [_carousel(items[i : i + MAX_ITEMS]) for i in range(0, len(items), MAX_ITEMS)]
                )
            case "account_linking":
                label = typed.params.button_text or "Log in"
                return Rendered([_text(typed.text, [{"type": "link", "text": label, "uri": typed.url}])])
            case "typing":
                return Rendered([{"activity": "typing:start" if typed.value else "typing:stop"}])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered([{"content": r} for r in raw])
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[SmoochConfig], body: dict[str, Any]) -> None:
        """Post one body to the conversation as the business."""
        config = target.config
        conversation = str(target.reply_context.get("conversation") or target.endpoint.thread)
        base = f"{self.api_url(config)}/v2/apps/{config.appId}/conversations/{conversation}"
        if "activity" in body:
            url, json = f"{base}/activity", {"author": BUSINESS, "type": body["activity"]}
        else:
            url, json = f"{base}/messages", {"author": BUSINESS, "content": body["content"]}
        await call(
            target.http, "POST", url, platform=self.name, policy=self.retry, headers=_auth(config), json=json
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: SmoochConfig) -> None:
        """Fetch the app (`getApp`)."""
        await probe(
            http,
            "GET",
            f"{self.api_url(config)}/v2/apps/{config.appId}",
            platform=self.name,
            policy=self.retry,
            headers=_auth(config),
            fields={401: "keySecret", 403: "keySecret", 404: "appId"},
        )


def _auth(config: SmoochConfig) -> dict[str, str]:
    pair = f"{config.keyId}:{config.keySecret.get_secret_value()}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


# ---------------------------------------------------------------- inbound helpers


def _event(event: Mapping[str, Any]) -> InboundMessage | None:
    data = as_dict(event.get("payload"))
    conversation = first_str(as_dict(data.get("conversation")).get("id"))
    if not conversation:
        return None
    kind = event.get("type")
    if kind == "conversation:message":
        message = as_dict(data.get("message"))
        author = as_dict(message.get("author"))
        user = first_str(author.get("userId"), as_dict(author.get("user")).get("id"))
        echo = author.get("type") == "business"
        translated = _content(as_dict(message.get("content")))
        mid = first_str(message.get("id"), event.get("id"))
        name = first_str(author.get("displayName"))
    elif kind == "conversation:postback":
        postback = as_dict(data.get("postback"))
        user = first_str(as_dict(data.get("user")).get("id"))
        echo = False
        translated = {
            "type": "postback",
            "payload": postback.get("payload"),
            "text": postback.get("actionText"),
        }
        mid, name = first_str(event.get("id")), None
    else:
        return None  # conversation:read, typing, delivery events…
    if not translated or not (user or echo):
        return None
    payload = canonical_inbound(translated)
    if payload is None:
        return None
    return InboundMessage(
        endpoint=Endpoint("*", user or "*", conversation),
        payload=payload,
        platform_message_id=mid,
        is_echo=echo,
        reply_context={"conversation": conversation},
        sender_name=name,
    )


def _content(content: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = content.get("type")
    text = str(content.get("text")) if isinstance(content.get("text"), str) else ""
    if kind == "text":
        if content.get("payload"):
            return {"type": "quick_reply", "payload": content["payload"], "text": text or None}
        return {"type": "text", "text": text} if text.strip() else None
    if kind in ("image", "file") and first_str(content.get("mediaUrl")):
        media = str(content.get("mediaType") or "").split("/")[0]
        kind = media if media in ("image", "audio", "video") else kind
        return {"type": kind, "url": content["mediaUrl"], "title": text or None}
    if kind == "location":
        coordinates = as_dict(content.get("coordinates"))
        place = as_dict(content.get("location"))
        return {
            "type": "location",
            "latitude": coordinates.get("lat"),
            "longitude": coordinates.get("long"),
            "address": place.get("address"),
            "title": place.get("name"),
        }
    return None


# ---------------------------------------------------------------- outbound helpers


def _text(text: str, actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"type": "text", "text": text[:MAX_TEXT]}
    if actions:
        content["actions"] = actions
    return {"content": content}


def _button(label: str, kind: str, url: str | None, phone: str | None, value: str) -> dict[str, Any]:
    if kind == "link" and url:
        return {"type": "link", "text": label, "uri": url}
    if kind == "phone" and phone:
        return {"type": "link", "text": label, "uri": f"tel:{phone}"}
    return {"type": "postback", "text": label, "payload": value}


def _card_action(action: CardAction) -> dict[str, Any]:
    if action.action == "Open URL" and action.url:
        return {"type": "link", "text": action.title, "uri": action.url}
    value = (
        (action.text or action.title)
        if action.action == "Say something"
        else (action.payload or action.title)
    )
    return {"type": "postback", "text": action.title, "payload": value}


def _carousel(cards: list[Card]) -> dict[str, Any]:
    items = []
    for card in cards:
        item: dict[str, Any] = {"title": card.title[:128]}
        if card.subtitle:
            item["description"] = card.subtitle[:128]
        if card.image:
            item["mediaUrl"] = card.image
        actions = [_card_action(a) for a in card.actions][:3]
        if actions:
            item["actions"] = actions
        items.append(item)
    return {"content": {"type": "carousel", "items": items}}
