"""Microsoft Teams through the Bot Framework (Connector API v3), with Botpress Messaging's keys.

Verification as the Bot Framework requires of a bot: `Authorization: Bearer <JWT>` signed RS256
by a key of the OpenID metadata document's `jwks_uri` (PyJWT's PyJWKClient: keys cached for a
day, and fetched again when a token names an unknown key), issued by the metadata's `issuer`
(`https://api.botframework.com`), for the audience `appId`, not expired (5 minutes of clock
skew), and whose `serviceurl` claim is the activity's `serviceUrl`. With `tenantId` (a
single-tenant bot) the activity's tenant must be that one. Missing: 401; anything else wrong:
403; the keys out of reach: 503. `openIdMetadataUrl` replaces Microsoft's metadata URL.

Inbound: `message` activities (text without the bot's `<at>` mention; a `messageBack` button's
`value.payload` as a postback; image and file attachments by `contentUrl`), and
`conversationUpdate` with the bot among `membersAdded` as the bot's `conversation_started`
event (Botpress fires `conversation.started` on it). Mapping as in Botpress: identity `*`,
sender = `from.id`, thread = `conversation.id`; the reply context keeps the `serviceUrl`, the
bot's id and the conversation.

Outbound: `POST <serviceUrl>/v3/conversations/<id>/activities` with a client-credentials token
(`POST <apiUrl>/<tenantId or botframework.com>/oauth2/v2.0/token`, scope
`https://api.botframework.com/.default`), cached until five minutes before it expires. Text
(markdown when asked); buttons as a hero card (postbacks as `messageBack`, links as `openUrl`,
phone numbers as `tel:` links); quick replies and single choices as suggested actions
(`imBack`: the tapped title comes back as text and is mapped to its payload); card and
carousel as hero cards (`attachmentLayout: carousel`, 10 per activity); image as an attachment;
audio, video, file and account linking as a hero card with an `openUrl` button; typing as a
`typing` activity; location as a map link. A 429 waits `Retry-After`.

At sync: the client-credentials token (`appId`/`appPassword`, and `tenantId`).
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import time
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from jwt import PyJWKClient
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
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe
from orchestrator.payloads import Card, CardAction

LOGIN_URL = "https://login.microsoftonline.com"
OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
SCOPE = "https://api.botframework.com/.default"
KEYS_LIFESPAN = 24 * 3600.0  # seconds the metadata and the key set are kept
KEYS_COOLDOWN = 30.0  # seconds
FETCH_TIMEOUT = 10.0
LEEWAY = 300  # seconds of clock skew, as the Bot Framework SDKs allow
TOKEN_MARGIN = 300.0  # a token is renewed this long before it expires
MAX_CARDS = 10
HERO = "application/vnd.microsoft.card.hero"
_MENTION = re.compile(r"<at>[^<]*</at>\s*")


class TeamsConfig(ChannelConfig):
    """Teams settings (Botpress's keys), plus `openIdMetadataUrl` (tests, sovereign clouds)."""

    appId: str
    appPassword: SecretStr
    tenantId: str | None = None
    openIdMetadataUrl: str | None = None

    @field_validator("openIdMetadataUrl")
    @classmethod
    def _metadata_url(cls, value: str | None) -> str | None:
        if value is not None and URL(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        return value


class _Keys:
    """The signing keys of one OpenID metadata document (fetched in a thread: PyJWKClient is
    synchronous), refreshed after KEYS_LIFESPAN or on an unknown key id."""

    def __init__(self, metadata_url: str, cooldown: float) -> None:
        self.metadata_url = metadata_url
        self.cooldown = cooldown
        self.issuer = ""
        self.client: PyJWKClient | None = None
        self.fetched = 0.0

    def signing_key(self, token: str) -> Any:
        if self.client is None or time.monotonic() - self.fetched > KEYS_LIFESPAN:
            request = urllib.request.Request(self.metadata_url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
                metadata = json.loads(response.read())
            self.issuer = str(metadata["issuer"])
            self.client = PyJWKClient(
                str(metadata["jwks_uri"]),
                cache_keys=True,
                lifespan=KEYS_LIFESPAN,
                timeout=FETCH_TIMEOUT,
                cooldown_duration=self.cooldown,
            )
            self.fetched = time.monotonic()
        return self.client.get_signing_key_from_jwt(token).key


class TeamsChannel(Channel[TeamsConfig]):
    """Microsoft Teams (see the module docstring)."""

    name = "teams"
    Config = TeamsConfig
    capabilities = frozenset(
        {
            "text",
            "image",
            "buttons",
            "single-choice",
            "card",
            "carousel",
            "account_linking",
            "typing",
            "custom",
        }
    )
    default_api_url = LOGIN_URL

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        super().__init__(retry)
        self._keys: dict[str, _Keys] = {}
        # An unknown key id refetches the key set at most this often (forged ids cannot make us
        # hammer Microsoft; a real rotation waits at most this long, and the channel retries).
        self.keys_cooldown = KEYS_COOLDOWN
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}  # → (token, expiry)
        self._token_lock = asyncio.Lock()

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: TeamsConfig) -> None:
        """The Bot Framework JWT (see the module docstring)."""
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise VerificationError(401, "missing Authorization: Bearer <Bot Framework JWT>")
        metadata_url = config.openIdMetadataUrl or OPENID_METADATA
        keys = self._keys.get(metadata_url) or self._keys.setdefault(
            metadata_url, _Keys(metadata_url, self.keys_cooldown)
        )
        try:
            key = await asyncio.to_thread(keys.signing_key, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise VerificationError(503, f"Bot Framework signing keys unreachable: {exc}") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise VerificationError(503, f"Bot Framework OpenID metadata unreadable: {exc}") from exc
        except jwt.PyJWKClientError as exc:
            raise VerificationError(403, f"token not signed by a Bot Framework key: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise VerificationError(403, f"unreadable token: {exc}") from exc
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=config.appId,
                issuer=keys.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as exc:
            raise VerificationError(403, f"token refused: {exc}") from exc
        activity = as_dict(req.json)
        if not activity.get("serviceUrl") or claims.get("serviceurl") != activity.get("serviceUrl"):
            raise VerificationError(403, "the token's serviceurl is not the activity's serviceUrl")
        if config.tenantId and _tenant(activity) != config.tenantId:
            raise VerificationError(403, "activity of another tenant (tenantId)")

    def parse(self, req: InboundRequest, config: TeamsConfig) -> ParsedInbound:
        """A message, or the bot added to a conversation."""
        activity = as_dict(req.json)
        kind = activity.get("type")
        user = first_str(as_dict(activity.get("from")).get("id"))
        conversation = first_str(as_dict(activity.get("conversation")).get("id"))
        if not kind or not conversation:
            return bad_request("an activity needs a type and a conversation")
        bot = first_str(as_dict(activity.get("recipient")).get("id"))
        context = {"serviceUrl": activity.get("serviceUrl"), "conversation": conversation, "bot": bot}
        translated: dict[str, Any] | None = None
        if kind == "message":
            translated = _message(activity)
        elif kind == "conversationUpdate":
            added = {first_str(as_dict(m).get("id")) for m in activity.get("membersAdded") or []}
            if bot and bot in added:
                translated = {"type": "event", "event": "conversation_started", "data": {}}
        payload = canonical_inbound(translated) if translated else None
        if payload is None or not user:
            return ParsedInbound()
        message = InboundMessage(
            endpoint=Endpoint("*", user, conversation),
            payload=payload,
            platform_message_id=first_str(activity.get("id")),
            reply_context=context,
            sender_name=first_str(as_dict(activity.get("from")).get("name")),
        )
        return ParsedInbound([message])

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Activities without addressing (added by `post`)."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([_text(typed.text, markdown=bool(typed.markdown))])
            case "image":
                content_type = mimetypes.guess_type(URL(typed.image).path)[0] or "image/png"
                attachment = {"contentType": content_type, "contentUrl": typed.image}
                if typed.title:
                    attachment["name"] = typed.title
                return Rendered([{"type": "message", "attachments": [attachment]}])
            case "audio" | "video" | "file":
                url = data[typed.type]
                return Rendered(
                    [
                        _cards(
                            [_hero(title=typed.title or url.rsplit("/", 1)[-1], buttons=[_open("Open", url)])]
                        )
                    ]
                )
            case "buttons":
                buttons = [
                    _button(
                        b.label, b.type, b.payload.url, b.payload.phone, degrade.button_value(b.to_dict())
                    )
                    for b in typed.buttons
                ]
                replies = [(c.title, c.value) for c in typed.quick_replies or []]
                activity = _cards([_hero(text=typed.text, buttons=buttons)])
                return Rendered([_suggest(activity, replies)], dict((t, v) for t, v in replies))
            case "single-choice":
                replies = [(c.title, c.value) for c in typed.choices]
                return Rendered([_suggest(_text(typed.text), replies)], dict(replies))
            case "card":
                return Rendered([_cards([_card(typed)])])
            case "carousel":
                cards = [_card(c) for c in typed.items]
                return Rendered([_cards(cards[i : i + MAX_CARDS]) for i in range(0, len(cards), MAX_CARDS)])
            case "account_linking":
                label = typed.params.button_text or "Log in"
                return Rendered([_cards([_hero(text=typed.text, buttons=[_open(label, typed.url)])])])
            case "typing":
                return Rendered([{"type": "typing"}] if typed.value else [])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered(raw)
        return degrade.fallback(data, self.name, _text)

    async def post(self, target: Target[TeamsConfig], body: dict[str, Any]) -> None:
        """Post one activity to the conversation, as the bot."""
        config, context = target.config, target.reply_context
        service_url = first_str(context.get("serviceUrl"))
        if not service_url:
            raise SendError(
                None, "no serviceUrl for this conversation (the user never wrote)", platform=self.name
            )
        conversation = str(context.get("conversation") or target.endpoint.thread)
        activity = {**body, "conversation": {"id": conversation}, "recipient": {"id": target.endpoint.sender}}
        if context.get("bot"):
            activity["from"] = {"id": context["bot"]}
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation, safe='')}/activities"
        token = await self._token(target.http, config)
        try:
            await call(
                target.http,
                "POST",
                url,
                platform=self.name,
                policy=self.retry,
                headers={"Authorization": f"Bearer {token}"},
                json=activity,
            )
        except SendError as exc:
            if exc.status == 401:  # revoked or rotated: the next message gets a new token
                self._tokens.pop(_token_key(config), None)
            raise

    async def test_credentials(self, http: aiohttp.ClientSession, config: TeamsConfig) -> None:
        """Get a client-credentials token (and keep it)."""
        self._tokens.pop(_token_key(config), None)
        await self._token(http, config, test=True)

    async def _token(self, http: aiohttp.ClientSession, config: TeamsConfig, *, test: bool = False) -> str:
        """The bot's Connector token, cached until TOKEN_MARGIN before it expires."""
        key = _token_key(config)
        async with self._token_lock:
            cached = self._tokens.get(key)
            if cached is not None and time.monotonic() < cached[1]:
                return cached[0]
            url = f"{self.api_url(config)}/{config.tenantId or 'botframework.com'}/oauth2/v2.0/token"
            form = {
                "grant_type": "client_credentials",
                "client_id": config.appId,
                "client_secret": config.appPassword.get_secret_value(),
                "scope": SCOPE,
            }
            if test:
                fields = {400: "appPassword", 401: "appPassword"}
                response = await probe(
                    http, "POST", url, platform=self.name, policy=self.retry, fields=fields, form=form
                )
            else:
                response = await call(http, "POST", url, platform=self.name, policy=self.retry, form=form)
            answer = as_dict(response.json)
            token = first_str(answer.get("access_token"))
            if not token:
                if test:
                    raise ChannelTestError("appPassword", "the token endpoint gave no access_token")
                raise SendError(
                    response.status, "the token endpoint gave no access_token", platform=self.name
                )
            lifetime = float(answer.get("expires_in") or 3600)
            self._tokens[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN))
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            return token


