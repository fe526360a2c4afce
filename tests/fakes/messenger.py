"""A fake Graph API for Messenger (v12.0), from Meta's public Messenger Platform docs.

- `?access_token=` on every call; a wrong one: 400 `{"error": {"message": "Invalid OAuth access
  token - Cannot parse access token", "type": "OAuthException", "code": 190, "fbtrace_id"}}`.
- `GET /v12.0/me` (the page: `{id, name}`), `GET /v12.0/app` (`{id, name}`),
  `POST /v12.0/me/messenger_profile` (greeting, get_started, persistent_menu),
  `POST /v12.0/me/messages`: `recipient.id` of a user who wrote to the page (else code 100,
  subcode 2018001 `No matching user found`), `messaging_type`, and `message` (text ≤ 2000,
  `quick_replies` ≤ 13 with titles ≤ 20, attachments: image/audio/video/file with a URL, button
  template (text ≤ 640, 1-3 buttons), generic template (1-10 elements, title ≤ 80, ≤ 3
  buttons); buttons `postback`, `web_url`, `phone_number`, `account_link` (https URL)) or
  `sender_action` (`typing_on`, `typing_off`, `mark_seen`).
- `throttle_next`: the rate-limit error Graph sends with a 400: code 613 `(#613) Calls to this
  api have exceeded the rate limit.`

Webhooks (`build_webhook(spec)`), signed `X-Hub-Signature-256: sha256=HMAC(app secret, body)`.
Spec keys: `kind` (`text` default, `quick_reply` with `payload`, `postback` with `payload` and
`title`, `account_linking` with `code` (or `status: unlinked`), `echo`), `text`, `user`,
`signature` (`forged` or `none`).
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

BUTTON_TYPES = {"postback", "web_url", "phone_number", "account_link"}


def graph_error(message: str, code: int, subcode: int | None = None, status: int = 400) -> web.Response:
    """The Graph API's error body."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return json_response({"error": error}, status)


class Invalid(Exception):
    """A 400 `(#100) …`."""


