"""Chat21: observer webhooks in, `chat21-http-server` REST out.

Inbound: Chat21 signs nothing (its webhooks are plain POSTs configured by env), so the webhook
URL carries `webhookSecret` (query `?secret=` or last path segment, `base.check_url_secret`),
which is required. A JWT in `Authorization` proves nothing here and is ignored: `jwtKey` signs
every Chat21 user's token, so any end user could mint one and write as anyone. A wrong secret
is 403, none at all 401.
Only `message-sent` events are read: in a direct chat it fires once in the sender's inbox, in a
group once on the group's timeline; `message-delivered` copies of the same message are ignored.
A direct message counts when the bot is its recipient (or its sender: an echo); a group
message when the group id starts with `groupPrefix` (default "": every group; the event does
not say whether the bot is a member, so e.g. `support-group-` keeps the bot to Tiledesk's
support conversations).

Mapping: identity = `botId`; direct chats: sender = thread = the peer user; groups: thread =
the group id, sender = the message's sender (`"*"` for system messages). reply_context:
`recipient_id`, `recipient_fullname`, `channel_type`. Message id: `message_id`. Echo:
`sender == botId`. Button clicks (Tiledesk widget convention) carry `attributes.action` and
become postbacks; `info` messages are dropped except `CHAT_CLOSED` (→ `closed`).

Outbound: `POST /{appId}/messages` under the `/api` base (default `http://localhost:8004/api`,
Chat21's documented default), with `Authorization: <raw JWT>` (no scheme). The JWT is either
`token` (issued for `botId`) or minted per call from the server's `jwtKey` (HS256, `sub` and
`user_id` = `botId`, `app_id` = `appId`, one hour). Rich content uses Tiledesk's `attributes`
(shared with `tiledesk.render_message`), which the Tiledesk/Chat21 widgets render. Validation
errors come back as 405 with a plain-text body, which `SendError.detail` carries.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
import jwt
from pydantic import SecretStr, field_validator, model_validator

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
    bad_request,
    canonical_inbound,
    check_url_secret,
    first_str,
    jwt_encode,
)
from orchestrator.channels.sender import call, probe
from orchestrator.channels.tiledesk import CAPABILITIES as TILEDESK_CAPABILITIES
from orchestrator.channels.tiledesk import canonical_payload, render_message

CHAT21_URL = "http://localhost:8004/api"
TOKEN_TTL = 3600


class Chat21Config(ChannelConfig):
    """Chat21 settings: the app, the bot's user id and name, one of `token`/`jwtKey`, and the
    webhook URL secret."""

    appId: str
    botId: str
    botFullname: str = "Bot"
    token: SecretStr | None = None
    jwtKey: SecretStr | None = None
    webhookSecret: SecretStr | None = None
    groupPrefix: str = ""

    @field_validator("appId", "botId")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not value or any(c in value for c in "/?#. ") or not value.isprintable():
            raise ValueError("must be a plain id (no '/', '?', '#', '.' or spaces)")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> Chat21Config:
        if (self.token is None) == (self.jwtKey is None):
            raise ValueError("set exactly one of token or jwtKey")
        if self.webhookSecret is None:
            raise ValueError("webhookSecret is required (webhooks must be verifiable)")
        if self.token is not None:
            try:
                claims = jwt.decode(self.token.get_secret_value(), options={"verify_signature": False})
            except jwt.InvalidTokenError as exc:
                raise ValueError("token is not a JWT") from exc
            if claims.get("sub") not in (None, self.botId):
                raise ValueError("token was issued for another user than botId")
            if claims.get("app_id") not in (None, self.appId):
                raise ValueError("token was issued for another app than appId")
        return self


class Chat21Channel(Channel[Chat21Config]):
    """Chat21 (see the module docstring)."""

    name = "chat21"
    Config = Chat21Config
    capabilities = TILEDESK_CAPABILITIES  # rendered as Tiledesk-style attributes
    default_api_url = CHAT21_URL

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: Chat21Config) -> None:
        """The secret in the webhook URL, only: a user JWT is never a platform credential."""
        if config.webhookSecret is None:  # refused by the config; kept for old stored configs
            raise VerificationError(401, "no webhookSecret configured")
        check_url_secret(req, config.webhookSecret)

    def parse(self, req: InboundRequest, config: Chat21Config) -> ParsedInbound:
        """`message-sent` events of the bot's direct chats and of groups."""
        body = req.json
        if not isinstance(body, dict):
            return bad_request("body must be a JSON object")
        data = body.get("data")
        if body.get("event_type") != "message-sent" or not isinstance(data, dict):
            return ParsedInbound()
        if first_str(body.get("app_id"), data.get("app_id"), config.appId) != config.appId:
            return ParsedInbound()
        message = _message(body, data, config)
        return ParsedInbound([message] if message else [])

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Chat21 message fields `{type, text, attributes?, metadata?}` (Tiledesk attributes)."""
        return render_message(payload, self.name)

    async def post(self, target: Target[Chat21Config], body: dict[str, Any]) -> None:
        """Post one message to the recipient (user or group) as the bot."""
        config, context = target.config, target.reply_context
        recipient = str(context.get("recipient_id") or target.endpoint.thread)
        address = {
            "sender_fullname": config.botFullname,
            "recipient_id": recipient,
            "recipient_fullname": str(context.get("recipient_fullname") or recipient),
            "channel_type": str(context.get("channel_type") or "direct"),
        }
        await call(
            target.http,
            "POST",
            f"{self.api_url(config)}/{config.appId}/messages",
            platform=self.name,
            policy=self.retry,
            headers={"Authorization": bot_token(config)},
            json={**body, **address},
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: Chat21Config) -> None:
        """List the bot's conversations."""
        credential = "token" if config.token is not None else "jwtKey"
        url = f"{self.api_url(config)}/{config.appId}/{config.botId}/conversations"
        await probe(
            http,
            "GET",
            url,
            platform=self.name,
            policy=self.retry,
            headers={"Authorization": bot_token(config)},
            fields={401: "appId", 403: credential, 404: "apiUrl"},
        )


