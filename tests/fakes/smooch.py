"""A fake Sunshine Conversations (Smooch) API v2, from the public API reference
(docs.smooch.io/rest).

- HTTP Basic auth `keyId:secret` on every call; missing or wrong: 401 `{"errors": [{"code":
  "unauthorized", "title": …}]}`; another app's id: 403 `forbidden`.
- `GET /v2/apps/<appId>`: `{"app": {"id", "displayName", …}}`.
- `POST /v2/apps/<appId>/conversations/<id>/messages`: `author.type` must be `business`;
  `content` of type `text` (text ≤ 4096, or actions), `image`/`file` (`mediaUrl` http(s)),
  `location` (`coordinates.lat/long`), `carousel` (1-10 items, each with a title and ≤ 3
  `postback`/`link`/`webview` actions). Actions: `postback` (text, payload), `link` (text, uri),
  `reply` (text, payload; not mixed with other action types), `webview`, `locationRequest`.
  Unknown conversation: 404 `conversation_not_found`; a bad body: 400 `bad_request`. 201
  `{"messages": [{"id", "received", "author", "content"}]}`.
- `POST …/activity`: `typing:start`, `typing:stop` or `conversation:read`.
- `fail_next(n, 429, retry_after=…)` for the rate limit.

Webhooks (`build_webhook(spec)`): a v2 webhook `{app, webhook, events: [...]}` with the
`X-API-Key` header = the webhook secret. Spec keys: `kind` (`text` default, `reply` with
`payload`, `postback` with `payload`, `image` with `url`, `echo`), `text`, `user`,
`conversation`, `secret` (`forged`, `none`).
"""

from __future__ import annotations

import base64
import hmac
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

ACTION_FIELDS = {
    "postback": ("text", "payload"),
    "link": ("text", "uri"),
    "reply": ("text", "payload"),
    "webview": ("text", "uri", "fallback"),
    "locationRequest": ("text",),
}


def smooch_error(status: int, code: str, title: str) -> web.Response:
    """Sunshine's error body."""
    return json_response({"errors": [{"code": code, "title": title}]}, status)


class Invalid(Exception):
    """A 400 `bad_request`."""


