"""A fake MessageMedia Conversations API (beta, Facebook Messenger).

Follows the MessageMedia Conversations API docs and its SDK's docs:
- Auth: `Authorization: Basic base64(key:secret)` on every call; missing or wrong:
  401 `{"message":"Unauthorized",…}` (platform-wide). An account not provisioned for
  Conversations: 400 `The account is not provisioned.`.
- `POST /beta/conversations/users/{appUserId}/messages` (`/v1/` accepted as an alias):
  `channel` must be `facebook` (lower case); bodies: text `{channel, text}`, image
  `{channel, type: "image", media}`, buttons `{channel, type: "actions", text,
  actions: [{type: "reply", displayText, responseText}]}`; anything else: 400
  `The posted request is invalid or the account is not provisioned.`; unknown user: 404
  `The app user does not exist.`. Success echoes `{channel, text}`. Error bodies follow
  MessageMedia's general REST convention `{"message", "details"}` [assumed].
- `GET /beta/conversations/users`, `…/users/{id}`, `…/users/{id}/messages` as documented, and
  `POST /beta/conversations/provision {name, callback_url?}` (409 when already provisioned).

Webhooks (`build_webhook(spec)`): the callback body is undocumented; this fake posts the shape
the reference designs, `{id, direction, channel, text, timestamp, metadata: {user_id,
account_id}}`, unsigned (the callback URL carries the secret). Spec keys: `kind` (`text`
default, `reply`: a tapped reply action, text = its `responseText`; `image`: `media` set;
`echo`: direction SENT), `user`, `text`, `media`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

INVALID = "The posted request is invalid or the account is not provisioned."


def mm_error(status: int, message: str, *details: str) -> web.Response:
    """MessageMedia's error body."""
    return json_response({"message": message, "details": list(details)}, status)


class MessageMediaFake(FakePlatform):
    """MessageMedia Conversations (see the module docstring)."""

    name = "messagemedia"

    def __init__(
        self,
        *,
        api_key: str = "mm-api-key",
        api_secret: str = "mm-api-secret-0123456789abcdef",
        provisioned: bool = True,
        account_id: str = "FunGuys007",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.provisioned = provisioned
        self.account_id = account_id
        self.callback_url: str | None = None
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """The Conversations endpoints, under /beta and the older /v1."""
        for prefix in ("/beta", "/v1"):
            base = f"{prefix}/conversations"
            router.add_post(f"{base}/users/{{user_id}}/messages", self._send)
            router.add_get(f"{base}/users/{{user_id}}/messages", self._user_messages)
            router.add_get(f"{base}/users/{{user_id}}", self._user)
            router.add_get(f"{base}/users", self._users)
            router.add_post(f"{base}/provision", self._provision)

    def add_user(self, user_id: str, given_name: str = "Ben", surname: str = "Sims") -> dict[str, Any]:
        """An app user (a Facebook user who wrote to the page)."""
        self.messages.setdefault(user_id, [])
        return self.users.setdefault(user_id, {"id": user_id, "given_name": given_name, "surname": surname})

    # ------------------------------------------------------------ auth

    def _authenticate(self, request: web.Request, *, provisioning: bool = False) -> web.Response | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key = secret = ""
        if (
            scheme.lower() != "basic"
            or key != self.api_key
            or not hmac.compare_digest(secret, self.api_secret)
        ):
            return mm_error(401, "Unauthorized", "Invalid or missing Basic credentials")
        if not self.provisioned and not provisioning:
            return mm_error(400, "The account is not provisioned.")
        return None

    # ------------------------------------------------------------ routes

    async def _send(self, request: web.Request) -> web.Response:
        denied = self._authenticate(request)
        if denied:
            return denied
        body = await read_fields(request)
        problem = _body_error(body)
        if problem:
            return mm_error(400, "Bad Request", INVALID, problem)
        assert body is not None
        user_id = request.match_info["user_id"]
        if user_id not in self.users:
            return mm_error(404, "The app user does not exist.")
        self.messages[user_id].append(
            {
                "direction": "SENT",
                "text": body.get("text", ""),
                "channel": "FACEBOOK",
                "timestamp": _now(),
                **({"media": body["media"]} if "media" in body else {}),
            }
        )
        return json_response({"channel": body["channel"], "text": body.get("text", "")})

    async def _users(self, request: web.Request) -> web.Response:
        denied = self._authenticate(request)
        return denied or json_response({"data": list(self.users.values())})

    async def _user(self, request: web.Request) -> web.Response:
        denied = self._authenticate(request)
        if denied:
            return denied
        user = self.users.get(request.match_info["user_id"])
        return json_response(user) if user else mm_error(404, "The app user does not exist.")

    async def _user_messages(self, request: web.Request) -> web.Response:
        denied = self._authenticate(request)
        if denied:
            return denied
        user_id = request.match_info["user_id"]
        if user_id not in self.users:
            return mm_error(404, "The app user does not exist.")
        return json_response(
            {
                "messages": {"data": self.messages[user_id]},
                "metadata": {"user_id": user_id, "account_id": self.account_id},
            }
        )

    async def _provision(self, request: web.Request) -> web.Response:
        denied = self._authenticate(request, provisioning=True)
        if denied:
            return denied
        body = await read_fields(request)
        if not body or not isinstance(body.get("name"), str) or not body["name"]:
            return mm_error(400, "Not a valid request body.")
        if self.provisioned:
            return mm_error(409, "The account has already been provisioned.")
        self.provisioned = True
        self.callback_url = body.get("callback_url")
        return json_response({"name": body["name"], "callback_url": self.callback_url})

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A callback as designed in the reference; see the module docstring for `spec`."""
        kind = spec.get("kind", "text")
        user = spec.get("user", "3898c5e4-73cc-44f9-812f-3698a4c3bb1d")
        self.add_user(user)
        body: dict[str, Any] = {
            "id": f"9f1c{next(self._ids):08d}",
            "direction": "SENT" if kind == "echo" else "RECEIVED",
            "channel": "FACEBOOK",
            "text": spec.get("text", "1" if kind == "reply" else "hello"),
            "timestamp": _now(),
            "metadata": {"user_id": user, "account_id": self.account_id},
        }
        if kind == "image":
            body["media"] = spec.get("media", "https://files.fake/photo.png")
            body["text"] = spec.get("text", "")
        if kind != "echo":
            self.messages[user].append(
                {k: v for k, v in body.items() if k in ("direction", "text", "channel", "timestamp")}
            )
        return Webhook(orjson.dumps(body))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _body_error(body: dict[str, Any] | None) -> str | None:
    """Why a send body is invalid, or None."""
    if body is None:
        return "body must be a JSON object"
    if body.get("channel") != "facebook":
        return "channel must be facebook"
    kind = body.get("type", "text")
    if kind == "text":
        return None if isinstance(body.get("text"), str) and body["text"] else "text is required"
    if kind == "image":
        return None if isinstance(body.get("media"), str) and body["media"] else "media is required"
    if kind == "actions":
        actions = body.get("actions")
        if not isinstance(body.get("text"), str) or not isinstance(actions, list) or not actions:
            return "text and actions are required"
        for action in actions:
            if (
                not isinstance(action, dict)
                or action.get("type") != "reply"
                or not all(
                    isinstance(action.get(k), str) and action[k] for k in ("displayText", "responseText")
                )
            ):
                return "each action needs type reply, displayText and responseText"
        return None
    return f"type {kind} is not supported"
