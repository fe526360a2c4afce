"""Tiledesk: the external bot protocol, resthook subscriptions, and the desk's hand-off.

Inbound, two doors share one webhook URL:
- the external bot notification `{timestamp, payload: message+request, hook: bot, token}`,
  verified by its `token`: an HS256 JWT signed with the bot's secret (`botSecret`) whose `aud`
  is `https://tiledesk.com/bots/<botId>` and `sub` is `bot`;
- resthook subscriptions (`message.create…`, `request.close`), verified by the `x-hook-secret`
  header equal to `subscriptionSecret` (constant time). A body-less call carrying the header
  is answered as a REST Hooks handshake, echoing `x-hook-secret`.
Both must concern `projectId`, else 403. Tiledesk is answered at once with 200
`{"success":true}`; replies go through its REST API.

Mapping: identity = `botId`, sender = the request's lead (`request.lead.lead_id`, else the
message sender: one conversation per request even when agents or the system speak), thread =
`request.request_id`. reply_context: `project_id`, `request_id`. Message id: `payload._id`.
Echo: sender `<botId>` or `bot_<botId>`. Agents' messages while the bot is in the request
carry `from_agent`. Button clicks: `attributes.action` (also when hidden with subtype `info`)
becomes a postback with that action. The widget's hidden `\\start` becomes the event
`conversation_started`. Desk events, from `info`/`info/support` messages with a
`messagelabel` (Tiledesk and Chat21 put them in the support group): `MEMBER_JOINED_GROUP` of a
member who is neither a bot, the system nor the lead → `agent_joined`, `MEMBER_LEFT_GROUP` →
`agent_released`, `CHAT_CLOSED` → `closed`; the resthook `request.close` → `closed`. Other
info messages are dropped (the loop guard the Tiledesk connectors use). A project-wide
subscription sees every conversation: through it, messages count only in requests where the
bot is a participant (desk events always count; the service ignores those of conversations it
does not know). The same message arriving by both doors has the same id (dedupe).

Outbound: `POST /{project_id}/requests/{request_id}/messages` with `Authorization: JWT <t>`,
where `<t>` is minted per call with `botSecret` exactly as Tiledesk mints bot tokens
(`_id`, `sub: bot`, `aud: …/bots/<botId>`), so no token is ever stored. Buttons are
`attributes.attachment` templates (`action` buttons for postbacks and quick replies, `url`
buttons for links, `text` buttons for "say something"), cards and carousels are galleries,
account linking is a `url` button; locations are degraded to text with a map link.

Hand-off (`request.method`): `"route"` (default) calls `PUT …/requests/{id}/agent`;
`"message"` sends `\\agent` (after `request.text` if given, else hidden as `info`).
`release` re-adds `bot_<botId>` as a participant; `resolve` calls `PUT …/requests/{id}/close`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
import jwt
from pydantic import SecretStr, field_validator

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    Channel,
    ChannelConfig,
    Endpoint,
    ImmediateResponse,
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
    jwt_encode,
    secrets_equal,
    validate_outbound,
)
from orchestrator.channels.replay import ReplayGuard
from orchestrator.channels.sender import call, probe
from orchestrator.payloads import Button, Card, CardAction

TILEDESK_URL = "https://api.tiledesk.com/v3"
BOT_AUDIENCE = "https://tiledesk.com/bots/"
ISSUER = "https://tiledesk.com"
HOOK_SECRET = "x-hook-secret"
ACK = ImmediateResponse(200, b'{"success":true}')
TOKEN_TTL = 600  # seconds; a minted token serves one call

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_DESK_EVENTS = {"MEMBER_JOINED_GROUP": "agent_joined", "MEMBER_LEFT_GROUP": "agent_released"}


class TiledeskConfig(ChannelConfig):
    """Tiledesk settings: the project, the external bot and its secret, an optional resthook
    subscription secret, and the name replies are signed with."""

    projectId: str
    botId: str
    botSecret: SecretStr
    subscriptionSecret: SecretStr | None = None
    botName: str | None = None

    @field_validator("projectId", "botId")
    @classmethod
    def _object_id(cls, value: str) -> str:
        if not _OBJECT_ID.match(value):
            raise ValueError("must be a 24-character hexadecimal id")
        return value


# What `render_message` draws natively (Chat21 renders through it too).
CAPABILITIES = frozenset(
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
        "custom",
    }
)


class TiledeskChannel(Channel[TiledeskConfig]):
    """Tiledesk external bot (see the module docstring)."""

    name = "tiledesk"
    Config = TiledeskConfig
    capabilities = CAPABILITIES
    default_api_url = TILEDESK_URL

    def __init__(self, retry: RetryPolicy | None = None, replay: ReplayGuard | None = None) -> None:
        super().__init__(retry)
        self._replay = replay or ReplayGuard()

    def supports_handoff(self, config: TiledeskConfig) -> bool:
        """Tiledesk is a desk: always."""
        return True

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: TiledeskConfig) -> None:
        """`x-hook-secret` for subscriptions, else the bot `token` JWT; then the project."""
        body = req.json if isinstance(req.json, dict) else {}
        hook_secret = req.headers.get(HOOK_SECRET)
        if hook_secret is not None:
            if config.subscriptionSecret is None:
                raise VerificationError(403, "no subscriptionSecret configured")
            if not secrets_equal(hook_secret, config.subscriptionSecret):
                raise VerificationError(403, f"wrong {HOOK_SECRET}")
        else:
            token = body.get("token")
            if not isinstance(token, str) or not token:
                raise VerificationError(401, "missing token")
            try:
                claims = jwt_decode(token, config.botSecret, audience=f"{BOT_AUDIENCE}{config.botId}")
            except jwt.InvalidTokenError as exc:
                raise VerificationError(403, f"invalid token: {exc}") from exc
            if claims.get("sub") != "bot":
                raise VerificationError(403, "token subject is not bot")
            message_id = str(as_dict(body.get("payload")).get("_id") or "")
            self._replay.check(claims.get("iat"), claims.get("jti"), message_id)
        payload = body.get("payload")
        if isinstance(payload, dict):
            project = first_str(payload.get("id_project"), as_dict(payload.get("request")).get("id_project"))
            if project and project != config.projectId:
                raise VerificationError(403, "event of another project")

    def parse(self, req: InboundRequest, config: TiledeskConfig) -> ParsedInbound:
        """Messages and desk events; the answer is always an immediate 200."""
        body = req.json
        hook_secret = req.headers.get(HOOK_SECRET)
        if hook_secret is not None and not (isinstance(body, dict) and body.get("payload")):
            return ParsedInbound(response=ImmediateResponse(headers={HOOK_SECRET: hook_secret}))
        if not isinstance(body, dict):
            return bad_request("body must be a JSON object")
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return ParsedInbound(response=ACK)
        event = str(as_dict(body.get("hook")).get("event") or "message.create")
        if event.startswith("request.close"):
            return ParsedInbound([_closed_request(payload, config)], ACK)
        if not event.startswith("message.create"):
            return ParsedInbound(response=ACK)
        via_hook = req.headers.get(HOOK_SECRET) is not None
        message = _message(payload, config, via_hook=via_hook)
        return ParsedInbound([message] if message else [], ACK)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Tiledesk message bodies `{type, text, attributes?, metadata?}`."""
        return render_message(payload, self.name)

    async def post(self, target: Target[TiledeskConfig], body: dict[str, Any]) -> None:
        """Post one message into the request, as the bot."""
        config = target.config
        if config.botName:
            body = {"senderFullname": config.botName, **body}
        await call(
            target.http,
            "POST",
            f"{self._request_url(config, target.endpoint, target.reply_context)}/messages",
            platform=self.name,
            policy=self.retry,
            headers=self._auth(config),
            json=body,
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: TiledeskConfig) -> None:
        """Read the bot with a token minted from `botSecret`."""
        url = f"{self.api_url(config)}/{config.projectId}/bots/{config.botId}"
        await probe(
            http,
            "GET",
            url,
            platform=self.name,
            policy=self.retry,
            headers=self._auth(config),
            fields={401: "botSecret", 403: "projectId", 404: "botId"},
        )

    # ------------------------------------------------------------ hand-off

    async def handoff(self, target: Target[TiledeskConfig], request: Mapping[str, Any]) -> None:
        """Route the request to an agent: the agent route, or the `\\agent` message."""
        if request.get("method") == "message":
            text = str(request.get("text") or "").strip()
            body: dict[str, Any] = {"type": "text", "text": f"{text} \\agent".strip()}
            if not text:
                body["attributes"] = {"subtype": "info"}
            await self.send(target, [body])
            return
        await self._request_call(target, "PUT", "/agent")

    async def release(self, target: Target[TiledeskConfig]) -> None:
        """Put the bot back into the request."""
        await self._request_call(target, "POST", "/participants", {"member": f"bot_{target.config.botId}"})

    async def resolve(self, target: Target[TiledeskConfig], request: Mapping[str, Any] | None = None) -> None:
        """Close the request."""
        await self._request_call(target, "PUT", "/close")

    # ------------------------------------------------------------ helpers

    def _request_url(
        self, config: TiledeskConfig, endpoint: Endpoint, reply_context: Mapping[str, Any]
    ) -> str:
        project = reply_context.get("project_id") or config.projectId
        request_id = reply_context.get("request_id") or endpoint.thread
        return f"{self.api_url(config)}/{project}/requests/{request_id}"

    async def _request_call(
        self, target: Target[TiledeskConfig], method: str, path: str, json: Any = None
    ) -> None:
        """One call on the conversation's request (`…/requests/<id><path>`)."""
        base = self._request_url(target.config, target.endpoint, target.reply_context)
        await call(
            target.http,
            method,
            f"{base}{path}",
            platform=self.name,
            policy=self.retry,
            headers=self._auth(target.config),
            json=json,
        )

    def _auth(self, config: TiledeskConfig) -> dict[str, str]:
        return {"Authorization": f"JWT {bot_token(config)}"}


