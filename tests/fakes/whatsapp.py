"""A fake WhatsApp Cloud API (Graph v19.0), from Meta's public Cloud API reference
(developers.facebook.com/docs/whatsapp/cloud-api).

- `Authorization: Bearer <token>` on every call; missing or wrong: 401 `{"error": {"message":
  "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code":
  190}}`; another phone number id: 400 code 100 (`Unsupported get request…`).
- `GET /v19.0/<phone number id>`: `{verified_name, display_phone_number, id}`.
- `POST /v19.0/<phone number id>/messages`: `messaging_product: whatsapp`, `to`, `type` and its
  object: text (`body` 1-4096), image/audio/video/document/sticker (`link` http(s)), location
  (latitude, longitude), interactive (`button`: body ≤ 1024, 1-3 reply buttons with unique ids
  ≤ 256 and titles 1-20, optional image header; `list`: a button text 1-20, 1-10 rows in all,
  row ids unique ≤ 200, titles 1-24; `cta_url`: `display_text` 1-20 and an http(s) `url`),
  template (`name`, `language.code`). Errors: 400 code 100 `(#100) Invalid parameter` with
  `error_data.details`. 200 `{messaging_product, contacts: [{input, wa_id}], messages: [{id}]}`.
- The 24-hour window as WhatsApp applies it: a non-template message to a user whose last message
  is older than 24 hours (or who never wrote) is accepted, then not delivered: it lands in
  `undelivered` (status `failed`, error 131047) instead of `delivered`.
- `throttle_next(n)`: 400 code 130429 `Rate limit hit`.

Webhooks (`build_webhook(spec)`), signed `X-Hub-Signature-256: sha256=HMAC(app secret, body)`.
Spec keys: `kind` (`text` default, `button_reply`/`list_reply` with `payload` and `title`,
`image`, `location`, `status` with `status` and `id`), `text`, `user` (wa_id), `age` (seconds
since the message was written, default 0), `signature` (`forged`, `none`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields
from tests.fakes.messenger import graph_error

WINDOW = 24 * 3600
MEDIA = ("image", "audio", "video", "document", "sticker")


class Invalid(Exception):
    """A 400 `(#100) Invalid parameter` with details."""


class WhatsAppFake(FakePlatform):
    """WhatsApp Cloud API (see the module docstring)."""

    name = "whatsapp"

    def __init__(
        self,
        *,
        phone_number_id: str = "106540352242922",
        access_token: str = "EAAwhatsappsystemusertoken0123",
        app_secret: str = "whatsapp-app-secret-0123456789",
        verify_token: str = "whatsapp-verify-token",
        waba_id: str = "102290129340398",
    ) -> None:
        self.phone_number_id, self.access_token = phone_number_id, access_token
        self.app_secret, self.verify_token, self.waba_id = app_secret, verify_token, waba_id
        self.last_inbound: dict[str, float] = {}  # wa_id → when the user last wrote
        self.delivered: list[dict[str, Any]] = []
        self.undelivered: list[dict[str, Any]] = []
        self._throttled = 0
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v19.0/{number}", self._number)
        router.add_post("/v19.0/{number}/messages", self._send)

    def throttle_next(self, count: int = 1) -> None:
        """Answer the next `count` sends with the rate-limit error (400, code 130429)."""
        self._throttled += count

    def _denied(self, request: web.Request) -> web.Response | None:
        if not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.access_token}"):
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190, status=401)
        if request.match_info["number"] != self.phone_number_id:
            number = request.match_info["number"]
            return graph_error(
                f"Unsupported get request. Object with ID '{number}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                33,
            )
        return None

    async def _number(self, request: web.Request) -> web.Response:
        return self._denied(request) or json_response(
            {
                "verified_name": "Support Desk",
                "display_phone_number": "+1 555-010-0199",
                "id": self.phone_number_id,
            }
        )

    async def _send(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        if self._throttled:
            self._throttled -= 1
            return graph_error("(#130429) Rate limit hit", 130429)
        body = await read_fields(request) or {}
        try:
            _check(body)
        except Invalid as exc:
            return graph_error(f"(#100) Invalid parameter: {exc}", 100)
        wamid = f"wamid.HBgL{next(self._ids):012d}"
        last = self.last_inbound.get(body["to"])
        in_window = last is not None and time.time() - last < WINDOW
        target = self.delivered if in_window or body["type"] == "template" else self.undelivered
        target.append({**body, "id": wamid})
        return json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A `messages` change as WhatsApp posts it, signed; see the module docstring."""
        kind = spec.get("kind", "text")
        user = str(spec.get("user", "16505551234"))
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100199", "phone_number_id": self.phone_number_id},
        }
        if kind == "status":
            status: dict[str, Any] = {
                "id": spec.get("id", "wamid.HBgLunknown"),
                "status": spec.get("status", "delivered"),
                "timestamp": str(int(time.time())),
                "recipient_id": user,
            }
            if status["status"] == "failed":
                status["errors"] = [
                    {
                        "code": 131047,
                        "title": "Re-engagement message",
                        "message": "Re-engagement message",
                        "error_data": {
                            "details": "Message failed to send because more than 24 hours have passed since "
                            "the customer last replied to this number."
                        },
                    }
                ]
            value["statuses"] = [status]
        else:
            written = time.time() - float(spec.get("age", 0))
            self.last_inbound[user] = max(self.last_inbound.get(user, 0.0), written)
            message: dict[str, Any] = {
                "from": user,
                "id": f"wamid.HBgLin{next(self._ids):012d}",
                "timestamp": str(int(written)),
                "type": "text",
            }
            if kind in ("button_reply", "list_reply"):
                reply = {"id": spec["payload"], "title": spec.get("title", spec["payload"])}
                message.update(type="interactive", interactive={"type": kind, kind: reply})
            elif kind == "image":
                message.update(type="image", image={"id": "1479537139650973", "mime_type": "image/jpeg"})
            elif kind == "location":
                message.update(
                    type="location", location={"latitude": 48.85, "longitude": 2.35, "name": "Shop"}
                )
            else:
                message["text"] = {"body": spec.get("text", "hello")}
            value["contacts"] = [{"profile": {"name": "Kerry Fisher"}, "wa_id": user}]
            value["messages"] = [message]
        body = orjson.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
            }
        )
        headers = {}
        if spec.get("signature") != "none":
            key = b"guessed" if spec.get("signature") == "forged" else self.app_secret.encode()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return Webhook(body, headers)


