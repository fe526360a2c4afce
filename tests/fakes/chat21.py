"""A fake Chat21: `chat21-http-server` REST and `chat21-server` observer webhooks.

Follows chat21-server's HTTP API and webhook observer:
- Auth: `Authorization: <raw JWT>` with no scheme, or `?jwt=`/`?JWT=`/`?token=`;
  HS256 with the shared `JWT_KEY`, `exp` honoured. No or invalid token (a `JWT `/`Bearer `
  prefix makes it invalid): 403 `{"success":false,"msg":"Unauthorized."}`. The token's
  `app_id` differing from the path's app: 401 with an empty body.
- `POST /api/{app_id}/messages`: `sender_fullname`, `recipient_id`, `recipient_fullname`
  required, else **405 with a plain-text body** (`Sender Fullname is mandatory`, …);
  `channel_type` defaults to `direct`; the sender is the token's `sub` (an admin may set
  `sender_id`). Answers `200 {"success": true}` (no message id).
- `GET /api/{app_id}/{user_id}/conversations`: the caller's conversations (`sub` must be
  `user_id` unless admin, else 403).

Webhooks (`build_webhook(spec)`): the observer's `message-sent` envelope, a plain POST with
only `Content-Type` (Chat21 signs nothing; the target URL carries the secret). `signature`:
`none` (default, as Chat21 does), `jwt` (adds `Authorization: <raw JWT>`, the observer's
`01-OBSERVER` token signed with `JWT_KEY`, for deployments that put it there), `forged` (the same
signed with a wrong key). Other spec keys:
`kind` (`text` default, `action`: `attributes.action`, `echo`: sent by the bot, `info`: a
system `CHAT_CLOSED` label), `channel_type` (`direct` default, `group`), `sender`,
`sender_fullname`, `recipient` (default: the bot, or `group_id`), `text`, `action`,
`event_type` (default `message-sent`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields, text_response

UNAUTHORIZED = {"success": False, "msg": "Unauthorized."}


class Chat21Fake(FakePlatform):
    """Chat21 (see the module docstring)."""

    name = "chat21"

    def __init__(
        self,
        *,
        app_id: str = "tilechat",
        jwt_key: str = "chat21-jwt-key-0123456789abcdefghij",
        bot_id: str = "bot-1",
        group_id: str = "support-group-64690469599137001a6dc6f5-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ) -> None:
        self.app_id = app_id
        self.jwt_key = jwt_key
        self.bot_id = bot_id
        self.group_id = group_id
        self.messages: list[dict[str, Any]] = []
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """The REST endpoints under /api."""
        router.add_post("/api/{app_id}/messages", self._post_message)
        router.add_get("/api/{app_id}/{user_id}/conversations", self._conversations)

    def token_for(
        self,
        user_id: str,
        *,
        app_id: str | None = None,
        admin: bool = False,
        expires_in: int = 3600,
        key: str | None = None,
    ) -> str:
        """A JWT as Tiledesk's createCustomToken issues them."""
        now = int(time.time())
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": user_id,
            "client_id": user_id,
            "user_id": user_id,
            "app_id": app_id or self.app_id,
            "iat": now,
            "exp": now + expires_in,
            "aud": ["rabbitmq", user_id],
            "kid": "tiledesk-key",
            "tiledesk_api_roles": "admin" if admin else "user",
        }
        return jwt.encode(claims, key or self.jwt_key, algorithm="HS256")

    # ------------------------------------------------------------ auth

    def _authenticate(self, request: web.Request) -> dict[str, Any] | web.Response:
        token = (
            request.headers.get("Authorization")
            or request.query.get("jwt")
            or request.query.get("JWT")
            or request.query.get("token")
        )
        if not token:
            return json_response(UNAUTHORIZED, 403)
        try:
            claims = jwt.decode(token, self.jwt_key, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.InvalidTokenError:
            return json_response(UNAUTHORIZED, 403)
        if claims.get("app_id") != request.match_info["app_id"]:
            return web.Response(status=401)
        return claims

    # ------------------------------------------------------------ routes

    async def _post_message(self, request: web.Request) -> web.Response:
        claims = self._authenticate(request)
        if isinstance(claims, web.Response):
            return claims
        body = await read_fields(request)
        if body is None:
            return text_response("Bad Request", 400)
        for key, label in (
            ("sender_fullname", "Sender Fullname"),
            ("recipient_id", "Recipient id"),
            ("recipient_fullname", "Recipient Fullname"),
        ):
            if not body.get(key):
                return text_response(f"{label} is mandatory", 405)
        sender = claims["sub"]
        if claims.get("tiledesk_api_roles") == "admin" and body.get("sender_id"):
            sender = body["sender_id"]
        message = {
            "message_id": str(uuid.uuid4()),
            "sender": sender,
            "sender_fullname": body["sender_fullname"],
            "recipient": body["recipient_id"],
            "recipient_fullname": body["recipient_fullname"],
            "channel_type": body.get("channel_type") or "direct",
            "text": body.get("text"),
            "attributes": body.get("attributes"),
            "metadata": body.get("metadata"),
            "app_id": self.app_id,
            "timestamp": body.get("timestamp") or int(time.time() * 1000),
        }
        if "type" in body:
            message["type"] = body["type"]
        self.messages.append(message)
        return json_response({"success": True})

    async def _conversations(self, request: web.Request) -> web.Response:
        claims = self._authenticate(request)
        if isinstance(claims, web.Response):
            return claims
        user_id = request.match_info["user_id"]
        if claims["sub"] != user_id and claims.get("tiledesk_api_roles") != "admin":
            return json_response(UNAUTHORIZED, 403)
        peers = {m["recipient"] for m in self.messages if m["sender"] == user_id}
        return json_response({"success": True, "result": [{"convers_with": p} for p in peers]})

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """The observer's message envelope; see the module docstring for `spec`."""
        kind = spec.get("kind", "text")
        group = spec.get("channel_type") == "group"
        sender = spec.get("sender", "6d011n62ir097c0143cc42dc")
        sender_fullname = spec.get("sender_fullname", "Andrea Sponziello")
        recipient = spec.get("recipient", self.group_id if group else self.bot_id)
        attributes: dict[str, Any] = {"client": "fake", "lang": "en"}
        text = spec.get("text", "hello")
        if kind == "action":
            attributes["action"] = spec.get("action", "ACTION")
        elif kind == "echo":
            sender, sender_fullname = self.bot_id, "Bot"
            if not group:
                recipient = spec.get("recipient", "6d011n62ir097c0143cc42dc")
        elif kind == "info":
            sender, sender_fullname, text = "system", "System", "Chat closed"
            attributes = {"subtype": "info/support", "messagelabel": {"key": "CHAT_CLOSED"}}
        message_id = str(uuid.uuid4())
        now = int(time.time() * 1000)
        data = {
            "text": text,
            "type": "text",
            "sender": sender,
            "sender_fullname": sender_fullname,
            "recipient": recipient,
            "recipient_fullname": spec.get("recipient_fullname", "Support" if group else "Bot"),
            "channel_type": "group" if group else "direct",
            "attributes": attributes,
            "metadata": "",
            "message_id": message_id,
            "app_id": self.app_id,
            "timestamp": now,
            "status": 100,
        }
        # message-sent fires in the sender's inbox (direct) or on the group's timeline.
        body = {
            "event_type": spec.get("event_type", "message-sent"),
            "createdAt": now,
            "recipient_id": recipient,
            "app_id": self.app_id,
            "message_id": message_id,
            "data": data,
            "extras": {"topic": f"apps.{self.app_id}.users.{sender}.messages.{recipient}.clientadded"},
            "delivered_to": recipient if group else sender,
        }
        how = spec.get("signature", "none")
        headers = {}
        if how in ("jwt", "forged"):
            key = self.jwt_key if how == "jwt" else "forged-" + self.jwt_key
            headers["Authorization"] = self.token_for("01-OBSERVER", admin=True, key=key)
        return Webhook(orjson.dumps(body), headers)