def bot_token(config: TiledeskConfig, now: float | None = None) -> str:
    """A bot JWT as Tiledesk mints them (its passport finds the bot by `_id`, the key by
    `aud`), with a short expiry since we mint one per call."""
    issued = int(now if now is not None else time.time())
    claims = {
        "_id": config.botId,
        "id_project": config.projectId,
        "name": config.botName or "bot",
        "iss": ISSUER,
        "sub": "bot",
        "aud": f"{BOT_AUDIENCE}{config.botId}",
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + TOKEN_TTL,
    }
    return jwt_encode(claims, config.botSecret)


# ---------------------------------------------------------------- inbound translation


def _message(payload: Mapping[str, Any], config: TiledeskConfig, *, via_hook: bool) -> InboundMessage | None:
    request = as_dict(payload.get("request"))
    request_id = first_str(request.get("request_id"), payload.get("recipient"))
    sender = first_str(payload.get("sender")) or ""
    if not request_id:
        return None
    lead = _lead(request)
    is_echo = sender in (config.botId, f"bot_{config.botId}")
    translated = canonical_payload(payload, lead or sender, is_echo)
    canonical = canonical_inbound(translated) if translated else None
    if canonical is None:
        return None
    # A project-wide subscription sees every conversation: messages of requests the bot is not
    # in are kept only for conversations the service already has (the agent phase of a
    # hand-off), and never answered.
    bot_absent = via_hook and canonical["type"] != "event" and not _bot_in(request, config)
    agents = request.get("participantsAgents")
    agents = agents if isinstance(agents, list) else []
    project = first_str(payload.get("id_project"), request.get("id_project")) or config.projectId
    return InboundMessage(
        endpoint=Endpoint(config.botId, lead or sender or "*", request_id),
        payload=canonical,
        platform_message_id=first_str(payload.get("_id")),
        is_echo=is_echo,
        reply_context={"project_id": project, "request_id": request_id},
        sender_name=first_str(payload.get("senderFullname")),
        from_agent=not is_echo and sender != lead and sender in agents,
        bot_absent=bot_absent,
    )