def _length(value: Any, low: int, high: int, name: str) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise Invalid(f"{name} must be a string of {low}-{high} characters")


def _url(value: Any, name: str) -> None:
    if not str(value or "").startswith(("http://", "https://")):
        raise Invalid(f"{name} must be a valid URL")


def _check(body: dict[str, Any]) -> None:
    if body.get("messaging_product") != "whatsapp":
        raise Invalid("messaging_product must be whatsapp")
    if not body.get("to"):
        raise Invalid("to is required")
    kind = body.get("type", "text")
    content = body.get(kind)
    if not isinstance(content, dict):
        raise Invalid(f"{kind} object is required")
    if kind == "text":
        _length(content.get("body"), 1, 4096, "text.body")
    elif kind in MEDIA:
        _url(content.get("link"), f"{kind}.link")
    elif kind == "location":
        if not all(isinstance(content.get(k), int | float) for k in ("latitude", "longitude")):
            raise Invalid("location.latitude and location.longitude are required")
    elif kind == "template":
        if not content.get("name") or not (content.get("language") or {}).get("code"):
            raise Invalid("template.name and template.language.code are required")
    elif kind == "interactive":
        _check_interactive(content)
    else:
        raise Invalid(f"type {kind} is not supported")


def _check_interactive(interactive: dict[str, Any]) -> None:
    kind, action = interactive.get("type"), interactive.get("action") or {}
    body = (interactive.get("body") or {}).get("text")
    if kind == "button":
        _length(body, 1, 1024, "interactive.body.text")
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            raise Invalid("interactive.action.buttons must have 1-3 buttons")
        ids = [b.get("reply", {}).get("id") for b in buttons]
        for button in buttons:
            _length(button.get("reply", {}).get("id"), 1, 256, "buttons[].reply.id")
            _length(button.get("reply", {}).get("title"), 1, 20, "buttons[].reply.title")
        if len(set(ids)) != len(ids):
            raise Invalid("buttons[].reply.id must be unique")
        header = interactive.get("header")
        if header is not None:
            _url((header.get("image") or {}).get("link"), "interactive.header.image.link")
    elif kind == "list":
        _length(body, 1, 4096, "interactive.body.text")
        _length(action.get("button"), 1, 20, "interactive.action.button")
        rows = [r for s in action.get("sections") or [] for r in s.get("rows") or []]
        if not 1 <= len(rows) <= 10:
            raise Invalid("interactive.action.sections must have 1-10 rows in all")
        for row in rows:
            _length(row.get("id"), 1, 200, "rows[].id")
            _length(row.get("title"), 1, 24, "rows[].title")
        if len({r["id"] for r in rows}) != len(rows):
            raise Invalid("rows[].id must be unique")
    elif kind == "cta_url":
        _length(body, 1, 1024, "interactive.body.text")
        parameters = action.get("parameters") or {}
        if action.get("name") != "cta_url":
            raise Invalid("interactive.action.name must be cta_url")
        _length(parameters.get("display_text"), 1, 20, "action.parameters.display_text")
        _url(parameters.get("url"), "action.parameters.url")
    else:
        raise Invalid("interactive.type must be button, list, cta_url, product or product_list")
