"""A fake Tiledesk: the external bot protocol, resthook subscriptions and request routes.

Follows the Tiledesk REST API docs:
- Auth: `Authorization: JWT <token>` (scheme case-insensitive; `Bearer` refused) or
  `?secret_token=`; the key is chosen by `aud` (`…/bots/<id>`: that bot's secret,
  `…/subscriptions/<id>`: that subscription's, else the global secret) and `sub: bot` must name
  a known bot by `_id`. Failures: 401 plain-text `Unauthorized`; another project: 403
  `{"success":false,"msg":"you dont belong to the project."}`.
- `POST /{project}/requests/{request_id}/messages`: a new request needs `text` for type
  text (422 `{"errors":["text field is required"]}`); the answer is the saved message with its
  populated request, `sender` = `<botId>` for a bot token, `status: 0`. A text containing
  `\\agent` routes the request to an agent (the bot leaves), as the server's message actions do.
- `PUT …/agent` (route to an agent), `PUT …/close`, `POST …/participants {member}` (422 when
  empty), 404 `{"success":false,"msg":"Object not found."}` for unknown requests.
- `GET /{project}/bots/{bot_id}`: the bot without its secret (a cheap authenticated call).

Webhooks (`build_webhook(spec)`): `via` `bot` (default: the external bot notification
`{timestamp, payload, hook: <bot without secret>, token}`, `token` an HS256 JWT over the bot
document signed with the bot secret, `sub: bot`, `aud: https://tiledesk.com/bots/<id>`, no exp)
or `resthook` (`hook` = the subscription, `token` signed with its secret, header `x-hook-secret`).
`signature`: `valid` (default), `forged` (wrong key / wrong header), `none` (no token / header).
`kind`: `text` (default), `action` (`attributes.action`), `hidden_action` (text " ", subtype
info), `start` (the widget's hidden `\\start`), `echo` (the bot's own message), `agent_text`,
`image`, `member_joined`/`member_left` (info/support with `messagelabel`, member `member`),
`chat_closed`, `request_close` (the `request.close` event). Other keys: `request_id`, `user`,
`text`, `action`, `member`.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import jwt
import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields, text_response

AUD_PREFIX = "https://tiledesk.com/"


class TiledeskFake(FakePlatform):
    """Tiledesk (see the module docstring)."""

    name = "tiledesk"

    def __init__(
        self,
        *,
        project_id: str = "64690469599137001a6dc6f5",
        bot_id: str = "65ab00000000000000000001",
        bot_secret: str = "tiledesk-bot-secret-0123456789abcdef",
        bot_name: str = "FakeBot",
        subscription_id: str = "65ac00000000000000000002",
        subscription_secret: str = "tiledesk-subscription-secret-012345",
        global_secret: str = "tiledesk-global-secret-0123456789abc",
    ) -> None:
        self.project_id = project_id
        self.bot_id = bot_id
        self.bot_secret = bot_secret
        self.bot_name = bot_name
        self.subscription_id = subscription_id
        self.subscription_secret = subscription_secret
        self.global_secret = global_secret
        self.agent_id = "65ad00000000000000000003"
        self.conversations: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Request, message and bot routes."""
        base = "/{project_id}/requests/{request_id}"
        router.add_post(f"{base}/messages", self._post_message)
        router.add_put(f"{base}/agent", self._route_to_agent)
        router.add_put(f"{base}/close", self._close)
        router.add_post(f"{base}/participants", self._add_participant)
        router.add_get("/{project_id}/bots/{bot_id}", self._get_bot)

    def bot_document(self) -> dict[str, Any]:
        """The faq_kb as the server serialises it (no secret)."""
        return {
            "_id": self.bot_id,
            "name": self.bot_name,
            "url": "https://bot.fake/tiledesk",
            "type": "external",
            "id_project": self.project_id,
            "language": "en",
            "trashed": False,
            "createdBy": self.agent_id,
        }

    def add_request(
        self, request_id: str, lead: str = "7d3f6c1e-8b1a-4c1e-9a55-2d1f0e3b6a11"
    ) -> dict[str, Any]:
        """A support request with the bot as participant."""
        return self.conversations.setdefault(
            request_id,
            {
                "request_id": request_id,
                "id_project": self.project_id,
                "status": 200,
                "participants": [f"bot_{self.bot_id}"],
                "participantsBots": [self.bot_id],
                "participantsAgents": [],
                "hasBot": True,
                "messages": [],
                "lead": {
                    "_id": f"lead-{lead}",
                    "lead_id": lead,
                    "fullname": "guest#7d3f",
                    "email": None,
                    "attributes": {},
                },
                "requester": {"uuid_user": lead, "role": "guest"},
            },
        )

    # ------------------------------------------------------------ auth

    def _authenticate(self, request: web.Request) -> dict[str, Any] | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if header and scheme.lower() != "jwt":
            return text_response("Unauthorized", 401)
        token = token.strip() or request.query.get("secret_token", "")
        if not token:
            return text_response("Unauthorized", 401)
        try:
            audience = jwt.decode(token, options={"verify_signature": False}).get("aud", "")
            key = self._key_for(str(audience))
            claims = jwt.decode(token, key, algorithms=["HS256"], options={"verify_aud": False})
        except (jwt.InvalidTokenError, KeyError):
            return text_response("Unauthorized", 401)
        if claims.get("sub") == "bot" and claims.get("_id") != self.bot_id:
            return text_response("Unauthorized", 401)
        if request.match_info["project_id"] != self.project_id:
            return json_response({"success": False, "msg": "you dont belong to the project."}, 403)
        return claims

    def _key_for(self, audience: str) -> str:
        kind, _, ident = audience.removeprefix(AUD_PREFIX).partition("/")
        if kind == "bots":
            if ident != self.bot_id:
                raise KeyError(ident)
            return self.bot_secret
        if kind == "subscriptions":
            if ident != self.subscription_id:
                raise KeyError(ident)
            return self.subscription_secret
        return self.global_secret

    def _conversation(self, request: web.Request) -> dict[str, Any] | web.Response:
        found = self.conversations.get(request.match_info["request_id"])
        if found is None:
            return json_response({"success": False, "msg": "Object not found."}, 404)
        return found

    # ------------------------------------------------------------ routes

    async def _post_message(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        body = await read_fields(request)
        if body is None:
            return text_response("Bad Request", 400)
        request_id = request.match_info["request_id"]
        kind = body.get("type") or "text"
        conversation = self.conversations.get(request_id)
        if conversation is None:
            if kind == "text" and not body.get("text"):
                return json_response({"errors": ["text field is required"]}, 422)
            conversation = self.add_request(request_id)
        sender = body.get("sender") or principal.get("_id")
        message = {
            "_id": f"{next(self._ids):024x}",
            "sender": sender,
            "senderFullname": body.get("senderFullname") or principal.get("name", ""),
            "recipient": request_id,
            "type": kind,
            "channel_type": "group",
            "text": body.get("text", ""),
            "attributes": body.get("attributes"),
            "metadata": body.get("metadata"),
            "channel": {"name": "chat21"},
            "status": 0,
            "id_project": self.project_id,
            "createdBy": sender,
        }
        conversation["messages"].append(message)
        if "\\agent" in str(message["text"]):
            self._route(conversation)
        return json_response({**message, "request": self._public(conversation)})

    async def _route_to_agent(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        conversation = self._conversation(request)
        if isinstance(conversation, web.Response):
            return conversation
        self._route(conversation)
        return json_response(self._public(conversation))

    async def _close(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        conversation = self._conversation(request)
        if isinstance(conversation, web.Response):
            return conversation
        conversation["status"] = 1000
        return json_response(self._public(conversation))

    async def _add_participant(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        body = await read_fields(request) or {}
        member = body.get("member")
        if not member:
            return json_response(
                {"errors": [{"msg": "Invalid value", "param": "member", "location": "body"}]}, 422
            )
        conversation = self._conversation(request)
        if isinstance(conversation, web.Response):
            return conversation
        if member not in conversation["participants"]:
            conversation["participants"].append(member)
        if member.startswith("bot_"):
            conversation["hasBot"] = True
        return json_response(self._public(conversation))

    async def _get_bot(self, request: web.Request) -> web.Response:
        principal = self._authenticate(request)
        if isinstance(principal, web.Response):
            return principal
        if request.match_info["bot_id"] != self.bot_id:
            return json_response({"success": False, "msg": "Object not found."}, 404)
        return json_response(self.bot_document())

    def _route(self, conversation: dict[str, Any]) -> None:
        conversation["participants"] = [self.agent_id]
        conversation["participantsAgents"] = [self.agent_id]
        conversation["participantsBots"] = []
        conversation["hasBot"] = False

    @staticmethod
    def _public(conversation: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in conversation.items() if k != "messages"}

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A webhook as Tiledesk sends it; see the module docstring for `spec`."""
        via = spec.get("via", "bot")
        how = spec.get("signature", "valid")
        request_id = spec.get(
            "request_id", f"support-group-{self.project_id}-2c3d4e5f60718293a4b5c6d7e8f90a1b"
        )
        conversation = self.add_request(request_id, spec.get("user", "7d3f6c1e-8b1a-4c1e-9a55-2d1f0e3b6a11"))
        if spec.get("kind") == "request_close":
            via, event, payload = (
                "resthook",
                "request.close",
                {**self._public(conversation), "status": 1000, "closed_by": self.agent_id},
            )
        else:
            event, payload = "message.create", self._message(spec, conversation)
        if via == "resthook":
            hook = {
                "_id": self.subscription_id,
                "event": event,
                "target": "https://bot.fake",
                "id_project": self.project_id,
                "createdBy": self.agent_id,
            }
            key, aud, sub = self.subscription_secret, f"subscriptions/{self.subscription_id}", "subscription"
        else:
            hook = self.bot_document()
            key, aud, sub = self.bot_secret, f"bots/{self.bot_id}", "bot"
        body: dict[str, Any] = {"timestamp": int(time.time() * 1000), "payload": payload, "hook": hook}
        if how != "none":
            signing_key = key if how == "valid" else "forged-" + key
            claims = {
                **hook,
                "iss": "https://tiledesk.com",
                "sub": sub,
                "aud": AUD_PREFIX + aud,
                "jti": str(uuid.uuid4()),
                "iat": int(time.time()),
            }
            body["token"] = jwt.encode(claims, signing_key, algorithm="HS256")
        headers: dict[str, str] = {
            "User-Agent": "tiledesk-bot" if via == "bot" else "tiledesk-webhooks",
            "Origin": "http://localhost:3000",
        }
        if via == "resthook" and how != "none":
            headers["x-hook-secret"] = self.subscription_secret if how == "valid" else "forged-secret"
        return Webhook(orjson.dumps(body), headers)

    def _message(self, spec: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind", "text")
        lead = conversation["lead"]["lead_id"]
        sender, name = lead, conversation["lead"]["fullname"]
        text = spec.get("text", "hello")
        attributes: dict[str, Any] = {"userFullname": name, "projectId": self.project_id}
        message_type, metadata = "text", None
        if kind == "action":
            attributes["action"] = spec.get("action", "ACTION")
            text = spec.get("text", "Talk to agent")
        elif kind == "hidden_action":
            attributes.update(action=spec.get("action", "ACTION"), subtype="info")
            text = " "
        elif kind == "start":
            text, attributes["subtype"] = "\\start", "info"
        elif kind == "echo":
            sender, name = self.bot_id, self.bot_name
        elif kind == "agent_text":
            sender, name = self.agent_id, "Agent One"
            conversation["participantsAgents"] = [self.agent_id]
        elif kind == "image":
            message_type = "image"
            metadata = {"src": spec.get("url", "https://files.fake/pic.png"), "width": 200, "height": 200}
        elif kind in ("member_joined", "member_left", "chat_closed"):
            sender, name = "system", "System"
            key = {
                "member_joined": "MEMBER_JOINED_GROUP",
                "member_left": "MEMBER_LEFT_GROUP",
                "chat_closed": "CHAT_CLOSED",
            }[kind]
            label: dict[str, Any] = {"key": key}
            if kind != "chat_closed":
                label["parameters"] = {
                    "member_id": spec.get("member", self.agent_id),
                    "fullname": "Agent One",
                }
            attributes = {"subtype": "info/support", "updateconversation": True, "messagelabel": label}
        return {
            "_id": f"{next(self._ids):024x}",
            "sender": sender,
            "senderFullname": name,
            "recipient": conversation["request_id"],
            "type": message_type,
            "channel_type": "group",
            "text": text,
            "status": 200,
            "id_project": self.project_id,
            "createdBy": sender,
            "channel": {"name": "chat21"},
            "attributes": attributes,
            "metadata": metadata,
            "__v": 0,
            "request": {
                **self._public(conversation),
                "first_text": "hello",
                "department": {
                    "_id": "dep",
                    "name": "Default Department",
                    "default": True,
                    "id_bot": self.bot_id,
                },
                "channel": {"name": "chat21"},
                "language": "en",
            },
        }
