"""The channel interface: what every platform module implements, and the types it exchanges.

A channel only translates (docs/architecture.md, principle 3). The service owns everything
else: storing, deduplicating, conversation mapping, the numbered-choice map, retries of whole
deliveries, health events.

How the service uses a channel (`ch = SomeChannel()`, one instance per process is enough):

Inbound, on `POST /webhooks/v1/<scope>/<channel><tail>`::

    config = ch.load_config(raw_config)            # pydantic; extra keys are rejected
    req = await InboundRequest.from_request(request, tail)
    await ch.verify(req, config)                   # VerificationError -> answer e.status, stop
    parsed = ch.parse(req, config)                 # pure: no I/O
    for m in parsed.messages:                      # skip m.is_echo; dedupe on platform_message_id
        ...  # map m.endpoint to a conversation, keep m.reply_context, create the message
    answer parsed.response                         # always set (200 by default)

`parsed.response` is what the platform expects back (a handshake echo, an ack); answer it as
soon as the messages are stored, never after the bot's turn (Tiledesk, for one, expects an
immediate 200 and takes replies through its REST API).

Outbound, for each canonical payload of a conversation (one queue per conversation)::

    rendered = ch.render(payload)                  # Rendered(bodies, choices); RenderError
    target = Target(http, config, endpoint, reply_context)   # who and where: bound once
    await ch.send(target, rendered.bodies)         # SendError (with .sent) on final failure

`render` is pure. Payload types outside `ch.capabilities` are degraded by `degrade.py`; for
buttons, quick replies, cards and carousels that is a numbered list, and `render` returns its
map in `Rendered.choices` (`{"1": payload, …}`; Telegram's reply keyboard gives
`{label: payload}`): the service keeps it, so a bare "2" from the user becomes that payload.

`send` is shared: it calls `post(target, body)` for each body in order and sets `.sent` on
the SendError that stops it. A new platform implements `post` (one platform call, with
`sender.call` for retries), not `send`.

At sync, when `channels.test_on_sync` is on: `await ch.test_credentials(http, config)`
(ChannelTestError names the config field), then `ch.setup(http, config, webhook_url)`. Desk
platforms (`ch.supports_handoff(config)`) also take `handoff(target, request)`,
`release(target)` and `resolve(target)`; their desk events come back through `parse` as
`{"type": "event", "event": "agent_joined" | "agent_released" | "closed", "data": {...}}`.

A new channel module: subclass `Channel[YourConfig]`, set `name`, `Config`, `capabilities`,
`default_api_url`; implement `verify`, `parse`, `render`, `post`, `test_credentials`; add the
class to `registry.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import aiohttp
import jwt
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator
from yarl import URL

from orchestrator import jsonutil
from orchestrator.backoff import exponential
from orchestrator.payloads import OutboundPayload, inbound_adapter, outbound_adapter
from orchestrator.tokens import as_bytes

log = logging.getLogger("orchestrator.channels")

# PyJWT >= 2.10 warns about short HMAC keys; platform keys are not ours to choose.
_ShortKeyWarning: type[Warning] = getattr(
    getattr(jwt, "warnings", None), "InsecureKeyLengthWarning", UserWarning
)

# ---------------------------------------------------------------- errors


class ChannelError(Exception):
    """Base of the errors a channel raises."""


class VerificationError(ChannelError):
    """An inbound request failed verification: answer `status` (401 or 403), change nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class SendError(ChannelError):
    """A platform call failed for good.

    `status` is the HTTP status (None for network errors and timeouts) and `detail` the
    platform's own error text; `retryable` says the last failure was transient (retries were
    exhausted); `sent` is how many bodies of the same `send` call went out before this one.
    """

    def __init__(
        self, status: int | None, detail: str, *, platform: str = "", retryable: bool = False
    ) -> None:
        where = f"HTTP {status}" if status is not None else "network error"
        super().__init__(f"{platform or 'platform'}: {where}: {detail}")
        self.status = status
        self.detail = detail
        self.platform = platform
        self.retryable = retryable
        self.sent = 0