def canonical_payload(
    message: Mapping[str, Any], lead: str | None, is_echo: bool, *, members: bool = True
) -> dict[str, Any] | None:
    """The canonical payload of a Tiledesk (or Chat21) message, None when it carries nothing.

    `members=False` ignores member join/leave labels (Chat21 groups, where the lead is unknown
    and any member may be the user)."""
    attributes = as_dict(message.get("attributes"))
    text = str(message.get("text")) if isinstance(message.get("text"), str) else ""
    action = attributes.get("action")
    if isinstance(action, str) and action and not is_echo:
        return {"type": "postback", "payload": action, "text": text.strip() or None}
    if text.strip() in ("\\start", "/start"):
        return {"type": "event", "event": "conversation_started", "data": {}}
    if str(attributes.get("subtype") or "").startswith("info"):
        return desk_event(attributes, lead, members=members)
    if message.get("sender") == "system":
        return None
    metadata = as_dict(message.get("metadata"))
    kind = message.get("type")
    if kind in ("image", "file", "video", "audio") and metadata.get("src"):
        attachment = {"type": kind, "url": metadata["src"]}
        title = metadata.get("name") or text.strip()
        if title:
            attachment["title"] = title
        return attachment
    return {"type": "text", "text": text} if text.strip() else None


def desk_event(
    attributes: Mapping[str, Any], lead: str | None, *, members: bool = True
) -> dict[str, Any] | None:
    """An `info` message's `messagelabel` as a canonical desk event, or None."""
    label = as_dict(attributes.get("messagelabel"))
    key = label.get("key")
    if key == "CHAT_CLOSED":
        return {"type": "event", "event": "closed", "data": {}}
    if key not in _DESK_EVENTS or not members:
        return None
    parameters = as_dict(label.get("parameters"))
    member = first_str(parameters.get("member_id"))
    if not member or member == lead or member == "system" or member.startswith("bot_"):
        return None
    data = {"agent": member}
    if parameters.get("fullname"):
        data["name"] = parameters["fullname"]
    return {"type": "event", "event": _DESK_EVENTS[key], "data": data}


