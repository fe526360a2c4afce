"""A fake Bot Framework for Microsoft Teams: the OpenID metadata and signing keys of
login.botframework.com, the Microsoft identity platform's client-credentials token endpoint,
and the Connector API v3 of a Teams `serviceUrl`, from Microsoft's public Bot Framework docs
(learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).

- `GET /v1/.well-known/openidconfiguration`: `{issuer: https://api.botframework.com, jwks_uri,
  id_token_signing_alg_values_supported: [RS256]}`; `GET /v1/.well-known/keys`: the RSA keys
  (`kid`, `n`, `e`, `endorsements: ["msteams"]`). `rotate_key()` signs with a new key from then
  on (the old one stays published, as Microsoft does).
- `POST /<tenant>/oauth2/v2.0/token` (form `grant_type=client_credentials`, `client_id`,
  `client_secret`, `scope=https://api.botframework.com/.default`; tenant `botframework.com` or
  the bot's tenant): `{token_type: Bearer, expires_in: 3599, access_token}`. A wrong secret:
  401 `invalid_client` AADSTS7000215; an unknown app: 400 `unauthorized_client` AADSTS700016;
  an unknown tenant: 400 `invalid_request` AADSTS90002; another scope: 400 `invalid_scope`.
- `POST /smba/v3/conversations/<id>/activities` (the `serviceUrl` the fake's activities carry):
  a token from the endpoint above (else 401 `Authorization has been denied for this request.`),
  a known conversation (else 404 `ConversationNotFound`), an activity of type `message` (text,
  or attachments: hero cards with buttons `openUrl` (a URL), `imBack` (a value), `messageBack`
  (text or value); images by `contentUrl`), `suggestedActions` of `imBack`, or `typing`. A bad
  one: 400 `BadArgument`. 201 `{"id"}`.

Webhooks (`build_webhook(spec)`): an activity with `Authorization: Bearer <JWT RS256>`
(`iss` https://api.botframework.com, `aud` the app id, `serviceurl`, `exp`). Spec keys: `kind`
(`text` default, `click` with `payload` and `text` (a messageBack), `added` (the bot added:
conversationUpdate), `image` with `url`), `text`, `user`, `conversation`, `tenant`,
`signature` (`none`, `forged` (another key, same kid), `unknown_kid`, `audience`, `expired`,
`service_url` (a claim for another serviceUrl)).
"""

from __future__ import annotations

import base64
import hmac
import itertools
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

ISSUER = "https://api.botframework.com"
SCOPE = "https://api.botframework.com/.default"
HERO = "application/vnd.microsoft.card.hero"
BUTTON_TYPES = {
    "openUrl",
    "imBack",
    "messageBack",
    "postBack",
    "call",
    "signin",
    "playAudio",
    "playVideo",
    "showImage",
    "downloadFile",
    "invoke",
}


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _new_key() -> tuple[str, rsa.RSAPrivateKey]:
    return f"fake-{uuid.uuid4().hex[:12]}", rsa.generate_private_key(public_exponent=65537, key_size=2048)


def aad_error(status: int, error: str, description: str) -> web.Response:
    """The Microsoft identity platform's error body."""
    return json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:].split(":")[0])],
        },
        status,
    )


def connector_error(status: int, code: str, message: str) -> web.Response:
    """The Bot Connector's error body."""
    return json_response({"error": {"code": code, "message": message}}, status)


class Invalid(Exception):
    """A 400 `BadArgument`."""


