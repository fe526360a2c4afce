"""Slack (Events API, interactivity, Web API), with Botpress Messaging's config keys and route.

Verification with `slack_sdk`'s SignatureVerifier: `X-Slack-Signature` = `v0=` + HMAC-SHA256
(signingSecret, `v0:<X-Slack-Request-Timestamp>:<raw body>`). Missing headers: 401; a timestamp
older than 5 minutes, or a bad signature: 403 (as Botpress).

Inbound, on the one route (events and interactivity merged, as in Botpress 1.0.0):
`url_verification` is answered with its challenge, `ssl_check` with an empty 200; `event_callback`
with a `message` or `app_mention` event is the user's text (a leading `<@bot>` mention dropped;
bot messages, edits and other subtypes ignored); a form-encoded `payload` of type
`block_actions` is a button click: its `value` comes back as a postback, and the clicked message
is updated (`chat.update`) with its buttons replaced by the choice, so it cannot be clicked
twice. Mapping: identity = team, sender = user, thread = channel, or `channel/thread_ts` for a
message written in a thread: the bot answers in the thread the user wrote in.

Outbound, one `chat.postMessage` per payload with Block Kit blocks (and a `text` fallback):
text (escaped), buttons and quick replies as an actions block, card as a section with its image
and buttons, carousel as cards separated by dividers, image as an image block, account linking
as a URL button, file/audio/video as links, location as a map link. Slack has no typing
indicator for bots: typing renders nothing. Sent through `slack_sdk`'s AsyncWebClient
(`base_url` = `apiUrl`), with our own bounded retries: 429 waits `Retry-After`, 5xx and network
errors back off; `ok: false` errors are final.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import orjson
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from orchestrator.channels import degrade
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
    SendError,
    Target,
    VerificationError,
    as_dict,
    bad_request,
    canonical_inbound,
    first_str,
    validate_outbound,
)
from orchestrator.channels.sender import parse_retry_after
from orchestrator.channels.split import split_text
from orchestrator.payloads import Card

log = logging.getLogger("orchestrator.channels")

SLACK_URL = "https://slack.com/api"
MAX_AGE = 5 * 60  # seconds
MAX_BLOCKS = 50
SECTION_LIMIT = 3000  # a section block's text
SECTIONS_PER_MESSAGE = 13  # their notification text under chat.postMessage's 40 000
ACTION_PREFIX = "postback:"


class SlackConfig(ChannelConfig):
    """Slack settings (Botpress's keys): the bot token and the app's signing secret."""

    botToken: SecretStr
    signingSecret: SecretStr


class SlackChannel(Channel[SlackConfig]):
    """Slack (see the module docstring)."""

    name = "slack"
    Config = SlackConfig
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
    default_api_url = SLACK_URL

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: SlackConfig) -> None:
        """The v0 signature over the timestamp and the raw body (slack_sdk)."""
        timestamp = req.headers.get("X-Slack-Request-Timestamp")
        signature = req.headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            raise VerificationError(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            raise VerificationError(403, "unreadable X-Slack-Request-Timestamp") from None
        if age > MAX_AGE:
            raise VerificationError(403, "X-Slack-Request-Timestamp older than 5 minutes")
        verifier = SignatureVerifier(config.signingSecret.get_secret_value())
        if not verifier.is_valid(req.body, timestamp, signature):
            raise VerificationError(403, "wrong X-Slack-Signature")

    def parse(self, req: InboundRequest, config: SlackConfig) -> ParsedInbound:
        """Handshakes, message events and button clicks."""
        if isinstance(req.json, dict):
            return _event(req.json)
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        if form.get("ssl_check"):
            return ParsedInbound(response=ImmediateResponse(200, b"", "text/plain"))
        try:
            interaction = orjson.loads(form.get("payload", ""))
        except orjson.JSONDecodeError:
            return bad_request("body must be an event or an interaction payload")
        if not isinstance(interaction, dict):
            return bad_request("payload must be a JSON object")
        return ParsedInbound(_clicks(interaction))

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """`chat.postMessage` arguments without `channel`/`thread_ts` (added by `send`)."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered(_texts(typed.text))
            case "image":
                block: dict[str, Any] = {
                    "type": "image",
                    "image_url": typed.image,
                    "alt_text": typed.title or "image",
                }
                if typed.title:
                    block["title"] = {"type": "plain_text", "text": typed.title}
                return Rendered([{"text": typed.title or typed.image, "blocks": [block]}])
            case "buttons":
                elements = [
                    _button(b.label, b.type, b.payload.url, degrade.button_value(b.to_dict()))
                    for b in typed.buttons
                ]
                elements += [_button(c.title, "postback", None, c.value) for c in typed.quick_replies or []]
                return Rendered(_texts(typed.text, elements))
            case "single-choice":
                return Rendered(
                    _texts(typed.text, [_button(c.title, "postback", None, c.value) for c in typed.choices])
                )
            case "card":
                return Rendered([{"text": typed.title, "blocks": _card(typed)}])
            case "carousel":
                blocks: list[dict[str, Any]] = []
                for index, card in enumerate(typed.items):
                    blocks += ([{"type": "divider"}] if index else []) + _card(card)
                return Rendered(
                    [{"text": ", ".join(c.title for c in typed.items), "blocks": blocks[:MAX_BLOCKS]}]
                )
            case "account_linking":
                label = typed.params.button_text or "Log in"
                return Rendered(_texts(typed.text, [_button(label, "link", typed.url, "")]))
            case "typing":
                return Rendered([])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw and all(b.get("text") or b.get("blocks") for b in raw):
                    return Rendered(raw)
        fallback = degrade.fallback(data, self.name, lambda text: {"text": text})
        bodies = [b for body in fallback.bodies for b in (_texts(body["text"]) if _plain(body) else [body])]
        return Rendered(bodies, fallback.choices)

    async def post(self, target: Target[SlackConfig], body: dict[str, Any]) -> None:
        """`chat.postMessage` one body in the channel (and thread) of the conversation."""
        context = target.reply_context
        channel, _, thread = target.endpoint.thread.partition("/")
        address = {"channel": context.get("channel") or channel}
        if thread or context.get("thread_ts"):
            address["thread_ts"] = thread or context["thread_ts"]
        await self._call(self._client(target.http, target.config), "chat.postMessage", {**address, **body})

    async def acknowledge(self, target: Target[SlackConfig], ack: Mapping[str, Any]) -> None:
        """`chat.update` of a clicked message."""
        params = dict(ack)
        await self._call(self._client(target.http, target.config), params.pop("method"), params)

    async def test_credentials(self, http: aiohttp.ClientSession, config: SlackConfig) -> None:
        """`auth.test` with the bot token."""
        client = AsyncWebClient(
            token=config.botToken.get_secret_value(),
            base_url=f"{self.api_url(config)}/",
            session=http,
            timeout=int(self.retry.timeout) or 1,
            retry_handlers=[],
        )
        try:
            await client.api_call("auth.test")
        except SlackApiError as exc:
            error = as_dict(exc.response.data).get("error") or f"HTTP {exc.response.status_code}"
            raise ChannelTestError(
                "botToken", f"unable to authenticate slack request with the provided bot token ({error})"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelTestError("apiUrl", f"slack is unreachable: {type(exc).__name__}") from exc

    # ------------------------------------------------------------ helpers

    def _client(self, http: aiohttp.ClientSession, config: SlackConfig) -> AsyncWebClient:
        return AsyncWebClient(
            token=config.botToken.get_secret_value(),
            base_url=f"{self.api_url(config)}/",
            session=http,
            timeout=max(1, int(self.retry.timeout)),
            retry_handlers=[],
        )

    async def _call(self, client: AsyncWebClient, method: str, params: dict[str, Any]) -> None:
        """One Web API call with bounded retries (429 honours Retry-After; ok:false is final)."""
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                await client.api_call(method, json=params)
                return
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(as_dict(exc.response.data).get("error") or f"HTTP {status}")
                transient = status == 429 or status >= 500
                if not transient or attempt >= policy.attempts:
                    raise SendError(status, error, platform=self.name, retryable=transient) from exc
                delay = policy.backoff(attempt)
                if status == 429:
                    waited = parse_retry_after(exc.response.headers.get("Retry-After"))
                    delay = min(policy.max_delay, waited) if waited is not None else delay
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt >= policy.attempts:
                    raise SendError(None, type(exc).__name__, platform=self.name, retryable=True) from exc
                delay = policy.backoff(attempt)
            log.warning("slack %s failed; retry %d/%d in %.2fs", method, attempt, policy.attempts - 1, delay)
            await policy.sleep(delay)


# ---------------------------------------------------------------- inbound helpers


def _event(body: Mapping[str, Any]) -> ParsedInbound:
    kind = body.get("type")
    if kind == "url_verification":
        return ParsedInbound(
            response=ImmediateResponse(200, orjson.dumps({"challenge": body.get("challenge")}))
        )
    if kind != "event_callback":
        return ParsedInbound()
    event = as_dict(body.get("event"))
    if event.get("type") not in ("message", "app_mention") or event.get("subtype"):
        return ParsedInbound()
    user, channel = first_str(event.get("user")), first_str(event.get("channel"))
    text = event.get("text")
    if not user or not channel or not isinstance(text, str):
        return ParsedInbound()
    if event.get("type") == "app_mention" or text.startswith("<@"):
        text = text.split(">", 1)[1].strip() if text.startswith("<@") and ">" in text else text
    payload = canonical_inbound({"type": "text", "text": text}) if text.strip() else None
    if payload is None:
        return ParsedInbound()
    thread_ts = first_str(event.get("thread_ts"))
    team = first_str(body.get("team_id"), event.get("team")) or "*"
    message = InboundMessage(
        endpoint=Endpoint(team, user, f"{channel}/{thread_ts}" if thread_ts else channel),
        payload=payload,
        platform_message_id=f"{channel}:{event.get('ts')}",
        is_echo=bool(event.get("bot_id")),
        reply_context={"channel": channel, **({"thread_ts": thread_ts} if thread_ts else {})},
    )
    return ParsedInbound([message])


def _clicks(interaction: Mapping[str, Any]) -> list[InboundMessage]:
    if interaction.get("type") != "block_actions":
        return []
    user = first_str(as_dict(interaction.get("user")).get("id"))
    container = as_dict(interaction.get("container"))
    channel = first_str(as_dict(interaction.get("channel")).get("id"), container.get("channel_id"))
    message = as_dict(interaction.get("message"))
    if not user or not channel:
        return []
    thread_ts = first_str(message.get("thread_ts"), container.get("thread_ts"))
    team = first_str(as_dict(interaction.get("team")).get("id")) or "*"
    found: list[InboundMessage] = []
    for action in interaction.get("actions") or []:
        if not isinstance(action, dict) or not str(action.get("action_id", "")).startswith(ACTION_PREFIX):
            continue  # a link button: Slack reports the click, the browser opened the URL
        label = first_str(as_dict(action.get("text")).get("text"))
        payload = canonical_inbound({"type": "postback", "payload": action.get("value"), "text": label})
        if payload is None:
            continue
        update = {
            "method": "chat.update",
            "channel": channel,
            "ts": message.get("ts") or container.get("message_ts"),
            "text": message.get("text") or label or "",
            "blocks": _answered(message.get("blocks"), label or ""),
        }
        found.append(
            InboundMessage(
                endpoint=Endpoint(team, user, f"{channel}/{thread_ts}" if thread_ts else channel),
                payload=payload,
                platform_message_id=f"{channel}:{message.get('ts')}:{action.get('action_ts')}",
                reply_context={"channel": channel, **({"thread_ts": thread_ts} if thread_ts else {})},
                acks=(update,),
            )
        )
    return found


def _answered(blocks: Any, label: str) -> list[dict[str, Any]]:
    """The clicked message's blocks with its buttons replaced by the choice made."""
    kept = (
        [b for b in blocks if isinstance(b, dict) and b.get("type") != "actions"]
        if isinstance(blocks, list)
        else []
    )
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": f"✓ {escape(label)}"}]}]


# ---------------------------------------------------------------- outbound helpers


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000] or " "}}


