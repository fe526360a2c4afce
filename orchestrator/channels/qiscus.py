"""Qiscus: the Chat SDK server API, and the Multichannel (Omnichannel) bot integration.

One channel, `qiscus`, with an explicit `mode` in its config (an explicit field rather than
"multichannel if its keys are present", so that a typo cannot silently switch APIs):

- `mode: "sdk"` (default): replies go to `POST /api/v2.1/rest/post_comment` as `botUserId`,
  with the app id and secret headers in both spellings (`QISCUS-SDK-APP-ID`/`QISCUS-SDK-SECRET`
  of v2.1 and the underscore form of v2 and most clients). Base URL `https://api.qiscus.com`.
- `mode: "multichannel"`: replies go to `POST /{appId}/bot` (`appId` is the app code) as
  `senderEmail` (default `<appId>_admin@qismo.com`), with `QISCUS_SDK_SECRET` and the
  `Qiscus-App-Id`/`Qiscus-Secret-Key` pair. Hand-off: `allocate_assign_agent` (or
  `assign_agent` when the request names an `agent_id`), then `/bot/{room}/activate` with
  `is_active=false`; `release` re-activates the bot; `resolve` calls `mark_as_resolved`.
  Base URL `https://omnichannel.qiscus.com`.

Verification: the `QISCUS-SDK-SIGNATURE` header, hex HMAC-SHA256 of the raw body keyed with
`signatureToken` (compared case-insensitively, the case is undocumented). The Multichannel bot
webhook is not signed, so `webhookSecret` (a secret in the webhook URL, see
`base.check_url_secret`) covers it; at least one of the two must be configured.

Inbound mapping: identity = `appId`, sender = `from.email` (the SDK user id; the customer's
phone or email in Multichannel), thread = `room.id`. reply_context: `room_id`, plus
`channel_id` and `source` in Multichannel. Message ids: `message.id`, or `unique_temp_id` when
the id is 0 (Multichannel traffic). Echo: the sender is the bot (`botUserId`/`senderEmail`);
a `post_comment_rest` comment by another user is kept (another backend may post as a user).
`button_postback_response` comments become postbacks with the button's `payload.payload`.
Multichannel desk events: the "mark as resolved" webhook becomes `closed` (sender: the
customer); `system_event` comments `add_member` / `remove_member` (assigning an agent adds them
to the room [assumed: the bot webhook's delivery of system comments is undocumented]) become
`agent_joined` / `agent_released`, with sender `"*"` (the system user posts them).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
import orjson
from pydantic import SecretStr, field_validator, model_validator
from yarl import URL

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    Endpoint,
    HandoffNotSupported,
    InboundMessage,
    InboundRequest,
    ParsedInbound,
    Rendered,
    Target,
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    check_url_secret,
    first_str,
    hmac_sha256_hex,
    secrets_equal,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe
from orchestrator.payloads import Button, Card, CardAction

SDK_URL = "https://api.qiscus.com"
MULTICHANNEL_URL = "https://omnichannel.qiscus.com"
SIGNATURE_HEADER = "QISCUS-SDK-SIGNATURE"

_IMAGE = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}
_VIDEO = {".mp4", ".mov", ".webm", ".mkv", ".3gp"}
_AUDIO = {".mp3", ".m4a", ".ogg", ".oga", ".wav", ".aac", ".opus"}


class QiscusConfig(ChannelConfig):
    """Qiscus settings. `appId` is the SDK app id (the app code in Multichannel)."""

    mode: Literal["sdk", "multichannel"] = "sdk"
    appId: str
    secretKey: SecretStr
    botUserId: str | None = None  # sdk: the SDK user the bot posts as (required)
    senderEmail: str | None = None  # multichannel: default "<appId>_admin@qismo.com"
    signatureToken: SecretStr | None = None
    webhookSecret: SecretStr | None = None

    @field_validator("appId")
    @classmethod
    def _app_id(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("must be letters, digits, '-' or '_'")
        return value

    @field_validator("senderEmail")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("must be the bot's sender email (user@domain)")
        return value

    @model_validator(mode="after")
    def _mode_keys(self) -> QiscusConfig:
        if self.mode == "sdk" and not self.botUserId:
            raise ValueError("botUserId is required in sdk mode")
        if self.signatureToken is None and self.webhookSecret is None:
            raise ValueError("set signatureToken or webhookSecret: webhooks must be verifiable")
        return self

    @property
    def sender(self) -> str:
        """The id the bot posts as, and whose comments are echoes."""
        if self.mode == "sdk":
            return self.botUserId or ""
        return self.senderEmail or f"{self.appId}_admin@qismo.com"


class QiscusChannel(Channel[QiscusConfig]):
    """Qiscus SDK and Multichannel (see the module docstring)."""

    name = "qiscus"
    Config = QiscusConfig
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
            "custom",
        }
    )
    default_api_url = SDK_URL

    def api_url(self, config: QiscusConfig) -> str:
        """`apiUrl`, else the public URL of the configured mode."""
        default = MULTICHANNEL_URL if config.mode == "multichannel" else SDK_URL
        return config.apiUrl or default

    def supports_handoff(self, config: QiscusConfig) -> bool:
        """Hand-off exists in Multichannel mode only."""
        return config.mode == "multichannel"

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: QiscusConfig) -> None:
        """HMAC signature when the header is there and a token is set, else the URL secret."""
        signature = req.headers.get(SIGNATURE_HEADER)
        if config.signatureToken is not None and signature is not None:
            expected = hmac_sha256_hex(config.signatureToken, req.body)
            if not secrets_equal(signature.strip().lower(), expected):
                raise VerificationError(403, f"{SIGNATURE_HEADER} does not match the body")
            return
        if config.webhookSecret is not None:
            check_url_secret(req, config.webhookSecret)
            return
        raise VerificationError(401, f"missing {SIGNATURE_HEADER}")

    def parse(self, req: InboundRequest, config: QiscusConfig) -> ParsedInbound:
        """Comments (SDK and Multichannel envelopes) and the Multichannel resolved webhook."""
        body = req.json
        if not isinstance(body, dict):
            return bad_request("body must be a JSON object")
        if isinstance(body.get("service"), dict) and "resolved_by" in body:
            return ParsedInbound([self._resolved(body, config)])
        if body.get("webhook_type") == "NEW_SESSION_WEBHOOK":
            return ParsedInbound()  # the comment itself comes through the bot webhook
        inner = body.get("payload")
        if not isinstance(inner, dict) or not isinstance(inner.get("message"), dict):
            return ParsedInbound()
        message = self._parse_comment(body, inner, config)
        return ParsedInbound([message] if message else [])

    def _parse_comment(
        self, body: dict[str, Any], inner: dict[str, Any], config: QiscusConfig
    ) -> InboundMessage | None:
        sender = as_dict(inner.get("from"))
        room = as_dict(inner.get("room"))
        message = inner["message"]
        sender_id = first_str(sender.get("email"), sender.get("id_str"), sender.get("id"))
        room_id = first_str(room.get("id_str"), room.get("id"))
        if not sender_id or not room_id:
            return None
        is_echo = sender_id == config.sender
        translated = _inbound_payload(message, config, is_echo)
        payload = canonical_inbound(translated) if translated else None
        if payload is None:
            return None
        if payload["type"] == "event":
            sender_id = "*"  # posted by the system user, not by the room's customer
        context: dict[str, Any] = {"room_id": room_id}
        channel = body.get("channel")
        if isinstance(channel, dict) and channel.get("id") is not None:
            context["channel_id"] = str(channel["id"])
        source = _room_options(room).get("source") or as_dict(channel).get("source")
        if source:
            context["source"] = source
        message_id = first_str(message.get("id_str"), message.get("id"))
        if message_id in (None, "0"):
            message_id = first_str(message.get("unique_temp_id"))
        return InboundMessage(
            endpoint=Endpoint(config.appId, sender_id, room_id),
            payload=payload,
            platform_message_id=message_id,
            is_echo=is_echo,
            reply_context=context,
            sender_name=first_str(sender.get("name"), sender.get("username")),
        )

    def _resolved(self, body: dict[str, Any], config: QiscusConfig) -> InboundMessage:
        service = body["service"]
        customer = as_dict(body.get("customer"))
        resolved_by = as_dict(body.get("resolved_by"))
        room_id = first_str(service.get("room_id")) or "*"
        data = {
            "resolved_by": first_str(resolved_by.get("email"), resolved_by.get("name")),
            "notes": service.get("notes"),
        }
        service_id = first_str(service.get("id"))
        return InboundMessage(
            endpoint=Endpoint(config.appId, first_str(customer.get("user_id")) or "*", room_id),
            payload={"type": "event", "event": "closed", "data": {k: v for k, v in data.items() if v}},
            platform_message_id=f"resolved:{service_id}" if service_id else None,
            reply_context={"room_id": room_id},
            sender_name=first_str(customer.get("name")),
        )

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Comment bodies `{type, message, payload?}` for post_comment or the bot endpoint."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([_body("text", typed.text)])
            case "image" | "audio" | "video" | "file":
                url = data[typed.type]
                name = posixpath.basename(URL(url).path) or url
                caption = data.get("title") or ""
                return Rendered(
                    [
                        _body(
                            "file_attachment",
                            caption or url,
                            {"url": url, "caption": caption, "file_name": name},
                        )
                    ]
                )
            case "location":
                return Rendered(
                    [
                        _body(
                            "location",
                            degrade.as_text(data),
                            {
                                "name": typed.title or typed.address or "Location",
                                "address": typed.address or "",
                                "latitude": typed.latitude,
                                "longitude": typed.longitude,
                                "map_url": degrade.map_url(typed.latitude, typed.longitude),
                            },
                        )
                    ]
                )
            case "buttons":
                buttons = [_button(b) for b in typed.buttons]
                buttons += [_postback(c.title, c.value) for c in typed.quick_replies or []]
                return Rendered([_body("buttons", typed.text, {"text": typed.text, "buttons": buttons})])
            case "single-choice":
                buttons = [_postback(c.title, c.value) for c in typed.choices]
                return Rendered([_body("buttons", typed.text, {"text": typed.text, "buttons": buttons})])
            case "card":
                return Rendered([_body("card", typed.title, _card(typed))])
            case "carousel":
                cards = [_card(c) for c in typed.items]
                title = typed.items[0].title if typed.items else "carousel"
                return Rendered([_body("carousel", title, {"cards": cards})])
            case "account_linking":
                return Rendered([_body("account_linking", typed.text, _without_type(data))])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                return Rendered(raw) if raw else degrade.fallback(data, self.name, _text)
            case "typing":
                return Rendered([])  # the REST API has no typing indicator (it is realtime-only)
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[QiscusConfig], body: dict[str, Any]) -> None:
        """Post one comment into the room, as the bot."""
        config = target.config
        room_id = _room(target)
        if config.mode == "multichannel":
            url = f"{self.api_url(config)}/{config.appId}/bot"
            headers = _bot_headers(config)
            address = {"sender_email": config.sender, "room_id": room_id}
        else:
            url = f"{self.api_url(config)}/api/v2.1/rest/post_comment"
            headers = _sdk_headers(config)
            address = {"user_id": config.sender, "room_id": room_id}
        await call(
            target.http,
            "POST",
            url,
            platform=self.name,
            policy=self.retry,
            headers=headers,
            json={**body, **address},
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: QiscusConfig) -> None:
        """sdk: the bot user's profile; multichannel: the first page of agents."""
        base = self.api_url(config)
        if config.mode == "multichannel":
            await probe(
                http,
                "GET",
                f"{base}/api/v2/admin/agents",
                platform=self.name,
                policy=self.retry,
                headers=_admin_headers(config),
                params={"limit": "1"},
                fields={401: "secretKey", 403: "secretKey", 404: "appId"},
            )
            return
        await probe(
            http,
            "GET",
            f"{base}/api/v2.1/rest/user_profile",
            platform=self.name,
            policy=self.retry,
            headers=_sdk_headers(config),
            params={"user_id": config.sender},
            fields={401: "secretKey", 403: "secretKey", 404: "botUserId"},
        )

    # ------------------------------------------------------------ hand-off (Multichannel)

    async def handoff(self, target: Target[QiscusConfig], request: Mapping[str, Any]) -> None:
        """Assign an agent, then deactivate the bot for the room.

        `request` keys (all optional): `agent_id` (assign that agent, else let Qiscus pick),
        `replace_latest_agent`, `max_agent`, `ignore_agent_availability`.
        """
        http, config, context = target.http, target.config, target.reply_context
        self._multichannel_only(config)
        room_id = _room(target)
        form = {"room_id": room_id}
        if request.get("agent_id") is not None:
            path = "/api/v1/admin/service/assign_agent"
            form["agent_id"] = str(request["agent_id"])
            _copy_form(request, form, "replace_latest_agent", "max_agent")
        else:
            path = "/api/v1/admin/service/allocate_assign_agent"
            if context.get("channel_id") is not None:
                form["channel_id"] = str(context["channel_id"])
            _copy_form(request, form, "ignore_agent_availability")
        await self._admin(http, config, path, form)
        await self._activate(http, config, room_id, active=False)

    async def release(self, target: Target[QiscusConfig]) -> None:
        """Re-activate the bot for the room."""
        self._multichannel_only(target.config)
        await self._activate(target.http, target.config, _room(target), active=True)

    async def resolve(self, target: Target[QiscusConfig], request: Mapping[str, Any] | None = None) -> None:
        """Mark the room's service resolved (`request`: optional `notes`, `last_comment_id`)."""
        self._multichannel_only(target.config)
        form = {"room_id": _room(target)}
        _copy_form(request or {}, form, "notes", "last_comment_id")
        await self._admin(target.http, target.config, "/api/v1/admin/service/mark_as_resolved", form)

    def _multichannel_only(self, config: QiscusConfig) -> None:
        if config.mode != "multichannel":
            raise HandoffNotSupported("qiscus hand-off needs mode: multichannel")

    async def _activate(
        self, http: aiohttp.ClientSession, config: QiscusConfig, room_id: str, *, active: bool
    ) -> None:
        await self._admin(
            http, config, f"/bot/{room_id}/activate", {"is_active": "true" if active else "false"}
        )

    async def _admin(
        self, http: aiohttp.ClientSession, config: QiscusConfig, path: str, form: dict[str, str]
    ) -> None:
        await call(
            http,
            "POST",
            f"{self.api_url(config)}{path}",
            platform=self.name,
            policy=self.retry,
            headers=_admin_headers(config),
            form=form,
        )


