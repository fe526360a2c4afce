"""Twilio Programmable Messaging (SMS and WhatsApp), with Botpress Messaging's config keys.

Verification with `twilio`'s RequestValidator: `X-Twilio-Signature` = base64 HMAC-SHA1
(authToken, the public URL + the sorted form fields). The public URL is `server.external_url`
+ the path the request came to (`/webhooks/v1/<scope>/twilio`), the URL Twilio was given.
Missing: 401; wrong: 403. Answered 204 (no TwiML: replies go through the REST API).

Inbound: `Body` as text (a bare number answering a numbered list becomes its option's
postback, in the gateway), `MediaUrl0` as an image or file. Mapping as in Botpress: identity =
`To` (the bot's number, `whatsapp:+…` on WhatsApp), sender = `From`, thread `*`. Message id:
`MessageSid`.

Outbound: `POST /2010-04-01/Accounts/<accountSID>/Messages.json` (Basic auth), form `To`,
`From`, `Body`, `MediaUrl`. SMS shows no buttons: buttons, quick replies, cards and carousels
become a numbered list (`degrade.py`), a card's image goes as `MediaUrl`; images as `MediaUrl`;
files, locations and account linking as text with their link; typing renders nothing.
`messageDelay` spaces the messages sent from one number; `retryMaxAttempts` and `retryDelay`
set the attempts and the first backoff delay; a 429 waits `Retry-After` when Twilio gives one.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from pydantic import Field, SecretStr, field_validator
from twilio.request_validator import RequestValidator

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
    canonical_inbound,
    validate_outbound,
)
from orchestrator.channels.sender import call, probe

TWILIO_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {None: 0.001, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: str) -> float:
    """A Botpress duration ("1s", "500ms", "1000", "2m") in seconds."""
    match = _DURATION.match(value)
    if match is None:
        raise ValueError('must be a duration such as "1s" or "500ms"')
    return float(match.group(1)) * _UNITS[match.group(2)]


class TwilioConfig(ChannelConfig):
    """Twilio settings (Botpress's keys)."""

    accountSID: str
    authToken: SecretStr
    messageDelay: str | None = None
    retryMaxAttempts: int = Field(3, ge=1, le=10)
    retryDelay: str = "1000ms"

    @field_validator("accountSID")
    @classmethod
    def _starts_with_ac(cls, value: str) -> str:
        if not re.fullmatch(r"AC[\w-]+", value):
            raise ValueError(f'with value "{value}" fails to match the required pattern: /^AC/')
        return value

    @field_validator("messageDelay", "retryDelay")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            seconds(value)
        return value


class TwilioChannel(Channel[TwilioConfig]):
    """Twilio SMS and WhatsApp (see the module docstring)."""

    name = "twilio"
    Config = TwilioConfig
    capabilities = frozenset({"text", "image", "custom"})
    default_api_url = TWILIO_URL

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        super().__init__(retry)
        self._last_sent: dict[str, float] = {}  # sender number → monotonic time of its last send

    # ------------------------------------------------------------ inbound

    async def verify(self, req: InboundRequest, config: TwilioConfig) -> None:
        """The signature over the public URL and the form fields (twilio's RequestValidator)."""
        signature = req.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise VerificationError(401, f"missing {SIGNATURE_HEADER}")
        validator = RequestValidator(config.authToken.get_secret_value())
        if not validator.validate(req.public_url, _form(req), signature):
            raise VerificationError(
                403, f"wrong {SIGNATURE_HEADER} (is server.external_url the URL Twilio calls?)"
            )

    def parse(self, req: InboundRequest, config: TwilioConfig) -> ParsedInbound:
        """One incoming message; answered 204."""
        form = _form(req)
        done = ParsedInbound(response=ImmediateResponse(204, b"", "text/plain"))
        sender, bot = form.get("From"), form.get("To")
        if not sender or not bot:
            return done
        payload = canonical_inbound(_payload(form) or {})
        if payload is None:
            return done
        message = InboundMessage(
            endpoint=Endpoint(bot, sender, "*"),
            payload=payload,
            platform_message_id=form.get("MessageSid") or form.get("SmsSid"),
            reply_context={"from": bot, "to": sender},
            sender_name=form.get("ProfileName"),
        )
        return ParsedInbound([message], done.response)

    # ------------------------------------------------------------ outbound

    def render(self, payload: dict[str, Any]) -> Rendered:
        """Form fields `Body` and `MediaUrl` (addressing added by `send`)."""
        typed = validate_outbound(payload)
        data = typed.to_dict()
        match typed.type:
            case "text":
                return Rendered([{"Body": typed.text}])
            case "image":
                return Rendered([{"Body": typed.title or "", "MediaUrl": typed.image}])
            case "card":
                numbered = degrade.numbered(data)
                body = {"Body": numbered.text()}
                return Rendered(
                    [{**body, "MediaUrl": typed.image} if typed.image else body], numbered.options
                )
            case "typing":
                return Rendered([])
            case "custom":
                raw = degrade.custom_bodies(data, self.name)
                if raw:
                    return Rendered(raw)
        return degrade.fallback(data, self.name, lambda text: {"Body": text})

    async def post(self, target: Target[TwilioConfig], body: dict[str, Any]) -> None:
        """Create one message, spaced by `messageDelay` per sending number."""
        config, context = target.config, target.reply_context
        sender = str(context.get("from") or target.endpoint.identity)
        to = str(context.get("to") or target.endpoint.sender)
        url = f"{self.api_url(config)}/2010-04-01/Accounts/{config.accountSID}/Messages.json"
        policy = replace(self.retry, attempts=config.retryMaxAttempts, base_delay=seconds(config.retryDelay))
        if config.messageDelay:
            await self._space(sender, seconds(config.messageDelay))
        form = {"To": to, "From": sender, **{k: str(v) for k, v in body.items() if v != ""}}
        await call(
            target.http, "POST", url, platform=self.name, policy=policy, headers=_auth(config), form=form
        )

    async def test_credentials(self, http: aiohttp.ClientSession, config: TwilioConfig) -> None:
        """Fetch the account."""
        await probe(
            http,
            "GET",
            f"{self.api_url(config)}/2010-04-01/Accounts/{config.accountSID}.json",
            platform=self.name,
            policy=self.retry,
            headers=_auth(config),
            fields={401: "authToken", 403: "authToken", 404: "accountSID"},
        )

    async def _space(self, sender: str, delay: float) -> None:
        """Wait until `delay` seconds have passed since this number's last message."""
        last = self._last_sent.get(sender)
        now = time.monotonic()
        if last is not None and now - last < delay:
            await self.retry.sleep(delay - (now - last))
        self._last_sent[sender] = time.monotonic()
        if len(self._last_sent) > 10_000:
            self._last_sent.clear()


def _form(req: InboundRequest) -> dict[str, str]:
    return dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))


def _payload(form: Mapping[str, str]) -> dict[str, Any] | None:
    text = form.get("Body", "")
    if form.get("NumMedia", "0") not in ("", "0") and form.get("MediaUrl0"):
        kind = form.get("MediaContentType0", "").split("/")[0]
        attachment = {
            "type": kind if kind in ("image", "audio", "video") else "file",
            "url": form["MediaUrl0"],
        }
        return {**attachment, "title": text} if text.strip() else attachment
    return {"type": "text", "text": text} if text.strip() else None


def _auth(config: TwilioConfig) -> dict[str, str]:
    pair = f"{config.accountSID}:{config.authToken.get_secret_value()}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