def _token_key(config: TeamsConfig) -> tuple[str, str, str]:
    return (config.apiUrl or LOGIN_URL, config.tenantId or "", config.appId)


def _tenant(activity: Mapping[str, Any]) -> str | None:
    tenant = as_dict(as_dict(activity.get("channelData")).get("tenant")).get("id")
    return first_str(tenant, as_dict(activity.get("conversation")).get("tenantId"))


# ---------------------------------------------------------------- inbound helpers


def _message(activity: Mapping[str, Any]) -> dict[str, Any] | None:
    text = str(activity.get("text")) if isinstance(activity.get("text"), str) else ""
    text = _MENTION.sub("", text).strip()
    value = as_dict(activity.get("value"))
    if first_str(value.get("payload")):
        return {"type": "postback", "payload": value["payload"], "text": text or None}
    for attachment in activity.get("attachments") or []:
        attachment = as_dict(attachment)
        url = first_str(attachment.get("contentUrl"))
        kind = str(attachment.get("contentType") or "")
        if url and "/" in kind and not kind.startswith("application/vnd.microsoft"):
            media = kind.split("/")[0]
            return {
                "type": media if media in ("image", "audio", "video") else "file",
                "url": url,
                "title": attachment.get("name"),
            }
    return {"type": "text", "text": text} if text else None