# ---------------------------------------------------------------- inbound helpers


def _room_options(room: Mapping[str, Any]) -> dict[str, Any]:
    """`room.options`, a JSON string in current Multichannel traffic and an object in old docs."""
    options = room.get("options")
    if isinstance(options, str) and options:
        try:
            options = orjson.loads(options)
        except orjson.JSONDecodeError:
            return {}
    return options if isinstance(options, dict) else {}


def _inbound_payload(
    message: Mapping[str, Any], config: QiscusConfig, is_echo: bool
) -> dict[str, Any] | None:
    """The canonical payload of a comment, or None for comments that carry nothing for us."""
    kind = message.get("type") or "text"
    text = message.get("text") or ""
    inner = as_dict(message.get("payload"))
    if kind == "button_postback_response":
        value = inner.get("payload")
        return {
            "type": "postback",
            "payload": value if isinstance(value, str) and value else text,
            "text": text or None,
        }
    if kind == "file_attachment" and inner.get("url"):
        attachment = {"type": _media_type(inner["url"]), "url": inner["url"]}
        if inner.get("caption"):
            attachment["title"] = inner["caption"]
        return attachment
    if kind == "location":
        try:
            lat, lng = float(inner["latitude"]), float(inner["longitude"])
        except (KeyError, TypeError, ValueError):
            return {"type": "text", "text": text} if text else None
        location = {
            "type": "location",
            "latitude": lat,
            "longitude": lng,
            "address": inner.get("address"),
            "title": inner.get("name"),
        }
        return {k: v for k, v in location.items() if v is not None}
    if kind == "system_event":
        return _system_event(inner, config) if not is_echo else None
    return {"type": "text", "text": text} if text else None


