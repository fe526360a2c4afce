"""A fake Vonage Messages API v1 and Account API, from Vonage's public API reference
(developer.vonage.com/api/messages-olympus, /api/account).

- `POST /v1/messages` with HTTP Basic auth `api_key:api_secret` (else 401 `{"type": …#unauthorized,
  "title": "Unauthorized", "detail": "You did not provide correct credentials."}`); body `to`,
  `from`, `channel` (`sms`, `whatsapp`, `messenger`, `viber_service`), `message_type` allowed
  on that channel (sms: text; messenger: text, image, audio, video, file; whatsapp: those and
  custom; viber: text, image), text ≤ 1000 (sms), 640 (messenger), 4096 (whatsapp), media
  `url` http(s), WhatsApp `custom` interactive messages (reply buttons 1-3, titles ≤ 20; list
  rows 1-10, titles ≤ 24, a button text) and locations. A bad body: 422 `Invalid params` with
  `invalid_parameters`. 202 `{"message_uuid"}`. `fail_next(n, 429)` for `Rate Limit Hit`.
- `GET /account/get-balance?api_key=&api_secret=`: `{"value", "autoReload"}`, 401 otherwise.

Webhooks (`build_webhook(spec)`): an inbound message or status as Vonage posts it, with
`Authorization: Bearer <JWT HS256(signature secret)>` whose claims carry `api_key` and
`payload_hash` (SHA-256 of the body). Spec keys: `kind` (`text` default, `reply` with `payload`
and `title`, `image` with `url`, `status` with `status`), `channel` (default `whatsapp`),
`text`, `from`, `to`, `signature` (`none`, `forged`, `hash` (a hash of another body),
`api_key` (another account's)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt
import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

TYPES = {
    "sms": {"text"},
    "messenger": {"text", "image", "audio", "video", "file"},
    "whatsapp": {"text", "image", "audio", "video", "file", "custom", "template", "sticker"},
    "viber_service": {"text", "image"},
}
TEXT_LIMIT = {"sms": 1000, "messenger": 640, "whatsapp": 4096, "viber_service": 1000}
ERRORS = "https://developer.vonage.com/api-errors"


def vonage_error(status: int, kind: str, title: str, detail: str, **extra: Any) -> web.Response:
    """Vonage's RFC 7807 error body."""
    body = {"type": f"{ERRORS}#{kind}", "title": title, "detail": detail, "instance": str(uuid.uuid4())}
    return json_response({**body, **extra}, status)