class SmoochFake(FakePlatform):
    """Sunshine Conversations v2 (see the module docstring)."""

    name = "smooch"

    def __init__(
        self,
        *,
        app_id: str = "5e4af71a81966cfff3ef6550",
        key_id: str = "app_5e4af71a81966cfff3ef6551",
        key_secret: str = "smooch-key-secret-0123456789abcdef",
        webhook_secret: str = "smooch-webhook-secret-0123",
    ) -> None:
        self.app_id, self.key_id, self.key_secret = app_id, key_id, key_secret
        self.webhook_secret = webhook_secret
        self.conversations: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.activities: list[str] = []
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v2/apps/{app}", self._app)
        router.add_post("/v2/apps/{app}/conversations/{conversation}/messages", self._message)
        router.add_post("/v2/apps/{app}/conversations/{conversation}/activity", self._activity)

    def _denied(self, request: web.Request) -> web.Response | None:
        expected = "Basic " + base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        header = request.headers.get("Authorization", "")
        if not header:
            return smooch_error(401, "unauthorized", "Authorization is required")
        if not hmac.compare_digest(header, expected):
            return smooch_error(401, "unauthorized", "Invalid auth token")
        if request.match_info["app"] != self.app_id:
            return smooch_error(403, "forbidden", "Cannot access this app")
        return None

    async def _app(self, request: web.Request) -> web.Response:
        return self._denied(request) or json_response(
            {"app": {"id": self.app_id, "displayName": "Support desk", "settings": {}}}
        )

    def _conversation(self, request: web.Request) -> web.Response | None:
        if request.match_info["conversation"] not in self.conversations:
            return smooch_error(404, "conversation_not_found", "Conversation not found")
        return None

    async def _message(self, request: web.Request) -> web.Response:
        denied = self._denied(request) or self._conversation(request)
        if denied:
            return denied
        body = await read_fields(request) or {}
        try:
            if (body.get("author") or {}).get("type") != "business":
                raise Invalid("author.type must be business or user")
            _check_content(body.get("content"))
        except Invalid as exc:
            return smooch_error(400, "bad_request", str(exc))
        self.sent.append(body)
        message = {
            "id": f"msg{next(self._ids):020d}",
            "received": datetime.now(UTC).isoformat(),
            "author": body["author"],
            "content": body["content"],
        }
        return json_response({"messages": [message]}, 201)

    async def _activity(self, request: web.Request) -> web.Response:
        denied = self._denied(request) or self._conversation(request)
        if denied:
            return denied
        body = await read_fields(request) or {}
        if body.get("type") not in ("typing:start", "typing:stop", "conversation:read"):
            return smooch_error(
                400, "bad_request", "type must be one of typing:start, typing:stop, conversation:read"
            )
        self.activities.append(body["type"])
        return json_response({}, 200)

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A v2 webhook with one event; see the module docstring."""
        kind = spec.get("kind", "text")
        user = str(spec.get("user", "5963c0d619a30a2e00de36b8"))
        conversation = str(spec.get("conversation", "c51d7a8e3e1f2d8a1ab0b1a8"))
        self.conversations.add(conversation)
        now = datetime.now(UTC).isoformat()
        event_id = f"evt{next(self._ids):020d}"
        if kind == "postback":
            payload: dict[str, Any] = {
                "conversation": {"id": conversation, "type": "personal"},
                "postback": {"payload": spec["payload"], "actionText": spec.get("text")},
                "user": {"id": user},
                "source": {"type": "web"},
            }
            event = {"id": event_id, "createdAt": now, "type": "conversation:postback", "payload": payload}
        else:
            content: dict[str, Any] = {"type": "text", "text": spec.get("text", "hello")}
            if kind == "reply":
                content["payload"] = spec["payload"]
            elif kind == "image":
                content = {"type": "image", "mediaUrl": spec["url"], "mediaType": "image/jpeg"}
            author: dict[str, Any] = {"type": "user", "userId": user, "displayName": "Dana"}
            if kind == "echo":
                author = {"type": "business", "displayName": "Support desk"}
            message = {
                "id": f"msg{next(self._ids):020d}",
                "received": now,
                "author": author,
                "content": content,
                "source": {"type": "web"},
            }
            event = {
                "id": event_id,
                "createdAt": now,
                "type": "conversation:message",
                "payload": {"conversation": {"id": conversation, "type": "personal"}, "message": message},
            }
        body = orjson.dumps(
            {"app": {"id": self.app_id}, "webhook": {"id": "wh1", "version": "v2"}, "events": [event]}
        )
        headers = {}
        if spec.get("secret") != "none":
            headers["X-API-Key"] = "guessed" if spec.get("secret") == "forged" else self.webhook_secret
        return Webhook(body, headers)


def _check_actions(actions: Any, allowed: set[str]) -> None:
    if not isinstance(actions, list):
        raise Invalid("actions must be an array")
    if not all(isinstance(a, dict) and a.get("type") in allowed for a in actions):
        raise Invalid(f"action types must be among {sorted(allowed)}")
    kinds = {a["type"] for a in actions}
    if "reply" in kinds and len(kinds) > 1:
        raise Invalid("reply actions cannot be mixed with other action types")
    for action in actions:
        for name in ACTION_FIELDS[action["type"]]:
            if name != "fallback" and (not isinstance(action.get(name), str) or not action[name]):
                raise Invalid(f"action.{name} is required")
        uri = action.get("uri")
        if uri is not None and not str(uri).startswith(("http://", "https://", "tel:", "mailto:")):
            raise Invalid("action.uri must be a valid URI")


def _check_content(content: Any) -> None:
    if not isinstance(content, dict):
        raise Invalid("content is required")
    kind = content.get("type")
    if kind == "text":
        text = content.get("text")
        if not isinstance(text, str) or len(text) > 4096 or (not text and not content.get("actions")):
            raise Invalid("content.text must be a string of at most 4096 characters")
        if "actions" in content:
            _check_actions(content["actions"], set(ACTION_FIELDS))
    elif kind in ("image", "file"):
        if not str(content.get("mediaUrl", "")).startswith(("http://", "https://")):
            raise Invalid("content.mediaUrl must be a valid URL")
    elif kind == "location":
        coordinates = content.get("coordinates") or {}
        if not all(isinstance(coordinates.get(k), int | float) for k in ("lat", "long")):
            raise Invalid("content.coordinates.lat and .long are required")
    elif kind == "carousel":
        items = content.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 10:
            raise Invalid("content.items must have 1 to 10 items")
        for item in items:
            if not item.get("title") or len(item["title"]) > 128:
                raise Invalid("items[].title is required (at most 128 characters)")
            actions = item.get("actions") or []
            if len(actions) > 3:
                raise Invalid("items[].actions can have at most 3 actions")
            _check_actions(actions, {"postback", "link", "webview"})
    else:
        raise Invalid(
            "content.type must be one of text, image, file, location, carousel, list, form, template"
        )