def _system_event(inner: Mapping[str, Any], config: QiscusConfig) -> dict[str, Any] | None:
    """Members joining or leaving a Multichannel room: an agent taking or leaving it."""
    if config.mode != "multichannel":
        return None
    # Assigning an agent adds them to the customer's room; a customer never is "added".
    event = {"add_member": "agent_joined", "remove_member": "agent_released"}.get(str(inner.get("type")))
    if event is None:
        return None
    agent = first_str(inner.get("object_email"))
    if agent is None or agent == config.sender:
        return None  # the bot itself joining or leaving is not an agent event
    name = first_str(inner.get("object_username"))
    data = {k: v for k, v in {"agent": agent, "name": name}.items() if v}
    return {"type": "event", "event": event, "data": data}


def _media_type(url: str) -> str:
    ext = posixpath.splitext(URL(url).path)[1].lower()
    if ext in _IMAGE:
        return "image"
    if ext in _VIDEO:
        return "video"
    if ext in _AUDIO:
        return "audio"
    return "file"


# ---------------------------------------------------------------- outbound helpers


def _body(kind: str, message: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "message": message[:4000]}
    if payload is not None:
        body["payload"] = payload
    return body


def _text(text: str) -> dict[str, Any]:
    return _body("text", text)


def _room(target: Target[QiscusConfig]) -> str:
    """The room of a conversation: the reply context's, else the endpoint's thread."""
    return str(target.reply_context.get("room_id") or target.endpoint.thread)