class TeamsFake(FakePlatform):
    """Bot Framework for Teams (see the module docstring)."""

    name = "teams"

    def __init__(
        self,
        *,
        app_id: str = "c9e8c047-2a74-40a2-b28a-b162d5f5327c",
        app_password: str = "teams~app~password~0123456789",
        tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47",
    ) -> None:
        self.app_id, self.app_password, self.tenant_id = app_id, app_password, tenant_id
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = [_new_key()]
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.key_requests = 0
        self.conversations: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        super().__init__()

    @property
    def bot_id(self) -> str:
        return f"28:{self.app_id}"

    @property
    def service_url(self) -> str:
        return f"{self.url or 'http://127.0.0.1:1'}/smba/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def rotate_key(self) -> None:
        """Sign with a new key from now on."""
        self.keys.append(_new_key())

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        router.add_get("/v1/.well-known/keys", self._keys)
        router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        router.add_post("/smba/v3/conversations/{conversation}/activities", self._activity)

    async def _metadata(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.key_requests += 1
        keys = []
        for kid, key in self.keys:
            numbers = key.public_key().public_numbers()
            keys.append(
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                    "endorsements": ["msteams"],
                }
            )
        return json_response({"keys": keys})

    async def _token(self, request: web.Request) -> web.Response:
        form = await read_fields(request) or {}
        tenant = request.match_info["tenant"]
        if tenant not in ("botframework.com", self.tenant_id):
            return aad_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return aad_error(
                400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
            )
        if form.get("client_id") != self.app_id:
            return aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found.",
            )
        if not hmac.compare_digest(str(form.get("client_secret", "")), self.app_password):
            return aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != SCOPE:
            return aad_error(
                400,
                "invalid_scope",
                f"AADSTS70011: The provided value for scope {form.get('scope')} is not valid.",
            )
        self.token_requests += 1
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    async def _activity(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            return json_response({"message": "Authorization has been denied for this request."}, 401)
        conversation = unquote(request.match_info["conversation"])
        if conversation not in self.conversations:
            return connector_error(404, "ConversationNotFound", "Conversation not found.")
        body = await read_fields(request) or {}
        try:
            _check(body)
        except Invalid as exc:
            return connector_error(400, "BadArgument", str(exc))
        self.sent.append(body)
        return json_response({"id": f"1:{next(self._ids)}"}, 201)

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """An activity as the Teams channel posts it, with its Bot Framework JWT."""
        kind = spec.get("kind", "text")
        user = str(spec.get("user", "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq"))
        conversation = str(
            spec.get("conversation", "a:17I0kl8EkpE1O9PH5TWrzrLNwnWWcfrU7QZjKR0WSfOpzbfcAg2Iayd")
        )
        tenant = str(spec.get("tenant", self.tenant_id))
        self.conversations.add(conversation)
        activity: dict[str, Any] = {
            "type": "message",
            "id": f"{int(time.time() * 1000)}{next(self._ids)}",
            "timestamp": datetime.now(UTC).isoformat(),
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {"id": user, "name": "Megan Bowen", "aadObjectId": str(uuid.uuid4())},
            "conversation": {"conversationType": "personal", "tenantId": tenant, "id": conversation},
            "recipient": {"id": self.bot_id, "name": "Support desk"},
            "channelData": {"tenant": {"id": tenant}},
            "locale": "en-US",
        }
        if kind == "added":
            activity.update(type="conversationUpdate", membersAdded=[{"id": self.bot_id}, {"id": user}])
        elif kind == "click":
            activity.update(text=spec.get("text", spec["payload"]), value={"payload": spec["payload"]})
        elif kind == "image":
            activity.update(
                text="",
                attachments=[{"contentType": "image/png", "contentUrl": spec["url"], "name": "photo.png"}],
            )
        else:
            activity.update(text=spec.get("text", "hello"), textFormat="plain")
        body = orjson.dumps(activity)
        mode = spec.get("signature")
        headers = {}
        if mode != "none":
            now = int(time.time())
            claims = {
                "serviceurl": "https://smba.trafficmanager.net/emea/"
                if mode == "service_url"
                else self.service_url,
                "nbf": now - 60,
                "exp": now - 600 if mode == "expired" else now + 3600,
                "iss": ISSUER,
                "aud": "another-app-id" if mode == "audience" else self.app_id,
            }
            kid, key = self.keys[-1]
            if mode == "forged":
                key = _new_key()[1]
            elif mode == "unknown_kid":
                kid, key = _new_key()
            token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
            headers["Authorization"] = f"Bearer {token}"
        return Webhook(body, headers)


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES or not button.get("title"):
        raise Invalid("A card action needs a known type and a title")
    kind = button["type"]
    if kind == "openUrl" and not str(button.get("value", "")).startswith(
        ("http://", "https://", "tel:", "mailto:")
    ):
        raise Invalid("openUrl value must be a URL")
    if kind == "imBack" and not button.get("value"):
        raise Invalid("imBack needs a value")
    if kind == "messageBack" and not (button.get("text") or button.get("value")):
        raise Invalid("messageBack needs text or value")


def _check(activity: dict[str, Any]) -> None:
    kind = activity.get("type")
    if kind == "typing":
        return
    if kind != "message":
        raise Invalid("Activity type must be message or typing")
    attachments = activity.get("attachments") or []
    if not activity.get("text") and not attachments:
        raise Invalid("Activity must have text or attachments")
    if activity.get("attachmentLayout", "list") not in ("list", "carousel"):
        raise Invalid("attachmentLayout must be list or carousel")
    if len(attachments) > 10:
        raise Invalid("At most 10 attachments")
    for attachment in attachments:
        content_type = attachment.get("contentType", "")
        if content_type == HERO:
            content = attachment.get("content") or {}
            if not any(content.get(k) for k in ("title", "subtitle", "text", "images", "buttons")):
                raise Invalid("A hero card needs content")
            for button in content.get("buttons") or []:
                _check_button(button)
        elif "/" in content_type and not content_type.startswith("application/vnd.microsoft"):
            if not str(attachment.get("contentUrl", "")).startswith(("http://", "https://")):
                raise Invalid("A media attachment needs a contentUrl")
        else:
            raise Invalid(f"Unknown attachment contentType {content_type}")
    for action in (activity.get("suggestedActions") or {}).get("actions") or []:
        if action.get("type") != "imBack":
            raise Invalid("Teams shows only imBack suggested actions")
        _check_button(action)