class ChannelTestError(ChannelError):
    """The credentials test failed; `field` is the config key to look at. `retryable`: the
    platform could not be reached or failed on its side (timeout, reset, 5xx, 429), so the
    credentials were not judged."""

    def __init__(self, field: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.retryable = retryable


class RenderError(ChannelError):
    """A payload has nothing this channel can send (invalid, or custom without text)."""


class HandoffNotSupported(ChannelError):
    """The channel (or its configured mode) has no human hand-off."""


# ---------------------------------------------------------------- retry policy

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard `sender.call` tries one call. `sleep` is injectable so tests never wait."""

    attempts: int = 5  # in all, the first one included
    timeout: float = 10.0  # seconds, per attempt
    base_delay: float = 0.5
    max_delay: float = 30.0  # also caps a server's Retry-After
    jitter: bool = True
    sleep: Sleep = asyncio.sleep

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based): exponential and capped."""
        delay = exponential(attempt, self.base_delay, self.max_delay)
        if self.jitter:
            # "Equal jitter": conversations throttled together do not retry in lockstep.
            delay *= 0.5 + random.random() / 2
        return delay


# ---------------------------------------------------------------- inbound types


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a conversation lives on a platform (Botpress Messaging's endpoint mapping).

    `identity` is the bot's account on the platform, `sender` the user, `thread` the
    platform's conversation. All are non-empty strings. `thread` is the conversation key; a
    desk event whose user the platform does not name (a Chat21 group's system message) has
    sender `"*"`: look the conversation up by (identity, thread).
    """

    identity: str
    sender: str
    thread: str


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A webhook request as a channel sees it.

    `path` is the tail after `/webhooks/v1/<scope>/<channel>` ("" or "/…"), `query` the query
    string (last value wins), `headers` case-insensitive, `body` the raw bytes (signatures are
    computed over them), `json` the parsed body or None when it is not JSON. `public_url` is
    the URL the platform was given for this request (`server.external_url` + the path and
    query as received): platforms that sign the URL (Twilio) signed that one.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any = None
    public_url: str = ""

    @classmethod
    def build(
        cls,
        *,
        method: str = "POST",
        path: str = "",
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        public_url: str = "",
    ) -> InboundRequest:
        """An InboundRequest from plain values (the JSON is parsed here)."""
        return cls(
            method=method.upper(),
            path=path,
            query=dict(query or {}),
            headers=CIMultiDictProxy(CIMultiDict(headers or {})),
            body=body,
            json=parse_json(body),
            public_url=public_url,
        )

    @classmethod
    async def from_request(
        cls, request: web.Request, path: str = "", external_url: str = ""
    ) -> InboundRequest:
        """An InboundRequest from an aiohttp request (reads the body; size limits are aiohttp's).
        `external_url` is the public base URL the platform calls (`server.external_url`)."""
        body = await request.read()
        return cls(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=body,
            json=parse_json(body),
            public_url=f"{external_url.rstrip('/')}{request.raw_path}" if external_url else str(request.url),
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One platform event translated.

    `payload` is a canonical inbound payload (text, postback, quick_reply, image/audio/video/
    file, location, event). `is_echo` marks the bot's own message coming back: store nothing,
    answer nothing. `from_agent` marks a human agent's message in a desk conversation: store it
    if you like, never run the bot on it. `reply_context` is what `send`/`handoff` need to
    answer in this conversation (plain JSON, no secrets): keep the latest per conversation.
    `acks` are platform calls to make once the message is stored, in the conversation's send
    order (answer a Telegram callback query, show typing, disable clicked Slack buttons): each
    is given to `Channel.acknowledge`. `bot_absent` marks a message of a conversation the bot
    is no longer part of (a desk's agent phase): stored only into a conversation the service
    already has, and the bot never runs on it. `keepalive` are acks made again every
    `Channel.keepalive_every` seconds while the bot's turn for the message runs (Telegram's
    typing, which shows for 5 s only).
    """

    endpoint: Endpoint
    payload: dict[str, Any]
    platform_message_id: str | None = None
    is_echo: bool = False
    reply_context: dict[str, Any] = field(default_factory=dict)
    sender_name: str | None = None
    from_agent: bool = False
    bot_absent: bool = False
    acks: tuple[dict[str, Any], ...] = ()
    keepalive: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ImmediateResponse:
    """What to answer the platform's webhook call with."""

    status: int = 200
    body: bytes = b'{"ok":true}'
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_aiohttp(self) -> web.Response:
        """This answer as an aiohttp response."""
        return web.Response(
            status=self.status,
            body=self.body,
            content_type=self.content_type,
            headers=dict(self.headers),
        )


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A platform's report on a message it was sent (submitted, delivered, read, failed…).

    The service keeps the latest status per platform message id and makes a failed one a
    `delivery-failure` health event with `detail`, the platform's own error text.
    """

    platform_message_id: str
    status: str
    failed: bool = False
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedInbound:
    """The result of `parse`: zero or more messages, delivery statuses, and the answer for
    the platform."""

    messages: list[InboundMessage] = field(default_factory=list)
    response: ImmediateResponse = field(default_factory=ImmediateResponse)
    statuses: list[DeliveryStatus] = field(default_factory=list)


def bad_request(reason: str) -> ParsedInbound:
    """A verified request whose body we cannot read: 400 with the reason, no messages."""
    return ParsedInbound(response=ImmediateResponse(400, orjson.dumps({"error": reason})))


# ---------------------------------------------------------------- config


class ChannelConfig(BaseModel):
    """Base of every channel config: unknown keys are rejected; `apiUrl` replaces the
    platform's base URL (self-hosted platforms, tests)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    apiUrl: str | None = None

    @field_validator("apiUrl")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


ConfigT = TypeVar("ConfigT", bound=ChannelConfig)


# ---------------------------------------------------------------- outbound types


@dataclass(frozen=True, slots=True)
class Rendered:
    """What `render` made of one payload: the platform `bodies` to post in order (no
    addressing: `post` adds it from the target), and the `choices` the user may answer with a
    bare key (`{"1": payload, …}` of a numbered list, `{label: payload}` of a reply keyboard;
    empty when there is nothing to keep). `bodies` is empty only for typing on platforms
    without a typing indicator."""

    bodies: list[dict[str, Any]]
    choices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target(Generic[ConfigT]):
    """Where outbound calls go, bound once per delivery: the shared HTTP session, the client's
    config of the channel, the conversation's endpoint and the latest reply context the
    platform gave for it (plain JSON, see `InboundMessage.reply_context`)."""

    http: aiohttp.ClientSession
    config: ConfigT
    endpoint: Endpoint
    reply_context: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- the channel


class Channel(ABC, Generic[ConfigT]):
    """A platform adapter. Subclasses set `name`, `Config`, `capabilities`, `default_api_url`.

    `capabilities` are the canonical outbound payload types `render` sends natively; the others
    are degraded (see `degrade.py`), never dropped.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ChannelConfig]]
    capabilities: ClassVar[frozenset[str]]
    default_api_url: ClassVar[str]
    keepalive_every: float | None = None  # seconds between an InboundMessage's keepalive acks

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()

    def load_config(self, raw: Mapping[str, Any]) -> ConfigT:
        """The validated config (raises pydantic's ValidationError naming the field)."""
        return self.Config.model_validate(raw)  # type: ignore[return-value]

    def api_url(self, config: ConfigT) -> str:
        """The platform base URL: `apiUrl` when set, else the platform's public one."""
        return config.apiUrl or self.default_api_url

    def supports_handoff(self, config: ConfigT) -> bool:
        """Whether `handoff`/`release`/`resolve` work with this config."""
        return False

    @abstractmethod
    async def verify(self, req: InboundRequest, config: ConfigT) -> None:
        """Check the request is the platform's; raise VerificationError(401|403, reason)."""

    @abstractmethod
    def parse(self, req: InboundRequest, config: ConfigT) -> ParsedInbound:
        """Translate a verified request into inbound messages and the platform's answer."""

    @abstractmethod
    def render(self, payload: dict[str, Any]) -> Rendered:
        """A canonical outbound payload as platform bodies and the choices it offers (pure)."""

    async def send(self, target: Target[ConfigT], bodies: Sequence[dict[str, Any]]) -> None:
        """Post `bodies` in order; raise SendError (with `.sent`) on the first final failure."""
        for index, body in enumerate(bodies):
            try:
                await self.post(target, body)
            except SendError as exc:
                exc.sent = index
                raise

    @abstractmethod
    async def post(self, target: Target[ConfigT], body: dict[str, Any]) -> None:
        """Make the platform call for one rendered body (addressed from `target`); raise
        SendError when it fails for good."""

    @abstractmethod
    async def test_credentials(self, http: aiohttp.ClientSession, config: ConfigT) -> None:
        """Call a cheap authenticated endpoint; raise ChannelTestError(field, message)."""

    async def setup(self, http: aiohttp.ClientSession, config: ConfigT, webhook_url: str) -> None:
        """At sync, after the credentials test: register what the platform needs (Telegram's
        webhook, Messenger's page settings). `webhook_url` is this channel's public webhook
        URL for the client. Raise ChannelTestError(field, message) when the platform refuses."""

    async def acknowledge(self, target: Target[ConfigT], ack: Mapping[str, Any]) -> None:
        """Make one of an inbound message's `acks` calls (raise SendError on final failure)."""

    async def handoff(self, target: Target[ConfigT], request: Mapping[str, Any]) -> None:
        """Move the conversation to a human (desk platforms); `request` keys are per channel."""
        raise HandoffNotSupported(f"{self.name} has no human hand-off")

    async def release(self, target: Target[ConfigT]) -> None:
        """Give the conversation back to the bot (desk platforms)."""
        raise HandoffNotSupported(f"{self.name} has no human hand-off")

    async def resolve(self, target: Target[ConfigT], request: Mapping[str, Any] | None = None) -> None:
        """Close the conversation on the desk (desk platforms)."""
        raise HandoffNotSupported(f"{self.name} has no human hand-off")


# ---------------------------------------------------------------- helpers for channel modules


def parse_json(body: bytes) -> Any:
    """The JSON in `body`, or None when empty or not JSON."""
    if not body:
        return None
    try:
        return jsonutil.loads_limited(body)
    except (jsonutil.JSONDecodeError, jsonutil.TooDeep):
        return None


def validate_outbound(payload: Mapping[str, Any]) -> OutboundPayload:
    """The typed outbound payload, or RenderError naming what is wrong."""
    try:
        return outbound_adapter.validate_python(dict(payload))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        kind = payload.get("type")
        raise RenderError(f"invalid {kind!r} payload at {where}: {first['msg']}") from exc


def canonical_inbound(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """`payload` validated as a canonical inbound payload (None values dropped), or None
    (logged) when a platform sent something we translated into an invalid payload."""
    try:
        return inbound_adapter.validate_python(dict(payload)).to_dict()
    except ValidationError as exc:
        log.warning("dropping an untranslatable %r event: %s", payload.get("type"), exc.errors()[0]["msg"])
        return None


def secrets_equal(presented: str, expected: SecretStr | str) -> bool:
    """Constant-time comparison of a presented secret with the configured one."""
    value = expected.get_secret_value() if isinstance(expected, SecretStr) else expected
    return hmac.compare_digest(as_bytes(presented), as_bytes(value))


def hmac_sha256_hex(key: SecretStr | str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of `body`."""
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    return hmac.new(raw.encode(), body, hashlib.sha256).hexdigest()


def check_url_secret(req: InboundRequest, expected: SecretStr) -> None:
    """Verify a secret carried by the webhook URL, for platforms that sign nothing.

    The secret is either the `secret` query parameter or the last path segment of the tail
    (`…/webhooks/v1/<scope>/<channel>/<secret>`). Missing: 401; wrong: 403.
    """
    presented = req.query.get("secret") or req.path.rstrip("/").rpartition("/")[2]
    if not presented:
        raise VerificationError(401, "missing URL secret")
    if not secrets_equal(presented, expected):
        raise VerificationError(403, "wrong URL secret")


def jwt_encode(claims: Mapping[str, Any], key: SecretStr | str) -> str:
    """An HS256 JWT. The key is the platform's (its length is not ours to choose)."""
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _ShortKeyWarning)
        return jwt.encode(dict(claims), raw, algorithm="HS256")


def jwt_decode(token: str, key: SecretStr | str, *, audience: str | None = None) -> dict[str, Any]:
    """The claims of an HS256 JWT (jwt.InvalidTokenError when forged, expired, wrong audience)."""
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _ShortKeyWarning)
        try:
            return jwt.decode(
                token,
                raw,
                algorithms=["HS256"],
                audience=audience,
                options={"verify_aud": audience is not None},
            )
        except UnicodeError as exc:  # non-UTF-8 bytes in a header
            raise jwt.InvalidTokenError("token is not valid UTF-8") from exc


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else {} (platform bodies are not to be trusted)."""
    return value if isinstance(value, dict) else {}


def first_str(*values: Any) -> str | None:
    """The first value that is a non-empty string or a number, as a string."""
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float):
            return str(value)
    return None