def _without_type(data: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical payload's fields without its `type` (already Qiscus-shaped ones)."""
    return {k: v for k, v in data.items() if k != "type"}


def _postback(label: str, value: str, postback_text: str | None = None) -> dict[str, Any]:
    return {
        "label": label,
        "type": "postback",
        "postback_text": postback_text or label,
        "payload": {"url": "", "method": "get", "payload": value},
    }


def _link(label: str, url: str) -> dict[str, Any]:
    return {"label": label, "type": "link", "payload": {"url": url}}


def _button(button: Button) -> dict[str, Any]:
    if button.type == "link" and button.payload.url:
        return _link(button.label, button.payload.url)
    if button.type == "phone" and button.payload.phone:
        return _link(button.label, f"tel:{button.payload.phone}")
    value = degrade.button_value(button.to_dict())
    postback = _postback(button.label, value, button.postback_text)
    if button.payload.url:
        postback["payload"]["url"] = button.payload.url
    if button.payload.method:
        postback["payload"]["method"] = button.payload.method
    return postback


def _card_button(action: CardAction) -> dict[str, Any]:
    if action.action == "Open URL" and action.url:
        return _link(action.title, action.url)
    if action.action == "Say something":
        return _postback(action.title, action.text or action.title, action.text)
    return _postback(action.title, action.payload or action.title)


def _card(card: Card) -> dict[str, Any]:
    links = [a.url for a in card.actions if a.action == "Open URL" and a.url]
    out: dict[str, Any] = {
        "text": card.subtitle or card.title,
        "title": card.title,
        "description": card.subtitle or "",
        "buttons": [_card_button(a) for a in card.actions],
    }
    if card.image:
        out["image"] = card.image
    if links:
        out["url"] = links[0]
    return out


def _sdk_headers(config: QiscusConfig) -> dict[str, str]:
    secret = config.secretKey.get_secret_value()
    # Both spellings: v2.1 documents hyphens, v2 and most clients use underscores, and a
    # proxy may drop either form (nginx drops underscore headers by default).
    return {
        "QISCUS-SDK-APP-ID": config.appId,
        "QISCUS-SDK-SECRET": secret,
        "QISCUS_SDK_APP_ID": config.appId,
        "QISCUS_SDK_SECRET": secret,
    }


def _bot_headers(config: QiscusConfig) -> dict[str, str]:
    return {"QISCUS_SDK_SECRET": config.secretKey.get_secret_value(), **_admin_headers(config)}


def _admin_headers(config: QiscusConfig) -> dict[str, str]:
    return {"Qiscus-App-Id": config.appId, "Qiscus-Secret-Key": config.secretKey.get_secret_value()}


def _copy_form(source: Mapping[str, Any], form: dict[str, str], *keys: str) -> None:
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        form[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