def bot_token(config: Chat21Config, now: float | None = None) -> str:
    """The raw JWT for `Authorization`: the configured token, or one minted from `jwtKey`."""
    if config.token is not None:
        return config.token.get_secret_value()
    assert config.jwtKey is not None  # guaranteed by the config validator
    issued = int(now if now is not None else time.time())
    claims = {
        "jti": str(uuid.uuid4()),
        "sub": config.botId,
        "user_id": config.botId,
        "app_id": config.appId,
        "aud": ["rabbitmq", config.botId],
        "tiledesk_api_roles": "user",
        "iat": issued,
        "exp": issued + TOKEN_TTL,
    }
    return jwt_encode(claims, config.jwtKey)


def _message(body: Mapping[str, Any], data: Mapping[str, Any], config: Chat21Config) -> InboundMessage | None:
    sender = first_str(data.get("sender")) or ""
    recipient = first_str(data.get("recipient"), body.get("recipient_id")) or ""
    is_echo = sender == config.botId
    if data.get("channel_type") == "group":
        if not recipient.startswith(config.groupPrefix):
            return None
        thread = recipient
        user = "*" if sender == "system" else sender
        context = {
            "recipient_id": recipient,
            "recipient_fullname": first_str(data.get("recipient_fullname")) or recipient,
            "channel_type": "group",
        }
    elif is_echo or recipient == config.botId:
        thread = user = recipient if is_echo else sender
        fullname = data.get("recipient_fullname") if is_echo else data.get("sender_fullname")
        context = {
            "recipient_id": thread,
            "recipient_fullname": first_str(fullname) or thread,
            "channel_type": "direct",
        }
    else:
        return None  # a direct chat between two other users
    if not thread or not user:
        return None
    translated = canonical_payload(data, None, is_echo, members=False)
    payload = canonical_inbound(translated) if translated else None
    if payload is None:
        return None
    return InboundMessage(
        endpoint=Endpoint(config.botId, user, thread),
        payload=payload,
        platform_message_id=first_str(data.get("message_id"), body.get("message_id")),
        is_echo=is_echo,
        reply_context=context,
        sender_name=first_str(data.get("sender_fullname")),
    )