def _button(label: str, kind: str, url: str | None, value: str) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": label[:75]}}
    if kind == "link" and url:
        button["url"] = url
        button["action_id"] = f"link:{url}"[:255]
    else:
        button["value"] = value[:2000]
        button["action_id"] = f"{ACTION_PREFIX}{value}"[:255]
    return button


def _escaped_length(text: str) -> int:
    return len(escape(text))


def _plain(body: dict[str, Any]) -> bool:
    return set(body) == {"text"} and isinstance(body["text"], str)


def _texts(text: str, elements: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A text as section blocks of at most 3000 characters (escaped; cut at paragraph, line or
    word boundaries), 13 to a message (its notification text stays under Slack's 40 000), then
    the actions blocks (25 buttons each) on the last message."""
    pieces = split_text(text, SECTION_LIMIT, _escaped_length)
    groups = [pieces[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(pieces), SECTIONS_PER_MESSAGE)]
    bodies: list[dict[str, Any]] = [
        {"text": "\n\n".join(group), "blocks": [_section(escape(p)) for p in group]} for group in groups
    ]
    elements = elements or []
    for start in range(0, len(elements), 25):  # an actions block holds 25 elements
        bodies[-1]["blocks"].append({"type": "actions", "elements": _unique(elements[start : start + 25])})
    return bodies


def _unique(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suffix repeated action ids (they must be unique in a block)."""
    seen: set[str] = set()
    for index, element in enumerate(elements):
        if element["action_id"] in seen:
            element["action_id"] = f"{element['action_id'][:240]}#{index}"
        seen.add(element["action_id"])
    return elements


def _card(card: Card) -> list[dict[str, Any]]:
    text = f"*{escape(card.title)}*" + (f"\n{escape(card.subtitle)}" if card.subtitle else "")
    section = _section(text)
    if card.image:
        section["accessory"] = {"type": "image", "image_url": card.image, "alt_text": card.title}
    buttons: list[dict[str, Any]] = []
    for action in card.actions:
        if action.action == "Open URL" and action.url:
            if action.url.startswith(("http://", "https://")):
                buttons.append(_button(action.title, "link", action.url, ""))
            else:
                section["text"]["text"] += (
                    f"\n{escape(action.title)}: {escape(action.url.removeprefix('tel:'))}"
                )
        elif action.action == "Say something":
            buttons.append(_button(action.title, "postback", None, action.text or action.title))
        else:
            buttons.append(_button(action.title, "postback", None, action.payload or action.title))
    return [section, *([{"type": "actions", "elements": _unique(buttons)}] if buttons else [])]