class MessengerFake(FakePlatform):
    """Messenger through the Graph API (see the module docstring)."""

    name = "messenger"

    def __init__(
        self,
        *,
        app_id: str = "1234567890123",
        app_secret: str = "messenger-app-secret-0123456789",
        page_id: str = "106245678901234",
        access_token: str = "EAAfakepagetoken0123456789",
        verify_token: str = "messenger-verify-token",
    ) -> None:
        self.app_id, self.app_secret, self.page_id = app_id, app_secret, page_id
        self.access_token, self.verify_token = access_token, verify_token
        self.users: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.profile: dict[str, Any] = {}
        self._throttled = 0
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v12.0/me", self._me)
        router.add_get("/v12.0/app", self._app)
        router.add_post("/v12.0/me/messages", self._send)
        router.add_post("/v12.0/me/messenger_profile", self._profile)

    def throttle_next(self, count: int = 1) -> None:
        """Answer the next `count` calls with the rate-limit error (a 400, code 613)."""
        self._throttled += count

    def _denied(self, request: web.Request) -> web.Response | None:
        if not hmac.compare_digest(request.query.get("access_token", ""), self.access_token):
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        if self._throttled:
            self._throttled -= 1
            return graph_error("(#613) Calls to this api have exceeded the rate limit.", 613)
        return None

    async def _me(self, request: web.Request) -> web.Response:
        return self._denied(request) or json_response({"id": self.page_id, "name": "Desk page"})

    async def _app(self, request: web.Request) -> web.Response:
        return self._denied(request) or json_response({"id": self.app_id, "name": "Desk app"})

    async def _profile(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        body = await read_fields(request) or {}
        unknown = set(body) - {
            "greeting",
            "get_started",
            "persistent_menu",
            "ice_breakers",
            "whitelisted_domains",
        }
        if not body or unknown:
            return graph_error(f"(#100) Invalid keys {sorted(unknown)}", 100)
        self.profile.update(body)
        return json_response({"result": "success"})

    async def _send(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        body = await read_fields(request) or {}
        psid = str((body.get("recipient") or {}).get("id", ""))
        if psid not in self.users:
            return graph_error("(#100) No matching user found", 100, 2018001)
        try:
            if "sender_action" in body:
                if body["sender_action"] not in ("typing_on", "typing_off", "mark_seen"):
                    raise Invalid("param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF}")
            else:
                _check_message(body.get("message"))
        except Invalid as exc:
            return graph_error(f"(#100) {exc}", 100)
        self.sent.append(body)
        return json_response({"recipient_id": psid, "message_id": f"m_{next(self._ids)}"})

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A page event as Messenger posts it, signed; see the module docstring."""
        kind = spec.get("kind", "text")
        psid = str(spec.get("user", "6123456789012345"))
        self.users.add(psid)
        now = int(time.time() * 1000)
        event: dict[str, Any] = {"sender": {"id": psid}, "recipient": {"id": self.page_id}, "timestamp": now}
        mid = f"m_in{next(self._ids)}"
        if kind == "postback":
            event["postback"] = {
                "title": spec.get("title", spec["payload"]),
                "payload": spec["payload"],
                "mid": mid,
            }
        elif kind == "account_linking":
            status = spec.get("status", "linked")
            event["account_linking"] = {"status": status}
            if status == "linked":
                event["account_linking"]["authorization_code"] = spec.get("code", "acct-42")
        else:
            message: dict[str, Any] = {"mid": mid, "text": spec.get("text", "hello")}
            if kind == "quick_reply":
                message["quick_reply"] = {"payload": spec["payload"]}
            if kind == "echo":
                message.update(is_echo=True, app_id=int(self.app_id))
                event["sender"], event["recipient"] = {"id": self.page_id}, {"id": psid}
            event["message"] = message
        body = orjson.dumps(
            {"object": "page", "entry": [{"id": self.page_id, "time": now, "messaging": [event]}]}
        )
        headers = {}
        if spec.get("signature") != "none":
            key = b"guessed" if spec.get("signature") == "forged" else self.app_secret.encode()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return Webhook(body, headers)


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise Invalid("param message must be non-empty")
    quick = message.get("quick_replies")
    if quick is not None:
        if not isinstance(quick, list) or not 1 <= len(quick) <= 13:
            raise Invalid("param message[quick_replies] must have 1 to 13 items")
        for q in quick:
            if (
                q.get("content_type") != "text"
                or not 1 <= len(q.get("title", "")) <= 20
                or not q.get("payload")
            ):
                raise Invalid("Quick reply title must be 1-20 characters with a payload")
    if "text" in message:
        if not isinstance(message["text"], str) or not 1 <= len(message["text"]) <= 2000:
            raise Invalid("param message[text] must be a UTF-8 encoded string of 1-2000 characters")
        return
    attachment = message.get("attachment")
    if not isinstance(attachment, dict):
        raise Invalid("Must send either message text or an attachment")
    kind, payload = attachment.get("type"), attachment.get("payload") or {}
    if kind in ("image", "audio", "video", "file"):
        if not str(payload.get("url", "")).startswith(("http://", "https://")):
            raise Invalid("Attachment URL is invalid")
        return
    if kind != "template":
        raise Invalid("param message[attachment][type] is invalid")
    template = payload.get("template_type")
    if template == "button":
        if not 1 <= len(payload.get("text", "")) <= 640 or not 1 <= len(payload.get("buttons") or []) <= 3:
            raise Invalid("Button template needs text of 1-640 characters and 1-3 buttons")
        _check_buttons(payload["buttons"])
    elif template == "generic":
        elements = payload.get("elements") or []
        if not 1 <= len(elements) <= 10:
            raise Invalid("Generic template needs 1-10 elements")
        for element in elements:
            if not 1 <= len(element.get("title", "")) <= 80 or len(element.get("buttons") or []) > 3:
                raise Invalid("Element title must be 1-80 characters, with at most 3 buttons")
            _check_buttons(element.get("buttons") or [])
    else:
        raise Invalid("param template_type is invalid")


def _check_buttons(buttons: list[Any]) -> None:
    for button in buttons:
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            raise Invalid(f"button type {kind} is invalid")
        if kind == "account_link":
            if not str(button.get("url", "")).startswith("https://"):
                raise Invalid("account_link url must be https")
            continue
        if not 1 <= len(button.get("title", "")) <= 20:
            raise Invalid("Button title must be 1-20 characters")
        if kind == "web_url" and not str(button.get("url", "")).startswith(("http://", "https://")):
            raise Invalid("web_url url is invalid")
        if kind in ("postback", "phone_number") and not button.get("payload"):
            raise Invalid("button payload is required")