# ---------------------------------------------------------------- outbound helpers


def _text(text: str, *, markdown: bool = False) -> dict[str, Any]:
    return {"type": "message", "text": text, "textFormat": "markdown" if markdown else "plain"}


def _open(title: str, url: str) -> dict[str, Any]:
    return {"type": "openUrl", "title": title, "value": url}


def _back(title: str, value: str) -> dict[str, Any]:
    return {
        "type": "messageBack",
        "title": title,
        "text": title,
        "displayText": title,
        "value": {"payload": value},
    }


def _button(label: str, kind: str, url: str | None, phone: str | None, value: str) -> dict[str, Any]:
    if kind == "link" and url:
        return _open(label, url)
    if kind == "phone" and phone:
        return _open(label, f"tel:{phone}")
    return _back(label, value)


def _card_action(action: CardAction) -> dict[str, Any]:
    if action.action == "Open URL" and action.url:
        return _open(action.title, action.url)
    if action.action == "Say something":
        return {"type": "imBack", "title": action.title, "value": action.text or action.title}
    return _back(action.title, action.payload or action.title)


def _hero(
    *,
    title: str | None = None,
    subtitle: str | None = None,
    text: str | None = None,
    image: str | None = None,
    buttons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        k: v for k, v in (("title", title), ("subtitle", subtitle), ("text", text)) if v
    }
    if image:
        content["images"] = [{"url": image}]
    if buttons:
        content["buttons"] = buttons
    return {"contentType": HERO, "content": content}


def _card(card: Card) -> dict[str, Any]:
    return _hero(
        title=card.title,
        subtitle=card.subtitle,
        image=card.image,
        buttons=[_card_action(a) for a in card.actions],
    )


def _cards(attachments: list[dict[str, Any]]) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message", "attachments": attachments}
    if len(attachments) > 1:
        activity["attachmentLayout"] = "carousel"
    return activity


def _suggest(activity: dict[str, Any], replies: list[tuple[str, str]]) -> dict[str, Any]:
    if not replies:
        return activity
    actions = [{"type": "imBack", "title": t, "value": t} for t, _ in replies]
    return {**activity, "suggestedActions": {"actions": actions}}