def _bot_in(request: Mapping[str, Any], config: TiledeskConfig) -> bool:
    participants = request.get("participants")
    return isinstance(participants, list) and f"bot_{config.botId}" in participants


def _lead(request: Mapping[str, Any]) -> str | None:
    """The request's end user: the lead, else the requester."""
    return first_str(
        as_dict(request.get("lead")).get("lead_id"), as_dict(request.get("requester")).get("uuid_user")
    )


def _closed_request(request: Mapping[str, Any], config: TiledeskConfig) -> InboundMessage:
    request_id = first_str(request.get("request_id")) or "*"
    lead = _lead(request) or "*"
    data = {"closed_by": request["closed_by"]} if request.get("closed_by") else {}
    project = first_str(request.get("id_project")) or config.projectId
    return InboundMessage(
        endpoint=Endpoint(config.botId, lead, request_id),
        payload={"type": "event", "event": "closed", "data": data},
        platform_message_id=f"close:{request_id}",
        reply_context={"project_id": project, "request_id": request_id},
    )


# ---------------------------------------------------------------- outbound translation


def render_message(payload: Mapping[str, Any], channel: str) -> Rendered:
    """A canonical payload as Tiledesk/Chat21 message fields `{type, text, attributes?,
    metadata?}` (Chat21 passes `attributes` through to the Tiledesk widget untouched)."""
    typed = validate_outbound(payload)
    data = typed.to_dict()
    match typed.type:
        case "text":
            return Rendered([{"type": "text", "text": typed.text}])
        case "image":
            return Rendered([{"type": "image", "text": typed.title or "", "metadata": {"src": typed.image}}])
        case "audio" | "video" | "file":
            url = data[typed.type]
            name = typed.title or url.rsplit("/", 1)[-1]
            return Rendered(
                [{"type": "file", "text": typed.title or url, "metadata": {"src": url, "name": name}}]
            )
        case "buttons":
            buttons = [_button(b) for b in typed.buttons]
            buttons += [_action(c.title, c.value) for c in typed.quick_replies or []]
            return Rendered([_template(typed.text, buttons)])
        case "single-choice":
            return Rendered([_template(typed.text, [_action(c.title, c.value) for c in typed.choices])])
        case "card":
            return Rendered([_gallery(typed.title, [typed])])
        case "carousel":
            title = typed.items[0].title if typed.items else ""
            return Rendered([_gallery(title, typed.items)])
        case "account_linking":
            label = typed.params.button_text or "Log in"
            return Rendered([_template(typed.text, [_url(label, typed.url)])])
        case "custom":
            raw = degrade.custom_bodies(data, channel)
            return Rendered(raw) if raw else degrade.fallback(data, channel, _text)
        case "typing":
            return Rendered([])
    return degrade.fallback(data, channel, _text)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _template(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "text",
        "text": text,
        "attributes": {"attachment": {"type": "template", "buttons": buttons}},
    }


def _action(label: str, action: str) -> dict[str, Any]:
    return {"type": "action", "value": label, "action": action, "show_echo": True}


def _url(label: str, link: str) -> dict[str, Any]:
    return {"type": "url", "value": label, "link": link, "target": "blank"}


def _button(button: Button) -> dict[str, Any]:
    if button.type == "link" and button.payload.url:
        return _url(button.label, button.payload.url)
    if button.type == "phone" and button.payload.phone:
        return _url(button.label, f"tel:{button.payload.phone}")
    return _action(button.label, degrade.button_value(button.to_dict()))


def _card_button(action: CardAction) -> dict[str, Any]:
    if action.action == "Open URL" and action.url:
        return _url(action.title, action.url)
    if action.action == "Say something":
        return {"type": "text", "value": action.text or action.title}
    return _action(action.title, action.payload or action.title)


def _gallery(text: str, cards: list[Card]) -> dict[str, Any]:
    items = []
    for card in cards:
        item: dict[str, Any] = {
            "title": card.title,
            "description": card.subtitle or "",
            "buttons": [_card_button(a) for a in card.actions],
        }
        if card.image:
            item["preview"] = {"src": card.image}
        items.append(item)
    return {
        "type": "gallery",
        "text": text,
        "attributes": {"attachment": {"type": "gallery", "gallery": items}},
    }