class Invalid(Exception):
    """A 422 naming the parameter."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


class VonageFake(FakePlatform):
    """Vonage Messages API (see the module docstring)."""

    name = "vonage"

    def __init__(
        self,
        *,
        api_key: str = "a1b2c3d4",
        api_secret: str = "vonage-api-secret-0123",
        signature_secret: str = "vonage-signature-secret-0123456789abcdef",
        number: str = "14157386102",
    ) -> None:
        self.api_key, self.api_secret, self.signature_secret = api_key, api_secret, signature_secret
        self.number = number
        self.sent: list[dict[str, Any]] = []
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._message)
        router.add_get("/account/get-balance", self._balance)

    async def _balance(self, request: web.Request) -> web.Response:
        key, secret = request.query.get("api_key", ""), request.query.get("api_secret", "")
        if key != self.api_key or not hmac.compare_digest(secret, self.api_secret):
            return web.Response(status=401, text="")
        return json_response({"value": 10.28, "autoReload": False})

    async def _message(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return vonage_error(
                401, "unauthorized", "Unauthorized", "You did not provide correct credentials."
            )
        body = await read_fields(request) or {}
        try:
            _check(body)
        except Invalid as exc:
            return vonage_error(
                422,
                "invalid-params",
                "Invalid params",
                "The value of one or more parameters is invalid.",
                invalid_parameters=[{"name": exc.name, "reason": exc.reason}],
            )
        self.sent.append(body)
        return json_response({"message_uuid": str(uuid.uuid4())}, 202)

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """An inbound message or status, signed; see the module docstring."""
        kind = spec.get("kind", "text")
        channel = spec.get("channel", "whatsapp")
        user, bot = str(spec.get("from", "447700900001")), str(spec.get("to", self.number))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if kind == "status":
            data: dict[str, Any] = {
                "message_uuid": spec.get("uuid", str(uuid.uuid4())),
                "to": user,
                "from": bot,
                "timestamp": now,
                "status": spec.get("status", "delivered"),
                "channel": channel,
            }
            if data["status"] in ("rejected", "undeliverable"):
                data["error"] = {
                    "type": f"{ERRORS}#1300",
                    "title": 1300,
                    "detail": "Not part of the provider network",
                }
        else:
            data = {
                "channel": channel,
                "message_uuid": str(uuid.uuid4()),
                "to": bot,
                "from": user,
                "timestamp": now,
                "profile": {"name": "Jane Smith"},
            }
            if kind == "reply":
                data.update(
                    message_type="reply", reply={"id": spec["payload"], "title": spec.get("title", "")}
                )
            elif kind == "image":
                data.update(message_type="image", image={"url": spec["url"]})
            else:
                data.update(message_type="text", text=spec.get("text", "hello"))
        body = orjson.dumps(data)
        headers = {}
        mode = spec.get("signature")
        if mode != "none":
            hashed = b"{}" if mode == "hash" else body
            claims = {
                "iat": int(time.time()),
                "jti": str(uuid.uuid4()),
                "iss": "Vonage",
                "payload_hash": hashlib.sha256(hashed).hexdigest(),
                "api_key": "other000" if mode == "api_key" else self.api_key,
                "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            }
            key = "guessed-secret-guessed-secret-0000" if mode == "forged" else self.signature_secret
            headers["Authorization"] = f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"
        return Webhook(body, headers)


def _check(body: dict[str, Any]) -> None:
    channel = body.get("channel")
    if channel not in TYPES:
        raise Invalid("channel", f"must be one of {sorted(TYPES)}")
    for name in ("to", "from"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise Invalid(name, "is required")
    kind = body.get("message_type")
    if kind not in TYPES[channel]:
        raise Invalid("message_type", f"{kind} is not supported on {channel}")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT[channel]:
            raise Invalid("text", f"must be 1 to {TEXT_LIMIT[channel]} characters")
    elif kind in ("image", "audio", "video", "file", "sticker"):
        if not str((body.get(kind) or {}).get("url", "")).startswith(("http://", "https://")):
            raise Invalid(f"{kind}.url", "must be a URL")
    elif kind == "custom":
        _check_custom(body.get("custom"))


def _check_custom(custom: Any) -> None:
    if not isinstance(custom, dict):
        raise Invalid("custom", "must be an object")
    if custom.get("type") == "location":
        place = custom.get("location") or {}
        if not all(isinstance(place.get(k), int | float) for k in ("latitude", "longitude")):
            raise Invalid("custom.location", "latitude and longitude are required")
        return
    if custom.get("type") != "interactive":
        raise Invalid("custom.type", "must be interactive or location")
    interactive = custom.get("interactive") or {}
    if not (interactive.get("body") or {}).get("text"):
        raise Invalid("custom.interactive.body.text", "is required")
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            raise Invalid("custom.interactive.action.buttons", "must have 1 to 3 buttons")
        for button in buttons:
            reply = button.get("reply") or {}
            if (
                button.get("type") != "reply"
                or not reply.get("id")
                or not 1 <= len(reply.get("title", "")) <= 20
            ):
                raise Invalid("custom.interactive.action.buttons.reply", "needs an id and a title of 1-20")
    elif interactive.get("type") == "list":
        rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
        if not 1 <= len(rows) <= 10 or not 1 <= len(action.get("button", "")) <= 20:
            raise Invalid("custom.interactive.action", "a list needs a button text and 1 to 10 rows")
        if any(not r.get("id") or not 1 <= len(r.get("title", "")) <= 24 for r in rows):
            raise Invalid("custom.interactive.action.sections.rows", "needs an id and a title of 1-24")
    else:
        raise Invalid("custom.interactive.type", "must be button or list")
