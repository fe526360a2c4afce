"""A fake Qiscus: the Chat SDK server API and the Multichannel (Omnichannel) bot integration.

Follows the Qiscus Chat SDK server API and Multichannel bot integration docs:
- SDK auth: the secret as `QISCUS-SDK-SECRET` or `QISCUS_SDK_SECRET`, the app id as
  `QISCUS-SDK-APP-ID` or `QISCUS_SDK_APP_ID` (both spellings accepted); wrong or missing: 401.
- `POST /api/v2.1/rest/post_comment` (`user_id`) and the v2 `/api/v2/rest/post_comment`
  (`sender_email`): `room_id` must be a string, `message` ≤ 4000 chars, `type` one of
  the predefined types (not `system_event`), and each rich type's payload is validated as the
  docs describe (buttons, card, carousel, account_linking, reply, location, contact_person,
  file_attachment, custom, button_postback_response). Unknown user or room: 404. Errors:
  `{"error": {"message", "detailed_messages"}, "status"}`. Answer: the v2.1 comment.
- `GET /api/v2.1/rest/user_profile?user_id=` (a cheap authenticated call).
- Multichannel: `POST /{app_code}/bot` with `QISCUS_SDK_SECRET` or the
  `Qiscus-App-Id`/`Qiscus-Secret-Key` pair, as `sender_email`; files also as top-level
  `attachment_url`/`caption`. Admin calls with `Qiscus-App-Id`/`Qiscus-Secret-Key` (form or
  JSON): `/bot/{room}/activate`, `/api/v1/admin/service/{assign_agent, allocate_assign_agent,
  mark_as_resolved}`, `GET /api/v2/admin/agents`. Answers `{"data": …, "status": 200}`
  [assumed: undocumented].

Webhooks (`build_webhook(spec)`), spec keys: `kind` (`text` default, `postback`, `file`,
`location`, `resolved`, `agent_added`/`agent_removed`: a `system_event` comment by the system
user adding/removing `agent` (default the first agent) to the room), `mode` (`sdk` default:
the SDK envelope, signed with
`QISCUS-SDK-SIGNATURE` = hex HMAC-SHA256(signature token, raw body); `multichannel`: the
wrapped bot-webhook envelope with `room.options` as a JSON string, ids as strings, id 0 and a
`unique_temp_id`, unsigned as documented), `room_id`, `user`, `name`, `text`, `payload`
(postback value), `url`, `from_bot` (an echo of the bot's own comment, `post_comment_rest`),
`signature` (`valid` default, `forged`, `none`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

COMMENT_TYPES = {
    "text",
    "account_linking",
    "button_postback_response",
    "buttons",
    "card",
    "carousel",
    "contact_person",
    "custom",
    "file_attachment",
    "location",
    "reply",
}


def qiscus_error(status: int, message: str, *details: str) -> web.Response:
    """The error body Qiscus clients parse."""
    return json_response(
        {"error": {"message": message, "detailed_messages": list(details) or [message]}, "status": status},
        status,
    )


def _buttons_error(buttons: Any, where: str) -> str | None:
    if not isinstance(buttons, list):
        return f"{where}.buttons must be an array"
    for i, button in enumerate(buttons):
        if not isinstance(button, dict) or not isinstance(button.get("label"), str):
            return f"{where}.buttons[{i}].label is required"
        if button.get("type") not in ("postback", "link"):
            return f"{where}.buttons[{i}].type must be postback or link"
        inner = button.get("payload")
        if not isinstance(inner, dict):
            return f"{where}.buttons[{i}].payload must be an object"
        if button["type"] == "link" and not inner.get("url"):
            return f"{where}.buttons[{i}].payload.url is required for link buttons"
    return None


def payload_error(kind: str, payload: Any) -> str | None:
    """Why `payload` is not a valid payload of comment type `kind`, or None."""
    if kind == "text":
        return None
    if not isinstance(payload, dict):
        return f"payload is required for type {kind}"
    if kind == "buttons":
        return _buttons_error(payload.get("buttons"), "payload")
    if kind == "card":
        if not payload.get("title"):
            return "payload.title is required"
        return _buttons_error(payload.get("buttons", []), "payload")
    if kind == "carousel":
        cards = payload.get("cards")
        if not isinstance(cards, list) or not cards:
            return "payload.cards must be a non-empty array"
        for i, card in enumerate(cards):
            if not isinstance(card, dict) or not card.get("title"):
                return f"payload.cards[{i}].title is required"
            error = _buttons_error(card.get("buttons", []), f"payload.cards[{i}]")
            if error:
                return error
        return None
    if kind == "account_linking":
        return None if payload.get("url") else "payload.url is required"
    if kind == "reply":
        return None if payload.get("replied_comment_id") else "payload.replied_comment_id is required"
    if kind == "location":
        ok = all(isinstance(payload.get(k), int | float) for k in ("latitude", "longitude"))
        return None if ok else "payload.latitude and payload.longitude must be numbers"
    if kind == "contact_person":
        return (
            None
            if payload.get("name") and payload.get("value")
            else "payload.name and payload.value are required"
        )
    if kind == "file_attachment":
        return None if payload.get("url") else "payload.url is required"
    if kind == "custom":
        return (
            None
            if isinstance(payload.get("type"), str) and "content" in payload
            else "payload.type and payload.content are required"
        )
    return None  # button_postback_response: any object


class QiscusFake(FakePlatform):
    """Qiscus SDK + Multichannel (see the module docstring)."""

    name = "qiscus"

    def __init__(
        self,
        *,
        app_id: str = "fake-app",
        secret_key: str = "qiscus-secret-key-0123456789abcdef",
        signature_token: str = "qiscus-signature-token-0123456789ab",
        bot_user_id: str = "bot@fake.qiscus",
        sender_email: str | None = None,
    ) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.signature_token = signature_token
        self.bot_user_id = bot_user_id
        self.sender_email = sender_email or f"{app_id}_admin@qismo.com"
        self.users: dict[str, dict[str, Any]] = {bot_user_id: {"id": 1, "username": "Bot", "avatar_url": ""}}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.agents = [{"id": 101, "name": "Agent One", "email": "agent1@fake.qiscus"}]
        self._ids = itertools.count(1000)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """SDK REST, Multichannel bot and admin endpoints."""
        router.add_post("/api/v2.1/rest/post_comment", self._post_comment)
        router.add_post("/api/v2/rest/post_comment", self._post_comment)
        router.add_get("/api/v2.1/rest/user_profile", self._user_profile)
        router.add_post("/{app_code}/bot", self._bot_post)
        router.add_post("/bot/{room_id}/activate", self._activate)
        router.add_post("/api/v1/admin/service/assign_agent", self._assign_agent)
        router.add_post("/api/v1/admin/service/allocate_assign_agent", self._allocate)
        router.add_post("/api/v1/admin/service/mark_as_resolved", self._resolve)
        router.add_get("/api/v2/admin/agents", self._agents)

    def add_room(
        self, room_id: str, customer: str = "customer@fake", name: str = "Customer"
    ) -> dict[str, Any]:
        """A room with a customer, the bot active."""
        room = self.rooms.setdefault(
            room_id,
            {
                "id": room_id,
                "customer": customer,
                "customer_name": name,
                "bot_active": True,
                "agent": None,
                "resolved": False,
            },
        )
        self.users.setdefault(customer, {"id": len(self.users) + 1, "username": name, "avatar_url": ""})
        return room

    # ------------------------------------------------------------ auth

    def _sdk_auth(self, request: web.Request, *, need_app_id: bool) -> web.Response | None:
        headers = request.headers
        secret = headers.get("QISCUS-SDK-SECRET") or headers.get("QISCUS_SDK_SECRET")
        app_id = headers.get("QISCUS-SDK-APP-ID") or headers.get("QISCUS_SDK_APP_ID")
        if not secret or not hmac.compare_digest(secret, self.secret_key):
            return qiscus_error(401, "Unauthorized", "invalid or missing QISCUS-SDK-SECRET")
        if (need_app_id or app_id is not None) and app_id != self.app_id:
            return qiscus_error(401, "Unauthorized", "invalid or missing QISCUS-SDK-APP-ID")
        return None

    def _admin_auth(self, request: web.Request, *, allow_sdk_secret: bool = False) -> web.Response | None:
        headers = request.headers
        if allow_sdk_secret and hmac.compare_digest(headers.get("QISCUS_SDK_SECRET", ""), self.secret_key):
            return None
        if headers.get("Qiscus-App-Id") != self.app_id or not hmac.compare_digest(
            headers.get("Qiscus-Secret-Key", ""), self.secret_key
        ):
            return qiscus_error(401, "Unauthorized", "invalid Qiscus-App-Id or Qiscus-Secret-Key")
        return None

    # ------------------------------------------------------------ SDK

    async def _post_comment(self, request: web.Request) -> web.Response:
        denied = self._sdk_auth(request, need_app_id="/v2.1/" in request.path)
        if denied:
            return denied
        body = await read_fields(request)
        if body is None:
            return qiscus_error(400, "Bad Request", "body must be a JSON object")
        user_key = "user_id" if "/v2.1/" in request.path else "sender_email"
        user = body.get(user_key)
        error = self._comment_error(body, user, user_key)
        if error:
            return error
        if user not in self.users:
            return qiscus_error(404, "Not Found", f"user {user} not found")
        comment = self._store(body, user)
        return json_response({"results": {"comment": comment}, "status": 200})

    def _comment_error(self, body: dict[str, Any], user: Any, user_key: str) -> web.Response | None:
        if not isinstance(user, str) or not user:
            return qiscus_error(400, "Bad Request", f"{user_key} is required")
        room_id = body.get("room_id")
        if not isinstance(room_id, str) or not room_id:
            return qiscus_error(400, "Bad Request", "room_id is required and must be a string")
        message = body.get("message")
        if not isinstance(message, str) or not message:
            return qiscus_error(400, "Bad Request", "message is required")
        if len(message) > 4000:
            return qiscus_error(400, "Bad Request", "message must be at most 4000 characters")
        kind = body.get("type") or "text"
        if kind not in COMMENT_TYPES:
            return qiscus_error(400, "Bad Request", f"type {kind} is not allowed")
        problem = payload_error(kind, body.get("payload"))
        if problem:
            return qiscus_error(400, "Bad Request", problem)
        if room_id not in self.rooms:
            return qiscus_error(404, "Not Found", f"room {room_id} not found")
        return None

    def _store(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        comment = {
            "id": next(self._ids),
            "message": body["message"],
            "type": body.get("type") or "text",
            "payload": body.get("payload"),
            "extras": body.get("extras") or {},
            "timestamp": now,
            "room_id": body["room_id"],
            "user": {
                "user_id": user,
                "username": self.users.get(user, {}).get("username", user),
                "avatar_url": "",
                "active": True,
                "extras": {},
            },
        }
        self.comments.append(comment)
        return comment

    async def _user_profile(self, request: web.Request) -> web.Response:
        denied = self._sdk_auth(request, need_app_id=True)
        if denied:
            return denied
        user_id = request.query.get("user_id", "")
        if user_id not in self.users:
            return qiscus_error(404, "Not Found", f"user {user_id} not found")
        user = self.users[user_id]
        return json_response({"results": {"user": {"email": user_id, **user}}, "status": 200})

    # ------------------------------------------------------------ Multichannel

    async def _bot_post(self, request: web.Request) -> web.Response:
        if request.match_info["app_code"] != self.app_id:
            return qiscus_error(404, "Not Found", "unknown app code")
        denied = self._admin_auth(request, allow_sdk_secret=True)
        if denied:
            return denied
        body = await read_fields(request)
        if body is None:
            return qiscus_error(400, "Bad Request", "body must be a JSON object")
        if body.get("type") == "file_attachment" and body.get("attachment_url"):
            body = {**body, "payload": {"url": body["attachment_url"], "caption": body.get("caption", "")}}
        if body.get("sender_email") != self.sender_email:
            return qiscus_error(400, "Bad Request", "sender_email is not the bot of this app")
        error = self._comment_error(body, body.get("sender_email"), "sender_email")
        if error:
            return error
        comment = self._store(body, self.sender_email)
        return json_response({"data": {"comment": comment}, "status": 200})

    async def _admin_fields(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, Any]] | web.Response:
        denied = self._admin_auth(request)
        if denied:
            return denied
        fields = await read_fields(request)
        if fields is None:
            return qiscus_error(400, "Bad Request", "unreadable body")
        room_id = str(request.match_info.get("room_id") or fields.get("room_id") or "")
        if not room_id:
            return qiscus_error(400, "Bad Request", "room_id is required")
        if room_id not in self.rooms:
            return qiscus_error(404, "Not Found", f"room {room_id} not found")
        return fields, self.rooms[room_id]

    async def _activate(self, request: web.Request) -> web.Response:
        found = await self._admin_fields(request)
        if isinstance(found, web.Response):
            return found
        fields, room = found
        value = fields.get("is_active")
        if isinstance(value, str):
            value = {"true": True, "false": False}.get(value.lower())
        if not isinstance(value, bool):
            return qiscus_error(400, "Bad Request", "is_active must be true or false")
        room["bot_active"] = value
        return json_response({"data": {"room_id": room["id"], "is_active": value}, "status": 200})

    async def _assign_agent(self, request: web.Request) -> web.Response:
        found = await self._admin_fields(request)
        if isinstance(found, web.Response):
            return found
        fields, room = found
        agent = next((a for a in self.agents if str(a["id"]) == str(fields.get("agent_id"))), None)
        if agent is None:
            return qiscus_error(400, "Bad Request", "agent_id is not an agent of this app")
        room["agent"] = agent
        return json_response(
            {"data": {"added_agent": agent, "service": {"room_id": room["id"]}}, "status": 200}
        )

    async def _allocate(self, request: web.Request) -> web.Response:
        found = await self._admin_fields(request)
        if isinstance(found, web.Response):
            return found
        _, room = found
        room["agent"] = self.agents[0]
        return json_response({"data": {"agent": self.agents[0]}, "status": 200})

    async def _resolve(self, request: web.Request) -> web.Response:
        found = await self._admin_fields(request)
        if isinstance(found, web.Response):
            return found
        _, room = found
        room["resolved"] = True
        return json_response(
            {"data": {"service": {"room_id": room["id"], "is_resolved": True}}, "status": 200}
        )

    async def _agents(self, request: web.Request) -> web.Response:
        denied = self._admin_auth(request)
        if denied:
            return denied
        limit = int(request.query.get("limit", "20"))
        return json_response({"data": {"agents": self.agents[:limit]}, "status": 200})

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A signed (or forged/unsigned) webhook; see the module docstring for `spec`."""
        mode = spec.get("mode", "sdk")
        room_id = str(spec.get("room_id", "1"))
        user = spec.get("user", "customer@fake")
        name = spec.get("name", "Customer")
        room = self.add_room(room_id, user, name)
        if spec.get("kind") == "resolved":
            body: dict[str, Any] = {
                "customer": {
                    "user_id": room["customer"],
                    "name": room["customer_name"],
                    "avatar": "",
                    "additional_info": [],
                },
                "resolved_by": {
                    "email": self.agents[0]["email"],
                    "name": self.agents[0]["name"],
                    "type": "agent",
                },
                "service": {
                    "id": next(self._ids),
                    "room_id": room_id,
                    "is_resolved": True,
                    "notes": spec.get("notes", ""),
                    "source": "wa",
                },
            }
            return Webhook(orjson.dumps(body))
        from_bot = bool(spec.get("from_bot"))
        sender = (self.bot_user_id if mode == "sdk" else self.sender_email) if from_bot else user
        if spec.get("kind") in ("agent_added", "agent_removed"):
            sender, name = "system@qismo.com", "System"
        message = self._message(spec, mode)
        event_type = "post_comment_rest" if from_bot else "post_comment_mobile"
        inner = {
            "from": self._sender(sender, name if not from_bot else "Bot", mode),
            "room": self._room(room, mode),
            "message": message,
        }
        if mode == "multichannel":
            body = {
                "app_code": self.app_id,
                "channel": {"id": 963, "name": "Qiscus Cloud Group", "source": "wa"},
                "type": event_type,
                "payload": {"type": event_type, **inner},
            }
            return Webhook(orjson.dumps(body))
        raw = orjson.dumps({"type": event_type, "payload": inner})
        return Webhook(raw, self._signature(raw, spec.get("signature", "valid")))

    def _signature(self, raw: bytes, how: str) -> dict[str, str]:
        if how == "none":
            return {}
        key = self.signature_token if how == "valid" else "forged-" + self.signature_token
        digest = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
        return {"QISCUS-SDK-SIGNATURE": digest}

    def _message(self, spec: dict[str, Any], mode: str) -> dict[str, Any]:
        kind = spec.get("kind", "text")
        text = spec.get("text", "hello")
        payload: Any = {}
        if kind == "postback":
            comment_type = "button_postback_response"
            payload = {"url": "", "method": "get", "payload": spec.get("payload", "PAYLOAD")}
        elif kind == "file":
            comment_type = "file_attachment"
            url = spec.get("url", "https://files.fake/photo.jpg")
            payload = {"url": url, "caption": spec.get("caption", ""), "file_name": "photo.jpg"}
            text = f"[file] {url} [/file]"
        elif kind in ("agent_added", "agent_removed"):
            comment_type = "system_event"
            agent = spec.get("agent", self.agents[0]["email"])
            verb = "add_member" if kind == "agent_added" else "remove_member"
            payload = {
                "type": verb,
                "subject_email": "system@qismo.com",
                "subject_username": "System",
                "object_email": agent,
                "object_username": "Agent One",
            }
            text = f"System {'added' if kind == 'agent_added' else 'removed'} Agent One"
        elif kind == "location":
            comment_type = "location"
            payload = {
                "name": "Office",
                "address": "Jl. Test 1",
                "latitude": -6.2,
                "longitude": 106.8,
                "map_url": "https://maps.google.com/?q=-6.2,106.8",
            }
        else:
            comment_type = "text"
        number = next(self._ids)
        now = int(time.time())
        message = {
            "id": number,
            "id_str": str(number),
            "comment_before_id": number - 1,
            "type": comment_type,
            "text": text,
            "payload": payload,
            "extras": None,
            "unique_temp_id": f"fake-{number}",
            "unix_timestamp": now,
            "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if mode == "multichannel":
            message.update(id=0, id_str="0", unique_temp_id=f"wa_wamid.{number}")
        return message

    def _sender(self, user: str, name: str, mode: str) -> dict[str, Any]:
        number = self.users.get(user, {}).get("id", 0)
        if mode == "multichannel":
            return {"id": 0, "id_str": "0", "email": user, "name": name, "avatar_url": ""}
        return {"id": number, "id_str": str(number), "email": user, "name": name, "avatar_url": ""}

    def _room(self, room: dict[str, Any], mode: str) -> dict[str, Any]:
        participants = [{"email": room["customer"]}, {"email": self.bot_user_id}]
        if mode == "multichannel":
            options = {"channel": "wa", "source": "wa", "is_resolved": room["resolved"], "is_waiting": False}
            return {
                "id": room["id"],
                "id_str": room["id"],
                "topic_id": room["id"],
                "topic_id_str": room["id"],
                "type": "group",
                "name": room["customer_name"],
                "is_public_channel": False,
                "options": orjson.dumps(options).decode(),
                "participants": participants,
            }
        number = int(room["id"]) if room["id"].isdigit() else room["id"]
        return {
            "id": number,
            "id_str": room["id"],
            "topic_id": number,
            "type": "group",
            "name": room["customer_name"],
            "is_public_channel": False,
            "options": "{}",
            "participants": participants,
        }
